"""One chain step of a trained model against its shuffled-condition control, without the tables.

`archon eval --control-chain` measures every step of a chain inside the full evaluation (Tables
1-3, tens of minutes on 2 cores). This runs `archon_framework.eval.step_controls` for the named
steps alone, on more held-out clips and under several decodings side by side: the same model
and clips, each decoding's paired difference (real - control, oriented: positive is better than
the control) with its 95% bootstrap interval, the trivial baseline, and the NLL gain (which no
decoding changes).

    .venv/bin/python benchmarks/step_control.py --checkpoint cpu-reference --chain speech-to-video \\
        --step "image(t)->identity(t)" --heldout 64 --decode sampled --decode greedy
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from archon_framework import load_registry
from archon_framework._chains import Chain, ChainStep
from archon_framework.eval import heldout_clips, installed_main_metrics, step_controls
from archon_framework.infer import load_checkpoint, resolve_chain
from archon_framework.model import Sampling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a run folder, an exported model or a shipped model's name")
    parser.add_argument("--chain", required=True, help="an installed chain (archon list-chains)")
    parser.add_argument("--step", action="append", required=True,
                        help="a step of the chain as `archon eval` labels it (inputs->output; repeat)")
    parser.add_argument("--heldout", type=int, default=64)
    parser.add_argument("--data", type=Path, default=None, help="a stored held-out dataset (default: generated)")
    parser.add_argument("--decode", action="append", choices=("sampled", "greedy"), default=[],
                        help="sampled: temperature 1, top-p 0.9 (archon eval's); greedy: the step's output greedily "
                             "(repeat to compare; default sampled)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (clip i uses seed + i) and the control's pairing")
    parser.add_argument("--out", type=Path, default=None, help="JSON report")
    args = parser.parse_args()

    registry = load_registry()
    model = load_checkpoint(args.checkpoint, registry)
    chain = resolve_chain(args.chain, registry)
    labels = {"+".join(map(str, s.inputs or ())) + "->" + str(s.output): s for s in chain.steps}
    unknown = [s for s in args.step if s not in labels]
    if unknown:
        parser.error(f"--step {', '.join(unknown)}: not a step of {chain.name} (its steps: {', '.join(labels)})")
    t0 = time.perf_counter()
    clips, source = heldout_clips(registry, n=args.heldout, data=args.data)
    print(f"{len(clips)} held-out clips ({json.dumps(source)}) in {time.perf_counter() - t0:.0f} s", flush=True)
    report = {"checkpoint": args.checkpoint, "chain": chain.name, "heldout": source, "rows": []}
    print("| step | decoding | metric | real | control | baseline | real - control [95% CI] | NLL gain [95% CI] |")
    print("|---|---|---|--:|--:|--:|---|---|")
    for label in args.step:
        step = labels[label]
        one = Chain(f"{chain.name}", tuple(step.inputs or ()), (ChainStep(step.output, step.inputs),))
        for decode in args.decode or ["sampled"]:
            greedy = (step.output.modality,) if decode == "greedy" else ()
            sampling = Sampling(temperature=1.0, top_p=0.9, greedy_for=greedy)
            (result,) = step_controls(model, clips, one, registry.metrics, preferred=installed_main_metrics(registry),
                                      sampling=sampling, seed=args.seed)
            row = {**result.to_dict(), "decoding": decode}
            report["rows"].append(row)
            nll = row["nll_ci95"] or [float("nan")] * 2
            print(f"| `{label}` | {decode} | {row['metric']} | {row['real']:.3f} | {row['control']:.3f} | "
                  f"{row['baseline']:.3f} | {row['difference']:+.3f} [{row['ci95'][0]:+.3f}, {row['ci95'][1]:+.3f}] | "
                  f"{(row['nll_gain'] or float('nan')):+.3f} [{nll[0]:+.3f}, {nll[1]:+.3f}] |", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
