"""Train a small speech codec on espeak speech and report held-out MCD-DTW per number of RVQ levels.

Run by hand (not a test); the issue-5 figure is the 15-minute run on 2 cores:

    .venv/bin/python benchmarks/speech_train_mcd.py --seconds 900 --out /tmp/archon_speech_codec

Data: the espeak-ng speech of ``archon_synthetic_heads.generate_clip`` clips (video off), the
``train`` split for training and the ``validation`` split (disjoint sentences and voices'
streams) held out for the report. The generated waves are cached in ``OUT/clips.npz`` (keyed by
the data arguments), so re-runs do not regenerate them.

Report (printed and written to ``OUT/report.json``): MCD-DTW (c0 excluded, K = 10 sqrt(2)/ln 10)
of reconstructions with 1, 2, 3, 4 (and 8) levels and of silence, the log-mel spectral distance
and the RMS ratio (reconstruction / reference) per level, codebook usage per level, the steps
and seconds trained, the mean mel loss of each tenth of training and the final training losses.
``--set section.key=value`` overrides any field of the config (values parsed as JSON), for
experiments.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from archon_framework.config import atomic_write_text
from archon_speech_soundstream import (
    SoundStreamConfig,
    SoundStreamTokenizer,
    SoundStreamTrainer,
    evaluate_levels,
    load_soundstream_config,
    shipped_config,
)

SAMPLE_RATE = 16_000


def espeak_clips(
    out: Path, *, train: int, held_out: int, seconds: float, seed: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Speech of ``train`` train-split and ``held_out`` validation-split synthetic clips, cached.

    The cache ``out/clips.npz`` holds ``train [n, samples]``, ``held_out [m, samples]`` and the
    arguments that produced them; it is reused only when those match.
    """
    cache = out / "clips.npz"
    key = np.array([train, held_out, seconds, seed], np.float64)
    if cache.is_file():
        with np.load(cache) as data:
            if data["key"].shape == key.shape and np.allclose(data["key"], key):
                return list(data["train"]), list(data["held_out"])
    import attrs
    from archon_synthetic_heads import SynthConfig, generate_clip
    from rich.progress import track

    cfg = attrs.evolve(SynthConfig(), with_video=False)
    jobs = [("train", i) for i in range(train)] + [("validation", i) for i in range(held_out)]
    waves: dict[str, list[np.ndarray]] = {"train": [], "validation": []}
    for split, i in track(jobs, description="espeak clips"):
        clip = generate_clip(i, seed=seed, seconds=seconds, split=split, config=cfg)
        waves[split].append(np.asarray(clip["speech"], np.float32))
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".clips.tmp.npz"
    np.savez(tmp, key=key, train=np.stack(waves["train"]), held_out=np.stack(waves["validation"]))
    tmp.replace(cache)
    return waves["train"], waves["validation"]


def apply_overrides(cfg: SoundStreamConfig, settings: list[str]) -> SoundStreamConfig:
    """``section.key=value`` overrides (value parsed as JSON, else taken as a string)."""
    data = cfg.to_dict()
    for item in settings:
        path, _, raw = item.partition("=")
        section, _, field = path.partition(".")
        if section not in data or field not in data[section]:
            raise SystemExit(f"--set {item!r}: no config field {path!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        data[section][field] = value
    return SoundStreamConfig.from_dict(data, source="--set")


def codebook_usage(tok: SoundStreamTokenizer, waves: list[np.ndarray]) -> list[int]:
    """Distinct codes used per level on ``waves``."""
    from archon_framework import ClipMeta

    used: list[set[int]] = [set() for _ in range(tok.cfg.codec.levels)]
    for i, w in enumerate(waves):
        meta = ClipMeta(clip_id=f"u{i}", duration=len(w) / SAMPLE_RATE, frame_rate=25.0, sample_rate=SAMPLE_RATE)
        codes = tok.encode_codes(w, meta=meta, levels=tok.cfg.codec.levels)
        for level in range(codes.shape[1]):
            used[level].update(codes[:, level].tolist())
    return [len(u) for u in used]


def residual_ratios(tok: SoundStreamTokenizer, waves: list[np.ndarray]) -> list[float]:
    """``rms(r_l) / rms(x)`` for l = 0..levels on held-out latents: what each RVQ level leaves."""
    import jax.numpy as jnp

    totals = np.zeros(tok.cfg.codec.levels + 1)
    for w in waves:
        frames = len(w) // tok.cfg.codec.hop_length
        z = tok.codec.encoder(jnp.asarray(w[: frames * tok.cfg.codec.hop_length])).T  # [frames, D]
        out = tok.codec.quantizer(tok.state, z)
        res = np.asarray(out.residuals)  # [frames, levels, D]: the input of each level
        last = res[:, -1] - np.asarray(tok.state.codebooks[-1])[np.asarray(out.codes[:, -1])]
        stack = np.concatenate([res, last[:, None]], axis=1)  # [frames, levels + 1, D]
        totals += np.mean(np.square(stack), axis=(0, 2))
    return [round(float(np.sqrt(t / totals[0])), 4) for t in totals]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=900.0, help="wall-clock training budget")
    parser.add_argument("--steps", type=int, default=None, help="optional step cap")
    parser.add_argument("--config", default="small", help="shipped config name (tiny, small, paper) or a TOML path")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--train-clips", type=int, default=64)
    parser.add_argument("--held-out-clips", type=int, default=4)
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/archon_speech_codec"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--levels", default="1,2,3,4,8", help="levels to evaluate")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    if args.config in ("tiny", "small", "paper"):
        cfg = shipped_config(args.config)
    else:
        cfg = load_soundstream_config(args.config)
    cfg = apply_overrides(cfg, args.set)
    train_waves, held_out = espeak_clips(
        args.out, train=args.train_clips, held_out=args.held_out_clips, seconds=args.clip_seconds, seed=args.data_seed
    )
    trainer = SoundStreamTrainer(cfg, seed=args.seed)
    start = time.monotonic()
    history = trainer.fit(
        train_waves, out_dir=args.out, steps=args.steps, seconds=args.seconds, progress=not args.no_progress
    )
    elapsed = time.monotonic() - start
    tok = SoundStreamTokenizer(cfg, trainer.codec, trainer.state)
    levels = tuple(int(n) for n in args.levels.split(",") if int(n) <= cfg.codec.levels)
    tail = history[-max(1, len(history) // 10) :]
    report: dict[str, Any] = {
        "config": args.config,
        "overrides": args.set,
        "steps": trainer.step,
        "seconds": round(elapsed, 1),
        "train_audio_seconds": round(sum(len(w) for w in train_waves) / SAMPLE_RATE, 1),
        "final_losses_mean_last_10pct": {k: float(np.mean([h[k] for h in tail if k in h])) for k in tail[-1]},
        "first_losses": history[0],
        "mel_loss_per_tenth": [
            round(float(np.mean([h["mel"] for h in part])), 2) for part in np.array_split(history, 10) if len(part)
        ],
        "codebook_usage_held_out": codebook_usage(tok, held_out),
        "residual_rms_ratio_per_level": residual_ratios(tok, held_out),
    }
    report.update(evaluate_levels(tok, held_out, levels=levels))
    atomic_write_text(args.out / "report.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
