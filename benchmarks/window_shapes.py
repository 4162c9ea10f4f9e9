"""Examples a second of one task's training at three packed-window shapes of the same tokens a step.

Short examples (speech(c)->expression(c) is 276 tokens) packed into long windows spend most of
the attention on masked pairs; shorter windows with more rows waste padding instead. This trains
`--steps` steps of the prefix LM on `--clips` performed clips (speech and FLAME motion, nothing
rendered; a recipe run's tokenizers) at 2,048 x 2, 1,024 x 4 and 512 x 8 tokens, one after the
other in one process, and prints per shape the examples a step, the median step time after
`--skip` steps, examples a second and its ratio to the first shape, and how full the windows are.

    .venv/bin/python benchmarks/window_shapes.py --run runs/reference --config small_timed
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from archon_framework import parse_task
from archon_framework.train import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditioning_probe import one_task_registry, performed_clips, probe_config  # noqa: E402

SHAPES = ((2048, 2), (1024, 4), (512, 8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/reference"), help="a recipe run (its tokenizers/)")
    parser.add_argument("--task", default="speech(c)->expression(c)")
    parser.add_argument("--config", default="small_timed")
    parser.add_argument("--clips", type=int, default=512)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--skip", type=int, default=5, help="steps left out of the median (compilation)")
    args = parser.parse_args()
    registry = one_task_registry(parse_task(args.task))
    clips = performed_clips(args.clips, 0)
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for seq, batch in SHAPES:
            out = Path(tmp) / f"{seq}x{batch}"
            config = probe_config(out, args.run, steps=args.steps, every=args.steps, config=args.config,
                                  seq_len=seq, batch=batch, log_every=1)
            trainer = Trainer(config, registry, clips=clips, progress=False)
            trainer.train(steps=args.steps)
            records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][args.skip:]
            target = int(np.median([r["target_tokens"] for r in records]))
            example = trainer.sampler.example(0)
            example_len = len(example)
            per_step = target / (example_len - example.prefix_len)
            step_s = float(np.median([seq * batch / r["tokens_per_s"] for r in records]))
            rate = per_step / step_s
            first = first or rate
            print(json.dumps({"seq_len": seq, "batch": batch, "examples_per_step": round(per_step, 1),
                              "step_s": round(step_s, 2), "examples_per_s": round(rate, 2),
                              "ratio_to_first": round(rate / first, 2),
                              "window_fill": round(per_step * example_len / (seq * batch), 3)}), flush=True)


if __name__ == "__main__":
    main()
