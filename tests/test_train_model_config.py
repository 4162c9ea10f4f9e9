"""A run records the model config it was trained with; loading reads it; resuming checks it."""

from __future__ import annotations

import json

import pytest

from archon_framework import ConfigError
from archon_framework.infer import load_checkpoint
from archon_framework.model import load_model_config
from archon_framework.train import MODEL_CONFIG_FILE, Trainer

from test_examples import clips
from test_train import config, registry  # noqa: F401  (the toy registry fixture)

TOML = """[model]
vocab_size = 512
d_model = 32
n_layers = 1
n_heads = 2
n_kv_heads = 1
d_ff = 64
max_seq_len = 512
time_pairs = {pairs}
"""


def _config(tmp_path, out, pairs: int):
    (tmp_path / "lm.toml").write_text(TOML.format(pairs=pairs))
    cfg = config(out, steps=2)
    import attrs

    return attrs.evolve(cfg, model=attrs.evolve(cfg.model, config=str(tmp_path / "lm.toml")))


def test_the_recorded_config_loads_the_checkpoint_after_its_file_is_gone(tmp_path, registry):  # noqa: F811
    out = tmp_path / "run"
    Trainer(_config(tmp_path, out, pairs=2), registry, clips=clips(4), progress=False).train()
    recorded = json.loads((out / MODEL_CONFIG_FILE).read_text())
    assert recorded["d_model"] == 32 and recorded["time_pairs"] == 2
    assert load_model_config(str(tmp_path / "lm.toml")).time_pairs == 2
    (tmp_path / "lm.toml").unlink()  # the named file is gone: the record is what loads
    model = load_checkpoint(out, registry)
    assert model.lm.config.time_pairs == 2 and model.lm.config.d_model == 32


def test_resuming_with_a_changed_model_config_is_refused(tmp_path, registry):  # noqa: F811
    out = tmp_path / "run"
    Trainer(_config(tmp_path, out, pairs=2), registry, clips=clips(4), progress=False).train(steps=1)
    with pytest.raises(ConfigError, match=rf"{MODEL_CONFIG_FILE}: this run was trained with another model config .* "
                                          r"\(differs in time_pairs\)"):
        Trainer(_config(tmp_path, out, pairs=0), registry, clips=clips(4), progress=False)
