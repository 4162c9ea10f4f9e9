"""The spread that training adds: ``archon demo --train`` run with several training seeds.

Each run uses the same data and sampling (``--seed``, default 0) and its own ``--train-seed``, so
its tokenizers and LM differ only in their parameter init and data order (and in the steps a time
budget gives them on a machine whose load varies). Per output of the demo page it prints the
distance from the ground truth (demo.json's ``scores_vs_ground_truth``, the modality's main metric,
averaged over the held-out clips) for each seed, with the mean and the sample standard deviation
across seeds; and per training stage the steps each seed got.

    .venv/bin/python benchmarks/demo_train_seeds.py --seeds 0 1 2 --out runs/seeds     # ~15 min a seed on 2 cores
    .venv/bin/python benchmarks/demo_train_seeds.py --seeds 0 1 2 --out runs/seeds --reuse  # tabulate runs already made

A seed whose folder holds a demo.json of that training seed is reused with ``--reuse`` (its
figures as that run measured them) and run again without it (``archon demo`` then reuses its
trained stages, so only generation runs again). Other demo options pass through after ``--``,
e.g. ``-- --minutes 2``. Writes ``OUT/seeds.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def run_seed(out: Path, seed: int, extra: list[str]) -> dict[str, Any]:
    """Run the demo with training seed `seed` into `out` (its log in ``out.log``) and return its demo.json."""
    cmd = [sys.executable, "-m", "archon_framework.cli", "demo", "--train", "--train-seed", str(seed), "--out", str(out),
           "--no-progress", *extra]
    t0 = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise SystemExit(f"seed {seed}: `{' '.join(cmd)}` failed with exit code {rc} (log: {out.with_suffix('.log')})")
    summary = json.loads((out / "demo.json").read_text())
    summary["benchmark_wall_s"] = round(time.perf_counter() - t0, 1)
    return summary


def spread(values: list[float | None]) -> dict[str, Any]:
    """Mean, sample standard deviation, min and max of the finite values (and how many there are)."""
    xs = [v for v in values if v is not None and math.isfinite(v)]
    if not xs:
        return {"n": 0, "mean": None, "sd": None, "min": None, "max": None}
    return {"n": len(xs), "mean": statistics.fmean(xs), "sd": statistics.stdev(xs) if len(xs) > 1 else None,
            "min": min(xs), "max": max(xs)}


def table(runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Per output score and per stage step count, across the seeds' demo.json."""
    seeds = sorted(runs)
    outputs = sorted({k for r in runs.values() for k in r["scores_vs_ground_truth"]})
    scores = {k: {"per_seed": [runs[s]["scores_vs_ground_truth"].get(k) for s in seeds],
                  **spread([runs[s]["scores_vs_ground_truth"].get(k) for s in seeds])} for k in outputs}
    stages = sorted({st["stage"] for r in runs.values() for st in r["stages"]})
    steps = {name: [next((st.get("steps") for st in runs[s]["stages"] if st["stage"] == name), None) for s in seeds]
             for name in stages}
    return {"seeds": seeds, "scores": scores, "steps": steps,
            "undertrained": {s: runs[s].get("undertrained", []) for s in seeds},
            "total_s": {s: runs[s]["timings_s"].get("total") for s in seeds}}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/seeds"))
    parser.add_argument("--reuse", action="store_true", help="tabulate a seed's existing demo.json instead of running it")
    parser.add_argument("demo_args", nargs="*", help="options passed to `archon demo` (after --)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs: dict[int, dict[str, Any]] = {}
    for seed in args.seeds:
        folder = args.out / f"s{seed}"
        stored = folder / "demo.json"
        if args.reuse and stored.is_file():
            summary = json.loads(stored.read_text())
            if summary["config"].get("train_seed") != seed:
                raise SystemExit(f"{stored}: made with train_seed {summary['config'].get('train_seed')}, not {seed}")
            runs[seed] = summary
        else:
            runs[seed] = run_seed(folder, seed, list(args.demo_args))
    result = table(runs)
    (args.out / "seeds.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"archon demo --train, training seeds {result['seeds']} (same data and sampling)")
    print("\nsteps per stage: " + ", ".join(f"seed {s}" for s in result["seeds"]))
    for name, per in result["steps"].items():
        print(f"  {name:48s} {per}")
    for s in result["seeds"]:
        if result["undertrained"][s]:
            print(f"  seed {s} undertrained: {', '.join(result['undertrained'][s])}")
    print("\ndistance from the ground truth per output (mean over held-out clips): per seed | mean, sd, min..max")
    for name, row in result["scores"].items():
        per = " ".join(f"{_fmt(v):>7s}" for v in row["per_seed"])
        print(f"  {name:60s} {per} | {_fmt(row['mean'])} sd {_fmt(row['sd'])}  {_fmt(row['min'])}..{_fmt(row['max'])}")
    print("\nwall s per seed: " + ", ".join(f"{s}: {_fmt(t)}" for s, t in result["total_s"].items()))


if __name__ == "__main__":
    main()
