"""The trainer's jitted step compiles once per shape, on one device and on a sharded mesh."""

from __future__ import annotations

import json

import numpy as np

from archon_framework import CompileCounter
from archon_framework.train import Trainer

from test_train import SUITE, config, registry  # noqa: F401  (the fixture)
from test_examples import clips


def test_the_step_compiles_once_over_five_steps(tmp_path, registry):  # noqa: F811
    trainer = Trainer(config(tmp_path, steps=5), registry, clips=clips(4), progress=False)
    after: list[int] = []  # compilations of the step once each step has run
    with CompileCounter() as compiles:
        trainer.train(on_step=lambda step, record: after.append(compiles.count("step")))
    # None after the first step; at most one in it (the step is shared by every run of these
    # shapes, whatever its length, so test_train.py may have compiled it in this process already)
    assert len(after) == 5 and after[-1] == after[0] <= 1, compiles.by_function
    # and a resumed run compiles it once more only (a new process would; here the same shapes
    # and shardings reuse the executable)
    resumed = Trainer(config(tmp_path, steps=8), registry, clips=clips(4), progress=False)
    with CompileCounter() as again:
        resumed.train()
    assert again.count("step") <= 1, again.by_function


def test_a_run_of_another_length_reuses_the_compiled_step(tmp_path, registry):  # noqa: F811
    """The learning-rate schedule (and so the step count) is an argument of the step, not a
    constant: the demo's probe run and its final run, or two recipes of different lengths,
    share one compiled step (and one persistent-cache entry)."""
    Trainer(config(tmp_path / "a", steps=2), registry, clips=clips(4), progress=False).train()
    longer = Trainer(config(tmp_path / "b", steps=3), registry, clips=clips(4), progress=False)
    with CompileCounter() as compiles:
        longer.train()
    assert compiles.count("step") == 0, compiles.by_function
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert lrs == [float(np.float32(longer.schedule(k))) for k in range(len(lrs))] and len(set(lrs)) > 1
