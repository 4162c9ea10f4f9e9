"""Train the identity, expression and pose tokenizers on synthetic_heads clips; write a report.

The report (``OUT/report.json``, also printed) gives, per tokenizer, the reconstruction error
through its tokens on held-out clips of the synthetic dataset's *test* split (other people,
other sentences, other random streams than the training split), in normalized units (the
per-dimension z-scores of the training set), next to the zero baseline (predicting the
training mean everywhere), their ``ratio``, and the ratio with only the first 1..N residual
levels. Uses the CPU-sized ``small`` configs (the paper's codebooks, F = 64, D = 32).

The issue's report (about 10 minutes of training on 2 cores, all three tokenizers within the
budget, split by ``--shares``; data generation is cached and not counted):

    .venv/bin/python benchmarks/flame_rvq_train.py --seconds 600 --out /tmp/flame_rvq_report

A quick look: ``--seconds 180``, or ``--steps 300`` (steps per tokenizer).

Data: expression and pose come from ``--clips`` training-split clips of ``--clip-seconds`` (their
parameters only: `archon_synthetic_heads.generate_parameters`, no rendering), held out on
``--test-clips`` test-split clips. Identity is one vector per clip, so a few hundred clips give
only a few hundred samples: it trains on the identities of ``--identity-clips`` training-split
clips (`archon_synthetic_heads.sample_identities`: the clips' own random streams, without
synthesizing them) and is held out on ``--identity-test`` test-split identities. Generated
parameters are cached as ``.npz`` under ``OUT/data``. ``--set modality.section.field=value``
overrides a config field (e.g. ``--set expression.train.learning_rate=1e-3``).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from archon_framework import Clip, ClipMeta, ConfigError
from archon_framework.config import atomic_write_bytes, atomic_write_text
from archon_flame_rvq import FLAME_MODALITIES, FlameTokenizerConfig, evaluate_tokenizer, shipped_config, train_tokenizer

DEFAULT_SHARES = "identity=1,expression=2,pose=1"


def _require_heads():
    try:
        import archon_synthetic_heads
    except ImportError as err:  # pragma: no cover - the benchmark needs the dataset plugin
        sys.exit(f"this benchmark needs archon-synthetic-heads installed ({err})")
    return archon_synthetic_heads


def _one_clip(job: tuple[int, int, float, str]) -> tuple[np.ndarray, np.ndarray]:
    index, seed, seconds, split = job
    clip = _require_heads().generate_parameters(index, seed=seed, seconds=seconds, split=split)
    return clip["expression"], clip["pose"]


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _motion_arrays(data_dir: Path, *, count: int, seed: int, seconds: float, split: str,
                   workers: int) -> dict[str, np.ndarray]:
    """``expression [count, T, E]`` and ``pose [count, T, 6]`` of clips 0..count-1, cached."""
    path = data_dir / f"motion_{split}_s{seed}_n{count}_{seconds:g}s.npz"
    if path.is_file():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    start = time.perf_counter()
    jobs = [(i, seed, seconds, split) for i in range(count)]
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            rows = pool.map(_one_clip, jobs, chunksize=4)
    else:
        rows = [_one_clip(job) for job in jobs]
    arrays = {"expression": np.stack([r[0] for r in rows]), "pose": np.stack([r[1] for r in rows])}
    _save_npz(path, **arrays)
    print(f"generated {count} {split} clips of {seconds:g} s in {time.perf_counter() - start:.0f} s -> {path}",
          file=sys.stderr, flush=True)
    return arrays


def _identity_array(data_dir: Path, *, count: int, seed: int, split: str) -> np.ndarray:
    path = data_dir / f"identity_{split}_s{seed}_n{count}.npz"
    if path.is_file():
        with np.load(path) as data:
            return data["identity"]
    identity = _require_heads().sample_identities(count, seed=seed, split=split)
    _save_npz(path, identity=identity)
    return identity


def _clips(name: str, values: np.ndarray, *, seed: int, split: str, seconds: float) -> list[Clip]:
    clip_id = _require_heads().clip_id
    return [Clip(ClipMeta(clip_id=clip_id(i, seed=seed, split=split), duration=seconds, frame_rate=30.0,
                          sample_rate=16_000, source="synthetic_heads"), {name: v})
            for i, v in enumerate(values)]


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _apply_overrides(config: FlameTokenizerConfig, overrides: list[str]) -> FlameTokenizerConfig:
    """``modality.section.field=value`` (section ``model`` or ``train``) on the matching config."""
    for item in overrides:
        key, _, value = item.partition("=")
        parts = key.split(".")
        if len(parts) != 3 or parts[0] not in FLAME_MODALITIES or parts[1] not in ("model", "train") or not value:
            raise ConfigError(f"--set {item!r}: expected modality.model|train.field=value")
        if parts[0] != config.modality:
            continue
        section = getattr(config, parts[1])
        if parts[2] not in attrs.fields_dict(type(section)):
            raise ConfigError(f"--set {item!r}: {type(section).__name__} has no field {parts[2]!r}")
        config = attrs.evolve(config, **{parts[1]: attrs.evolve(section, **{parts[2]: _parse_value(value)})})
    return config


def _shares(text: str, names: list[str]) -> dict[str, float]:
    table = {}
    for item in text.split(","):
        name, _, weight = item.partition("=")
        table[name.strip()] = float(weight)
    missing = [n for n in names if n not in table]
    if missing:
        raise ConfigError(f"--shares {text!r} lacks {missing}")
    total = sum(table[n] for n in names)
    return {n: table[n] / total for n in names}


def _level_ratios(tokenizer, clips: list[tuple[ClipMeta, np.ndarray]]) -> list[float]:
    return [round(evaluate_tokenizer(tokenizer, clips, num_levels=n)["ratio"], 5)
            for n in range(1, tokenizer.config.model.num_levels + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600.0,
                        help="training wall-clock budget for all tokenizers together (split by --shares)")
    parser.add_argument("--shares", default=DEFAULT_SHARES, help="how --seconds is split (weights)")
    parser.add_argument("--steps", type=int, default=None, help="steps per tokenizer (instead of --seconds)")
    parser.add_argument("--config", default="small", help="shipped config: small, paper, paper_supplementary")
    parser.add_argument("--modalities", nargs="+", default=list(FLAME_MODALITIES), choices=FLAME_MODALITIES)
    parser.add_argument("--clips", type=int, default=240, help="training-split clips (expression, pose)")
    parser.add_argument("--test-clips", type=int, default=24, help="test-split clips for the report")
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--identity-clips", type=int, default=20_000, help="training-split identities")
    parser.add_argument("--identity-test", type=int, default=2_000, help="test-split identities")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="MOD.SECTION.FIELD=VALUE")
    parser.add_argument("--workers", type=int, default=2, help="processes generating clips")
    parser.add_argument("--out", type=Path, default=Path("/tmp/flame_rvq_report"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data_dir = args.out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    shares = _shares(args.shares, args.modalities)
    datasets: dict[str, tuple[list[Clip], list[Clip]]] = {}
    if {"expression", "pose"} & set(args.modalities):
        train = _motion_arrays(data_dir, count=args.clips, seed=args.seed, seconds=args.clip_seconds,
                               split="train", workers=args.workers)
        test = _motion_arrays(data_dir, count=args.test_clips, seed=args.seed, seconds=args.clip_seconds,
                              split="test", workers=args.workers)
        for name in ("expression", "pose"):
            datasets[name] = (
                _clips(name, train[name], seed=args.seed, split="train", seconds=args.clip_seconds),
                _clips(name, test[name], seed=args.seed, split="test", seconds=args.clip_seconds),
            )
    if "identity" in args.modalities:
        datasets["identity"] = (
            _clips("identity", _identity_array(data_dir, count=args.identity_clips, seed=args.seed, split="train"),
                   seed=args.seed, split="train", seconds=args.clip_seconds),
            _clips("identity", _identity_array(data_dir, count=args.identity_test, seed=args.seed, split="test"),
                   seed=args.seed, split="test", seconds=args.clip_seconds),
        )

    rows: dict[str, Any] = {}
    for name in args.modalities:
        config = _apply_overrides(shipped_config(args.config, name), args.overrides)
        train_clips, test_clips = datasets[name]
        seconds = None if args.steps is not None else args.seconds * shares[name]
        report = dict(train_tokenizer(config, train_clips, out_dir=args.out / name, steps=args.steps,
                                      seconds=seconds, seed=args.seed, progress=True))
        from archon_flame_rvq import FlameTokenizer

        tok = FlameTokenizer.load(args.out / name)
        held = [(c.meta, c[name]) for c in test_clips]
        report["test_split"] = evaluate_tokenizer(tok, held)
        report["test_split_ratio_by_levels"] = _level_ratios(tok, held)
        report["test_clips"] = len(test_clips)
        report["budget_seconds"] = seconds
        report["config"] = {"model": attrs.asdict(config.model), "train": attrs.asdict(config.train)}
        rows[name] = report
        t = report["test_split"]
        print(f"{name:10s} steps {report['steps']:6d} {report['seconds']:7.1f} s   test mse {t['mse']:.4f}   "
              f"zero baseline {t['zero_baseline_mse']:.4f}   ratio {t['ratio']:.4f}", flush=True)

    summary = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "data": {"clips": args.clips, "test_clips": args.test_clips, "clip_seconds": args.clip_seconds,
                 "identity_clips": args.identity_clips, "identity_test": args.identity_test, "seed": args.seed},
        "tokenizers": rows,
    }
    atomic_write_text(args.out / "report.json", json.dumps(summary, indent=2) + "\n")
    print(json.dumps({n: {"steps": r["steps"], "seconds": r["seconds"], **r["test_split"],
                          "ratio_by_levels": r["test_split_ratio_by_levels"]} for n, r in rows.items()}, indent=2))
    print(f"saved under {args.out}")


if __name__ == "__main__":
    main()
