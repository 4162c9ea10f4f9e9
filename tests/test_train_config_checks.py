"""Issue 28, defect 2: a training config is resolved and validated, with every error named,
before any file is written or any data read (`check_train_config`, called first by
`Trainer.__init__` and `archon train`)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import archon_framework.cli as cli
from archon_framework import ConfigError, Slot, Task, TaskSuite
from archon_framework.testing import make_registry
from archon_framework.train import DataConfig, ModelSection, OptimConfig, TrainConfig, Trainer, check_train_config, load_train_config

from core_toys import SuitePlugin, ToyPlugin, array_modality

SUITE = TaskSuite("toy", (Task((Slot("speech", "c"),), Slot("expression", "c")),))


@pytest.fixture(scope="module")
def registry():
    return make_registry(("toy", ToyPlugin(array_modality("speech", 16), array_modality("expression", 32))),
                         ("suite", SuitePlugin(SUITE)), with_byte_text=True)


def _config(tmp_path, **changes):
    data = {"suite": "toy", "seq_len": 256, "batch_size": 1, "packing_bins": 1, "dataset": str(tmp_path / "data")}
    data.update(changes.pop("data", {}))
    return TrainConfig(out_dir=str(tmp_path / "run"), data=DataConfig(**data), **changes)


def _dataset(tmp_path):
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "archon-dataset.json").write_text('{"format": "archon-dataset/1", "modalities": {}, "shards": []}')


def test_an_unknown_model_config_fails_before_the_run_directory_exists(tmp_path, registry):
    _dataset(tmp_path)
    cfg = _config(tmp_path, model=ModelSection(config="huge"))
    with pytest.raises(ConfigError, match=r"model\.config = 'huge'.*neither a file nor one of the shipped configs"):
        Trainer(cfg, registry, progress=False)
    assert not (tmp_path / "run").exists()  # no layout.json, no suite.json, no token cache


def test_every_problem_is_named_at_once(tmp_path, registry):
    cfg = _config(tmp_path, model=ModelSection(config="huge"),
                  optim=OptimConfig(peak_lr=1e-3, end_lr=1e-2, warmup_fraction=1.5),
                  data={"suite": "nope", "weights": "nowhere.json", "past_fraction": 0.0})
    with pytest.raises(ConfigError) as caught:
        check_train_config(cfg, registry)
    message = str(caught.value)
    for field in ("model.config = 'huge'", "optim.end_lr = 0.01", "optim.warmup_fraction = 1.5",
                  "data.past_fraction = 0.0", "data.dataset = ", "not a dataset directory",
                  "data.suite = 'nope': no installed plugin provides it", "data.weights = 'nowhere.json'"):
        assert field in message, field
    assert not (tmp_path / "run").exists()


def test_a_valid_config_resolves_its_model_config(tmp_path, registry):
    _dataset(tmp_path)
    model = check_train_config(_config(tmp_path), registry)
    assert model.max_seq_len >= 256 and model.d_model > 0
    assert check_train_config(_config(tmp_path, data={"dataset": ""}), registry, dataset_needed=False)
    with pytest.raises(ConfigError, match="data.dataset is empty"):
        check_train_config(_config(tmp_path, data={"dataset": ""}), registry)


def test_no_text_vocabulary_is_named(tmp_path):
    _dataset(tmp_path)
    bare = make_registry(("toy", ToyPlugin(array_modality("speech", 16), array_modality("expression", 32))),
                         ("suite", SuitePlugin(SUITE)))
    with pytest.raises(ConfigError, match="'text' vocabulary"):
        check_train_config(_config(tmp_path), bare)


@pytest.mark.parametrize(("line", "message"), [
    ("steps = 8.5", "steps: expected an integer, got 8.5"),
    ("steps = true", "steps: expected an integer, got True"),
    ('[model]\nconfig = "huge"', "model.config = 'huge'"),
])
def test_cli_train_refuses_a_bad_config_before_writing_anything(tmp_path, registry, monkeypatch, line, message):
    _dataset(tmp_path)
    (tmp_path / "train.toml").write_text(f'out_dir = "{tmp_path / "run"}"\n{line}\n[data]\ndataset = "{tmp_path / "data"}"\nsuite = "toy"\n'
                                         if not line.startswith("[") else
                                         f'out_dir = "{tmp_path / "run"}"\n[data]\ndataset = "{tmp_path / "data"}"\nsuite = "toy"\n{line}\n')
    monkeypatch.setattr(cli._common, "load_registry", lambda: registry)
    result = CliRunner().invoke(cli.app, ["train", "--config", str(tmp_path / "train.toml"), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "run").exists()


def test_integral_floats_are_integers(tmp_path):
    (tmp_path / "t.toml").write_text(f'out_dir = "{tmp_path}"\nsteps = 1e3\n')
    assert load_train_config(tmp_path / "t.toml").steps == 1000


def test_cli_train_says_which_step_it_resumes_from(tmp_path, registry, monkeypatch):
    """Issue 28, defect 6: a resumed run says where it resumes."""
    import numpy as np

    from archon_framework import Clip, ClipMeta
    from archon_framework.data import write_dataset

    rng = np.random.default_rng(0)
    clips = [Clip(ClipMeta(clip_id=f"c{i}", duration=0.4, frame_rate=10, sample_rate=100),
                  {"speech": rng.uniform(0, 1, (4, 2)).astype(np.float32), "expression": rng.uniform(0, 1, (4, 2)).astype(np.float32)})
             for i in range(3)]
    write_dataset(tmp_path / "data", clips)
    (tmp_path / "train.toml").write_text(
        f'out_dir = "{tmp_path / "run"}"\nsteps = 2\nlog_every = 1\n[data]\ndataset = "{tmp_path / "data"}"\nsuite = "toy"\n'
        "seq_len = 256\nbatch_size = 1\npacking_bins = 1\n[checkpoint]\nevery = 1\nkeep = 1\n")
    monkeypatch.setattr(cli._common, "load_registry", lambda: registry)
    runner = CliRunner()
    first = runner.invoke(cli.app, ["train", "--config", str(tmp_path / "train.toml"), "--steps", "1", "--no-progress"])
    assert first.exit_code == 0, first.output
    assert "resuming" not in first.stderr
    # Run again to the same step: it resumes, says so, and has nothing left to train (no compile).
    again = runner.invoke(cli.app, ["train", "--config", str(tmp_path / "train.toml"), "--steps", "1", "--no-progress"])
    assert again.exit_code == 0, again.output
    assert "from its checkpoint at step 1 (training to step 1)" in " ".join(again.stderr.split())
    assert "trained to step 1" in again.stdout
