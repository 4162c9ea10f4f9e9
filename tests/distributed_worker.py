"""One process of the multi-process trainer tests (`tests/test_distributed.py` launches it).

It joins the run from the cluster flags the launcher appends, trains the toy suite of
`test_train.py` on the toy clips, and prints ``LOSS <step> <loss>`` for each step (process 0)
and ``STEP <process> <step>`` for each step (every process).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--stop-at", type=int, default=None)
    p.add_argument("--mesh-data", type=int, default=-1)
    p.add_argument("--fsdp", type=int, default=1)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--seconds-per-step", type=float, default=0.0)
    p.add_argument("--extra-modality", action="store_true", help="install one more modality than the others")
    p.add_argument("--heartbeat", type=int, default=100)
    p.add_argument("--coordinator")
    p.add_argument("--num-processes", type=int)
    p.add_argument("--process-id", type=int)
    args = p.parse_args(argv)

    from archon_framework.train._distributed import ClusterConfig, join_cluster, leave

    join_cluster(ClusterConfig(coordinator=args.coordinator, num_processes=args.num_processes, process_id=args.process_id,
                       heartbeat_timeout_s=args.heartbeat))

    import jax

    from archon_framework import ArchonError, Slot, Task, TaskSuite, enable_compilation_cache
    from archon_framework.testing import make_registry
    from archon_framework.train import (CheckpointConfig, DataConfig, MeshConfig, ModelSection, OptimConfig,
                                        TrainConfig, Trainer)
    from core_toys import SuitePlugin, ToyPlugin, array_modality
    from test_examples import clips

    enable_compilation_cache()  # $ARCHON_COMPILATION_CACHE: the test's runs share their programs
    suite = TaskSuite("toy", (
        Task((Slot("speech", "c"),), Slot("expression", "c")),
        Task((Slot("expression", "c"),), Slot("speech", "c")),
        Task((Slot("speech", "p"),), Slot("speech", "c")),
    ))
    modalities = [array_modality("speech", 16, phrase="speech audio"),
                  array_modality("expression", 32, phrase="facial expression"),
                  array_modality("image", 64, temporal=False, phrase="reference image")]
    if args.extra_modality:
        modalities.append(array_modality("pose", 8, phrase="head pose"))
    registry = make_registry(("toy", ToyPlugin(*modalities)), ("suite", SuitePlugin(suite)), with_byte_text=True)
    config = TrainConfig(out_dir=args.out, steps=args.steps, log_every=1, tensorboard=False,
                         model=ModelSection(config="tiny", loss_chunk=128),
                         optim=OptimConfig(peak_lr=3e-3, warmup_fraction=0.1),
                         data=DataConfig(suite="toy", seq_len=256, batch_size=args.batch, packing_bins=2),
                         mesh=MeshConfig(data=args.mesh_data, fsdp=args.fsdp),
                         checkpoint=CheckpointConfig(every=args.every, keep=10))

    def on_step(step: int, record: dict) -> None:
        if jax.process_index() == 0:
            print(f"LOSS {step} {record['loss']!r}", flush=True)
        print(f"STEP {jax.process_index()} {step}", flush=True)
        time.sleep(args.seconds_per_step)

    try:
        trainer = Trainer(config, registry, clips=clips(8), progress=False)
        trainer.train(args.stop_at, on_step=on_step)
    except ArchonError as err:
        print(f"ERROR {type(err).__name__}: {err}", flush=True)
        if jax.process_count() > 1:
            leave(3)  # a broken run: no shutdown barrier with the lost process
        return 3
    print(f"DONE {jax.process_index()} of {jax.process_count()} with {jax.device_count()} devices", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
