"""Train the semantic and image tokenizers on synthetic_heads clips; report held-out figures as JSON.

The 15-minute runs of issue 6 (each tokenizer trains for ``--seconds``; 2 cores):

    .venv/bin/python benchmarks/semantic_magvit_report.py --modality semantic --seconds 900 --out /tmp/smv_report
    .venv/bin/python benchmarks/semantic_magvit_report.py --modality image --seconds 900 --out /tmp/smv_report

Training clips are ``archon_synthetic_heads`` clips ``0..--train-clips-1`` of the ``train`` split,
evaluation clips ``0..--eval-clips-1`` of a held-out split (``validation`` by default, or ``test``),
under ``--data-seed``. Generated clips are cached as ``.npz`` under ``<out>/data`` (or ``--cache``)
and reused by later runs. Semantic: per-pixel label accuracy of encode -> decode on the whole
held-out label videos (128 x 128, 60 frames) and mean IoU over the labels present, against
predicting the training set's majority label everywhere. Image: PSNR of the reconstructed
held-out frames (256 x 256 RGB) against predicting the training set's mean colour.
Writes ``<out>/<modality>/`` (tokenizer, ``report.json``) and ``<out>/report_<modality>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archon_framework.config import atomic_write_text  # noqa: E402
from archon_semantic_magvit import load_tokenizer_config, shipped_config, train_image, train_semantic  # noqa: E402
from archon_semantic_magvit._config import SHIPPED_CONFIGS  # noqa: E402
from semantic_magvit_data import load_clips  # noqa: E402


def _config(name_or_path: str):
    return shipped_config(name_or_path) if name_or_path in SHIPPED_CONFIGS else load_tokenizer_config(name_or_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modality", choices=("semantic", "image", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=900.0, help="training budget of each tokenizer")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps instead")
    parser.add_argument("--semantic-config", default="semantic_tiny", help=f"one of {SHIPPED_CONFIGS} or a file")
    parser.add_argument("--image-config", default="image_tiny", help="as --semantic-config")
    parser.add_argument("--train-clips", type=int, default=64)
    parser.add_argument("--eval-clips", type=int, default=16)
    parser.add_argument("--eval-split", choices=("validation", "test"), default="validation")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="initialization and batch sampling")
    parser.add_argument("--out", type=Path, default=Path("/tmp/semantic_magvit_report"))
    parser.add_argument("--cache", type=Path, default=None, help="clip cache (default <out>/data)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    cache, progress = args.cache or args.out / "data", not args.no_progress
    train = load_clips(cache, split="train", seed=args.data_seed, count=args.train_clips, progress=progress)
    held_out = load_clips(cache, split=args.eval_split, seed=args.data_seed, count=args.eval_clips, progress=progress)
    modalities = ("semantic", "image") if args.modality == "both" else (args.modality,)
    reports = {}
    for modality in modalities:
        trainer = train_semantic if modality == "semantic" else train_image
        config = _config(args.semantic_config if modality == "semantic" else args.image_config)
        report = trainer(train, held_out=held_out, out_dir=args.out / modality, seconds=args.seconds,
                         steps=args.steps, seed=args.seed, progress=progress, config=config)
        report = {"data": f"synthetic_heads seed {args.data_seed}: train 0..{args.train_clips - 1}, "
                          f"{args.eval_split} 0..{args.eval_clips - 1}", **report}
        atomic_write_text(args.out / f"report_{modality}.json", json.dumps(report, indent=2) + "\n")
        reports[modality] = report
    print(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
