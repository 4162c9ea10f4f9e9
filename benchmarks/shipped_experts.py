"""Table 3's per-modality experts for an exported or shipped model, trained on its recipe's data made again.

`archon eval --train-experts` trains the "w/o unified model" experts from the unified run's own
folder (its vocabulary layout, token cache and dataset). An exported or shipped model carries
none of them: its training clips do not ship. A recipe's data is deterministic (seeds, not wall
time), so `archon pretrain --recipe NAME --tokenizers-from MODEL --out RUN` makes the same
clips again and, once its LM stage starts, tokenizes them with the model's own tokenizers into
``RUN/lm/token-cache``. This trains the experts on that cache, matched to the model by the rule
of `archon_framework.train.train_experts` (the same total parameters, the model's step count
split by task mass, the model's training config but for where its data lives), into a folder
that `archon eval --checkpoint MODEL --experts DIR` then reads. The experts' layout is the
model's own; a cache built under another layout is refused.

    archon pretrain --recipe cpu-reference --tokenizers-from cpu-reference --out runs/refrun --no-eval
    # (stop it once runs/refrun/lm/token-cache is written: the LM is not needed)
    .venv/bin/python benchmarks/shipped_experts.py --model cpu-reference --run runs/refrun --out runs/refrun-experts \\
        --modality identity --modality expression --modality semantic --modality description
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import attrs

from archon_framework import VocabLayout, load_registry
from archon_framework.eval import read_run, run_registry
from archon_framework.infer import load_checkpoint, model_folder, tokenizers_folder
from archon_framework.train import read_expert_plan, train_experts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a shipped model's name or an exported model folder")
    parser.add_argument("--run", type=Path, required=True,
                        help="the recipe run made again (`archon pretrain --tokenizers-from MODEL`): data/ and lm/token-cache")
    parser.add_argument("--out", type=Path, required=True, help="the experts folder (archon eval --experts DIR)")
    parser.add_argument("--modality", action="append", default=None,
                        help="train only this output modality's expert (repeat; default: every one)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    registry = load_registry()
    lm_dir = model_folder(args.model)
    config, step = read_run(lm_dir)
    registry, suite = run_registry(registry, lm_dir, config)
    model = load_checkpoint(lm_dir, registry)
    lm_run = args.run / "lm"
    data = args.run / "data"
    if not (lm_run / "token-cache" / "token-cache.json").is_file() or not data.is_dir():
        raise SystemExit(f"{args.run}: needs data/ and lm/token-cache/ (run `archon pretrain --recipe ... "
                         f"--tokenizers-from {args.model} --out {args.run}` until its LM stage has started)")
    layout_file = lm_run / "layout.json"
    if layout_file.exists():
        if VocabLayout.load(layout_file) != model.layout:
            raise SystemExit(f"{layout_file}: another vocabulary layout than {args.model}'s: not its recipe's data")
    else:
        model.layout.save(layout_file)
    config = attrs.evolve(config, data=attrs.evolve(config.data, dataset=str(data.absolute()),
                                                    artifacts=str(tokenizers_folder(args.model))))
    t0 = time.perf_counter()
    plan = train_experts(config, registry, args.out, suite=suite, steps=step, run_dir=lm_run, modalities=args.modality,
                         progress=not args.no_progress,
                         on_expert=lambda s: print(f"expert {s.modality}: {s.steps} steps, d_model {s.model.d_model}, "
                                                   f"{s.params:,} parameters", flush=True))
    print(f"{len(plan.trained)} experts ({', '.join(plan.trained)}) in {time.perf_counter() - t0:.0f} s; "
          f"{plan.total_params:,} parameters in all against {plan.unified_params:,} of {args.model} (step {step})")
    read_expert_plan(args.out).check_matches(plan.unified_params, step, str(args.out))


if __name__ == "__main__":
    main()
