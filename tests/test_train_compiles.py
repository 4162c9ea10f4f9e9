"""The trainer's jitted step compiles once per shape, on one device and on a sharded mesh."""

from __future__ import annotations

from archon_framework import CompileCounter
from archon_framework.train import Trainer

from test_train import SUITE, config, registry  # noqa: F401  (the fixture)
from test_examples import clips


def test_the_step_compiles_once_over_five_steps(tmp_path, registry):  # noqa: F811
    trainer = Trainer(config(tmp_path, steps=5), registry, clips=clips(4), progress=False)
    with CompileCounter() as compiles:
        trainer.train()
    assert compiles.count("step") == 1, compiles.by_function
    # and a resumed run compiles it once more only (a new process would; here the same shapes
    # and shardings reuse the executable)
    resumed = Trainer(config(tmp_path, steps=8), registry, clips=clips(4), progress=False)
    with CompileCounter() as again:
        resumed.train()
    assert again.count("step") <= 1, again.by_function
