"""The trainer: loss falls below the unigram baseline, resume is bit-identical, bad configs."""

from __future__ import annotations

import json

import equinox as eqx
import jax
import numpy as np
import pytest

from archon_framework import ConfigError, Slot, Task, TaskSuite
from archon_framework.testing import make_registry
from archon_framework.train import DataConfig, OptimConfig, TrainConfig, Trainer, load_train_config

from core_toys import SuitePlugin, ToyPlugin, array_modality
from test_examples import clips

SUITE = TaskSuite("toy", (
    Task((Slot("speech", "c"),), Slot("expression", "c")),
    Task((Slot("expression", "c"),), Slot("speech", "c")),
    Task((Slot("speech", "p"),), Slot("speech", "c")),
))


@pytest.fixture(scope="module")
def registry():
    return make_registry(("toy", ToyPlugin(array_modality("speech", 16, phrase="speech audio"),
                                           array_modality("expression", 32, phrase="facial expression"),
                                           array_modality("image", 64, temporal=False, phrase="reference image"))),
                         ("suite", SuitePlugin(SUITE)), with_byte_text=True)


def config(out, steps=6, **data):
    return TrainConfig(out_dir=str(out), steps=steps, log_every=1,
                       optim=OptimConfig(peak_lr=3e-3, warmup_fraction=0.1),
                       data=DataConfig(suite="toy", seq_len=512, batch_size=2, packing_bins=2, **data))


def params(model):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array))]


@pytest.mark.slow
def test_loss_falls_below_the_unigram_baseline(tmp_path, registry):
    trainer = Trainer(config(tmp_path, steps=60), registry, clips=clips(8), progress=False)
    records = []
    trainer.train(on_step=lambda step, rec: records.append(rec))
    # Unigram baseline: the entropy of target tokens under their own frequencies.
    it = trainer.batches()
    targets = np.concatenate([b["tokens"][b["loss_mask"]] for b in (next(it) for _ in range(20))])
    freq = np.bincount(targets) / len(targets)
    unigram = float(-(freq[freq > 0] * np.log(freq[freq > 0])).sum())
    final = np.mean([r["ce"] for r in records[-5:]])
    assert final < 0.8 * unigram, (final, unigram, records[0]["ce"])
    assert set(records[-1]["task_ce"]) <= {t.name for t in SUITE.tasks}
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 60 and json.loads(lines[-1])["step"] == 60


def test_resume_is_bit_identical(tmp_path, registry):
    data = clips(6)
    straight = Trainer(config(tmp_path / "a", steps=6), registry, clips=data, progress=False).train()
    Trainer(config(tmp_path / "b", steps=6), registry, clips=data, progress=False).train(steps=3)
    resumed = Trainer(config(tmp_path / "b", steps=6), registry, clips=data, progress=False).train()
    for a, b in zip(params(straight), params(resumed)):
        assert np.array_equal(a, b)


def test_config_errors_name_key_and_file(tmp_path):
    (tmp_path / "t.toml").write_text('out_dir = "x"\n[data]\nseq_len = 64\nsuit = "archon72"\n')
    with pytest.raises(ConfigError, match=r"t.toml: invalid TrainConfig: unknown key\(s\) suit in data"):
        load_train_config(tmp_path / "t.toml")


@pytest.mark.parametrize("too_long", ["error", "drop"])
def test_window_too_small_for_one_example(tmp_path, registry, too_long):
    cfg = TrainConfig(out_dir=str(tmp_path), steps=1, data=DataConfig(suite="toy", seq_len=32, batch_size=1, too_long=too_long))
    with pytest.raises(ConfigError, match=r"data.seq_len=32: the context window is too small for one example of task\(s\) "
                                          r"speech\(c\)->expression\(c\) \(\d+ tokens\)"):
        Trainer(cfg, registry, clips=clips(2), progress=False)


def test_cli_train_and_estimate_weights(tmp_path, registry, monkeypatch):
    from typer.testing import CliRunner

    import archon_framework.cli as cli
    from archon_framework.data import write_dataset

    write_dataset(tmp_path / "data", clips(4), static={"image": True})
    (tmp_path / "train.toml").write_text(f"""
out_dir = "{tmp_path / 'run'}"
steps = 2
[data]
dataset = "{tmp_path / 'data'}"
suite = "toy"
seq_len = 512
batch_size = 2
packing_bins = 2
[checkpoint]
every = 1
keep = 1
""")
    monkeypatch.setattr(cli._common, "load_registry", lambda: registry)
    runner = CliRunner()
    result = runner.invoke(cli.app, ["train", "--config", str(tmp_path / "train.toml"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.isdigit()] == ["2"]  # keep=1
    result = runner.invoke(cli.app, ["estimate-weights", "--config", str(tmp_path / "train.toml"), "--out", str(tmp_path / "w.json"), "--batches", "6"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "w.json").read_text())
    assert report["checkpoint_step"] == 2 and set(report["perplexities"]) == {t.name for t in SUITE.tasks}
    assert sum(report["weights"].values()) == pytest.approx(1.0)
    assert all(p >= 1.0 for p in report["perplexities"].values())


SHARDED = """
import sys, json
sys.path[:0] = {paths!r}
import jax
from archon_framework.train import MeshConfig, Trainer
from test_train import config, SUITE
from test_examples import clips
from core_toys import SuitePlugin, ToyPlugin, array_modality
from archon_framework.testing import make_registry
import attrs
reg = make_registry(("toy", ToyPlugin(array_modality("speech", 16, phrase="speech audio"),
                                      array_modality("expression", 32, phrase="facial expression"),
                                      array_modality("image", 64, temporal=False, phrase="reference image"))),
                    ("suite", SuitePlugin(SUITE)), with_byte_text=True)
assert len(jax.devices()) == 4
out = {{}}
for name, mesh, devices in (("one", MeshConfig(data=1), jax.devices()[:1]), ("dp4", MeshConfig(data=4), None), ("dp2_fsdp2", MeshConfig(data=2, fsdp=2), None)):
    cfg = attrs.evolve(config({tmp!r} + "/" + name, steps=3), mesh=mesh)
    cfg = attrs.evolve(cfg, data=attrs.evolve(cfg.data, batch_size=4))
    losses = []
    Trainer(cfg, reg, clips=clips(6), devices=devices, progress=False).train(on_step=lambda s, r: losses.append(r["loss"]))
    out[name] = losses
print(json.dumps(out))
"""


@pytest.mark.slow
def test_sharded_loss_matches_one_device(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).parent
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SHARDED.format(paths=[str(here)], tmp=str(tmp_path))],
                          capture_output=True, text=True, env=env, cwd=here)
    assert proc.returncode == 0, proc.stderr[-3000:]
    losses = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("dp4", "dp2_fsdp2"):
        assert np.allclose(losses[name], losses["one"], atol=1e-5, rtol=0), losses


def test_a_run_records_its_suite_so_its_checkpoint_loads_without_the_plugin_suite(tmp_path, registry):
    import attrs

    from archon_framework.infer import load_checkpoint
    from archon_framework.train import read_run_suite

    Trainer(config(tmp_path, steps=1), registry, clips=clips(3), progress=False).train()
    recorded = read_run_suite(tmp_path)
    assert recorded is not None and recorded.name == "toy" and recorded.tasks == SUITE.tasks
    bare = attrs.evolve(registry, suites={})  # the suite's plugin is gone (or it was composed in Python)
    assert load_checkpoint(tmp_path, bare).suite.tasks == SUITE.tasks
    resumed = Trainer(config(tmp_path, steps=2), bare, clips=clips(3), progress=False)  # resumes from the record
    assert resumed.suite.tasks == SUITE.tasks
    changed = attrs.evolve(registry, suites={"toy": TaskSuite("toy", SUITE.tasks[:2])})
    with pytest.raises(ConfigError, match=r"trained on the 3 tasks of .*suite.json.*train into a new out_dir"):
        Trainer(config(tmp_path, steps=2), changed, clips=clips(3), progress=False)
