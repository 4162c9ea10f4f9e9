"""Wall time of a reference recipe and the compile/train split of every stage (issue 20).

Reads the ``recipe.json`` that ``archon pretrain`` writes (or runs the recipe first with
``--run``) and prints, per training stage, its steps against its minimum, the seconds JAX spent
compiling and the seconds it trained, then the recipe's wall time per phase. The split comes
from the trainers themselves (`archon_framework.train.StepBudget` / `CompileCounter`), measured
in the same run.

    .venv/bin/archon pretrain --recipe cpu-reference --out runs/reference
    .venv/bin/python benchmarks/recipe_stages.py --out runs/reference
    .venv/bin/python benchmarks/recipe_stages.py --out runs/reference --run   # train, then print
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/reference"), help="the recipe's output folder")
    parser.add_argument("--recipe", default="cpu-reference", help="the recipe (with --run)")
    parser.add_argument("--run", action="store_true", help="run (or resume) the recipe first")
    args = parser.parse_args()
    if args.run:
        code = subprocess.call([sys.executable, "-m", "archon_framework.cli", "pretrain", "--recipe", args.recipe,
                                "--out", str(args.out), "--no-progress"])
        if code:
            sys.exit(code)
    path = args.out / "recipe.json"
    if not path.is_file():
        sys.exit(f"{path} does not exist: run `archon pretrain --recipe {args.recipe} --out {args.out}` first, or pass --run")
    record = json.loads(path.read_text())
    console = Console()
    table = Table("stage", "steps", "minimum", "compile s", "train s", "compile share", "",
                  title=f"recipe {record['recipe']} (commit {str(record.get('commit'))[:10]})")
    compile_total = train_total = 0.0
    for st in record.get("stages", []):
        c, t = st.get("compile_s"), st.get("train_s")
        share = f"{c / (c + t):.0%}" if c is not None and t and c + t > 0 else "-"
        compile_total += c or 0.0
        train_total += t or 0.0
        table.add_row(str(st["stage"]), str(st.get("steps")), str(st.get("min_steps")),
                      "-" if c is None else f"{c:.1f}", "-" if t is None else f"{t:.1f}", share,
                      "[red]below minimum[/]" if st.get("below_min") else "")
    table.add_row("all stages", "", "", f"{compile_total:.1f}", f"{train_total:.1f}",
                  f"{compile_total / max(compile_total + train_total, 1e-9):.0%}", "")
    console.print(table)
    phases = Table("phase", "wall s", title="wall time")
    for k, v in (record.get("demo_timings_s") or {}).items():
        phases.add_row(k, f"{v:.1f}")
    for k, v in (record.get("timings_s") or {}).items():
        phases.add_row(f"recipe {k}", f"{v:.1f}")
    console.print(phases)


if __name__ == "__main__":
    main()
