"""Does an editing chain do what it claims on held-out clips? `check_edits` with intervals (issue 25).

Edits every held-out clip with an installed editing chain (`archon list-chains --editing`),
by default with the next clip's value of what the chain edits (for ``edit-script``: another
clip's words), and scores the chain's checks (``edit-script``: pocketsphinx word error rate of
the new speech against the edited and the original script, GE2E speaker similarity of the new
speech to the clip's own). Each check against the clip is set beside its control, the same
figure with another held-out clip in the clip's place, and the paired difference gets a 95%
bootstrap interval over the clips, per sampling seed. So "the voice stays close to the clip's
own speaker" reads as: similarity to its own speech minus similarity to another clip's, above
zero.

`--steps K` keeps the chain's first K steps (``edit-script``'s first is the continuation task
``script(c)+speech(p)->speech(c)``, the one that keeps the voice), so a model trained on that
task alone can be checked. `--window past|current` cuts each clip to that window of a
past/current split first (a 1-s clip's half), for a model whose training windows were that
long; the clip's own speech in the window is then both the voice condition and the speech the
edit replaces, as in the paper's Fig. 5a.

    .venv/bin/python benchmarks/edit_check.py --checkpoint runs/voice-probe --data runs/voice-probe/source/heldout \
        --steps 1 --window current --heldout 32 --seeds 2 --out runs/voice-probe/edit-check.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from archon_framework import Chain, EditingChain, State, cut_clip, load_registry
from archon_framework.eval import heldout_clips
from archon_framework.infer import check_edits, load_checkpoint
from archon_framework.model import Sampling


def first_steps(echain: EditingChain, k: int | None) -> EditingChain:
    """The editing chain with its first `k` steps (all when None) and all its checks (a check
    whose output is no longer regenerated is recorded by `check_edits` as not measured)."""
    if k is None or k >= len(echain.chain.steps):
        return echain
    if k < 1:
        raise SystemExit(f"--steps must be >= 1, got {k}")
    steps = echain.chain.steps[:k]
    chain = Chain(f"{echain.chain.name}[:{k}]", echain.chain.conditions, steps, description=echain.chain.description)
    return attrs.evolve(echain, name=f"{echain.name}[:{k}]", chain=chain)


def summarize(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per sampling seed and check: own, control and the paired difference with its interval
    (as `check_edits` reports them)."""
    rows = []
    for s, report in enumerate(reports):
        for name, check in report["checks"].items():
            row: dict[str, Any] = {"seed": s, "check": name, "metric": check["metric"], "against": check["against"],
                                   "mean": check.get("mean"), "count": check.get("count")}
            if check["against"] == "clip":
                diff = check["difference"]
                row.update(control=check["control"].get("mean"), difference=diff.get("mean"), ci=diff.get("ci95"),
                           pairs=diff.get("count"))
            rows.append(row)
    return rows


def _fmt(x: Any) -> str:
    return f"{x:+.3f}" if isinstance(x, float) and math.isfinite(x) else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a run folder, an exported model or a shipped model's name")
    parser.add_argument("--chain", default="edit-script", help="an installed editing chain")
    parser.add_argument("--steps", type=int, default=None, help="keep the chain's first K steps")
    parser.add_argument("--data", type=Path, default=None, help="a stored held-out dataset (default: the evaluation defaults')")
    parser.add_argument("--heldout", type=int, default=32)
    parser.add_argument("--window", choices=("full", "past", "current"), default="full")
    parser.add_argument("--seeds", type=int, default=1, help="sampling seeds")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=0.9)
    parser.add_argument("--out", type=Path, required=True, help="JSON report")
    args = parser.parse_args()

    registry = load_registry()
    model = load_checkpoint(args.checkpoint, registry)
    echain = first_steps(registry.editing_chain(args.chain), args.steps)
    clips, source = heldout_clips(registry, n=args.heldout, data=args.data)
    if args.window != "full":
        clips = [cut_clip(c, State.PAST if args.window == "past" else State.CURRENT, registry.modalities) for c in clips]
    sampling = Sampling(temperature=args.temperature, top_p=args.top_p)
    reports = []
    for s in range(args.seeds):
        reports.append(check_edits(model, clips, echain, sampling=sampling, seed=1000 * s))
        print(f"seed {s}: {len(clips)} clips edited", flush=True)
    rows = summarize(reports)
    print(f"\n{echain.name} on {len(clips)} held-out clips ({args.window} window), model {args.checkpoint}")
    print("| seed | check | metric | mean | control | difference [95% CI] | pairs |")
    print("|--:|---|---|--:|--:|---|--:|")
    for r in rows:
        ci = r.get("ci")
        interval = f"{_fmt(r.get('difference'))} [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "-"
        print(f"| {r['seed']} | {r['check']} | {r['metric']} | {_fmt(r['mean'])} | {_fmt(r.get('control'))} | "
              f"{interval} | {r.get('pairs', '-')} |")
    changed = [rep["tokens_changed"] for rep in reports]
    print("tokens changed (fraction of positions, mean over clips):",
          json.dumps([{k: v.get("mean") for k, v in c.items()} for c in changed]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"chain": echain.name, "checkpoint": args.checkpoint, "window": args.window,
                                    "heldout": source, "sampling": {"temperature": args.temperature, "top_p": args.top_p},
                                    "rows": rows, "reports": reports}, indent=2, default=_json_default) + "\n")
    print(f"wrote {args.out}")


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return str(x)


if __name__ == "__main__":
    main()
