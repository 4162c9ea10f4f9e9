"""How much of a clip's own label map survives the semantic tokenizer: the ceiling of the semantic
step's control (issue 20).

The semantic step is judged by `semantic_label_accuracy` of its decoded output against the clip's
map, beside the same model given another clip's conditions. Even a perfect LM emits the codes the
tokenizer gives a map, so the largest difference that control can show is the tokenizer's round
trip of the clip's own map against the round trip of another clip's map (both scored against the
clip's map). This measures that on held-out clips (whole 1-s clips at 128 x 128, or their first
`--frames`; the next clip as the control, 95% bootstrap interval), for a trained tokenizer folder, or first trains one with
config overrides (`--train STEPS --set loss.adv_weight=0 ...` on the semantic_tiny config, as the
recipe's stage trains it) to compare training settings at equal steps.

    .venv/bin/python benchmarks/semantic_ceiling.py --tokenizer cpu-reference --heldout runs/sem2k --skip 1024
    .venv/bin/python benchmarks/semantic_ceiling.py --train 300 --set loss.adv_weight=0 --data runs/sem2k \\
        --clips 512 --heldout runs/sem2k --skip 1024 --out runs/semtok-noadv
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import attrs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditioning_probe import first_frames  # noqa: E402


def override(config, assignments: list[str]):
    """`config` with each ``section.field=value`` set (values parsed as JSON, else kept as text)."""
    for item in assignments:
        key, _, text = item.partition("=")
        section, _, field = key.partition(".")
        if not field or not hasattr(config, section) or not hasattr(getattr(config, section), field):
            raise SystemExit(f"--set {item}: expected section.field=value with a field of the tokenizer config")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if isinstance(value, list):
            value = tuple(value)
        config = attrs.evolve(config, **{section: attrs.evolve(getattr(config, section), **{field: value})})
    return config


def ceiling(tokenizer, clips, metric) -> dict:
    """Round-trip label accuracy of each clip's own map and of the next clip's, against its map."""
    decoded = [tokenizer.decode(tokenizer.encode(c["semantic"], meta=c.meta), meta=c.meta) for c in clips]
    own = [float(metric.fn(decoded[i], c["semantic"], meta=c.meta)) for i, c in enumerate(clips)]
    nxt = [(i + 1) % len(clips) for i in range(len(clips))]
    other = [float(metric.fn(decoded[j], c["semantic"], meta=c.meta)) for c, j in zip(clips, nxt)]
    raw = [float(metric.fn(clips[j]["semantic"], c["semantic"], meta=c.meta)) for c, j in zip(clips, nxt)]
    return {"own": own, "other": other, "map_other": raw}


def main() -> None:
    from archon_framework import Clip, load_registry
    from archon_framework.data import ClipDataset
    from archon_framework.eval import paired_interval
    from archon_framework.infer import shipped_models, tokenizers_folder
    from archon_semantic_magvit import SemanticTokenizer, train_semantic
    from archon_semantic_magvit._config import shipped_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", default=None, help="a trained semantic tokenizer folder, or a shipped model's name")
    parser.add_argument("--train", type=int, default=0, metavar="STEPS", help="train one first (semantic_tiny + --set)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    parser.add_argument("--data", type=Path, default=None, help="training clips (a stored dataset), with --train")
    parser.add_argument("--clips", type=int, default=512)
    parser.add_argument("--heldout", type=Path, required=True, help="a stored dataset holding the scored clips")
    parser.add_argument("--skip", type=int, default=0, help="score its clips from this index (past the training ones)")
    parser.add_argument("--n", type=int, default=32, help="clips scored")
    parser.add_argument("--frames", type=int, default=0, help="score each clip's first N frames (0: whole clips)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="with --train: the tokenizer's folder; the result JSON too")
    args = parser.parse_args()
    if (args.tokenizer is None) == (args.train == 0):
        parser.error("give a --tokenizer to measure or --train STEPS (with --data and --out)")

    registry = load_registry()
    semantic_only = lambda c: Clip(c.meta, {"semantic": np.array(c["semantic"])})  # noqa: E731
    if args.train:
        if args.data is None or args.out is None:
            parser.error("--train needs --data and --out")
        stored = ClipDataset(args.data)
        clips = [semantic_only(stored[i]) for i in range(min(args.clips, len(stored)))]
        config = override(shipped_config("semantic_tiny"), args.set)
        t0 = time.perf_counter()
        report = train_semantic(clips, out_dir=args.out, steps=args.train, seed=args.seed, progress=False, config=config)
        print(json.dumps({"trained": args.train, "seconds": round(time.perf_counter() - t0, 1),
                          "set": args.set, "label_accuracy": round(report["label_accuracy"], 4),
                          "codes_used": report["codes_used"]}), flush=True)
        folder = args.out
    else:
        folder = (tokenizers_folder(args.tokenizer) / "semantic" if args.tokenizer in shipped_models()
                  else Path(args.tokenizer))
    tokenizer = SemanticTokenizer.load(folder)
    held = ClipDataset(args.heldout)
    scored = [semantic_only(held[i]) for i in range(args.skip, min(args.skip + args.n, len(held)))]
    if args.frames:
        scored = [first_frames(c, args.frames, registry.modalities, {"semantic"}) for c in scored]
    rows = ceiling(tokenizer, scored, registry.metrics["semantic_label_accuracy"])
    diff = paired_interval([a - b for a, b in zip(rows["own"], rows["other"])], seed=args.seed)
    raw = paired_interval([1.0 - b for b in rows["map_other"]], seed=args.seed)
    result = {"tokenizer": str(folder), "set": args.set, "steps": args.train or None, "clips": len(scored),
              "frames": args.frames or None,
              "round_trip_own": round(float(np.mean(rows["own"])), 4),
              "round_trip_other": round(float(np.mean(rows["other"])), 4),
              "own_minus_other": round(diff[0], 4), "ci95": [round(diff[1], 4), round(diff[2], 4)],
              "maps_own_minus_other": round(raw[0], 4), "maps_ci95": [round(raw[1], 4), round(raw[2], 4)]}
    print(json.dumps(result), flush=True)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "ceiling.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
