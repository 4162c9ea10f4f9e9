"""The demo's tokenizer stage: a recipe's trainer options and the training seed reach the
trainer, are recorded with the stored tokenizer, and a stored tokenizer trained with other
options or another seed is trained again."""

from __future__ import annotations

import io
import json
from pathlib import Path

import attrs
import pytest
from rich.console import Console

from archon_framework import Clip, ClipMeta, ConfigError, hookimpl
from archon_framework.infer._demo import DemoConfig, _Demo, seed_change
from archon_framework.testing import byte_text_modalities, make_registry


class _Clips:
    modalities = ("script",)

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> Clip:
        return Clip(ClipMeta(clip_id=f"clip {i}", duration=1.0, frame_rate=25.0, sample_rate=16000),
                    {"script": f"clip {i}"})


def _registry(calls: list, *, takes_options: bool = True, seeds: list | None = None):
    seeds = [] if seeds is None else seeds

    def with_options(source, *, out_dir, steps=None, seconds=None, seed=0, progress=True, options=None):
        Path(out_dir).mkdir(parents=True)
        calls.append(dict(options or {}))
        seeds.append(seed)
        return {"steps": steps}

    def without(source, *, out_dir, steps=None, seconds=None, seed=0, progress=True):
        Path(out_dir).mkdir(parents=True)
        calls.append(None)
        return {"steps": steps}

    (script,) = byte_text_modalities()
    script = attrs.evolve(script, trainer=with_options if takes_options else without)

    class Plugin:
        @hookimpl
        def archon_modalities(self):
            return [script]

    return make_registry(("toy", Plugin()))


def _run(tmp_path, registry, *, tokenizers_from=None, seed=0, train_seed=None, **options) -> _Demo:
    cfg = DemoConfig(out=str(tmp_path), progress=False, tokenizer_steps={"script": 3}, seed=seed, train_seed=train_seed,
                     tokenizer_options={"script": options} if options else {},
                     tokenizers_from=None if tokenizers_from is None else str(tokenizers_from))
    demo = _Demo(cfg, None, registry, Console(file=io.StringIO()))  # type: ignore[arg-type]
    demo.tokenizers(_Clips())
    return demo


def test_options_reach_the_trainer_are_recorded_and_a_change_retrains(tmp_path):
    calls: list = []
    registry = _registry(calls)
    _run(tmp_path, registry, codebook_size=8)
    assert calls == [{"codebook_size": 8}]
    mark = json.loads((tmp_path / "tokenizers" / "script.json").read_text())
    assert mark["options"] == {"codebook_size": 8}
    _run(tmp_path, registry, codebook_size=8)  # the same options: the stored tokenizer is kept
    assert calls == [{"codebook_size": 8}]
    demo = _run(tmp_path, registry, codebook_size=16)  # other options: trained again
    assert calls == [{"codebook_size": 8}, {"codebook_size": 16}]
    assert any("trained with options {'codebook_size': 8}" in n for n in demo.notes)
    _run(tmp_path, registry)  # no options at all differs from {"codebook_size": 16} too
    assert calls[-1] == {}


def test_the_training_seed_reaches_the_trainer_and_another_one_retrains(tmp_path):
    calls: list = []
    seeds: list = []
    registry = _registry(calls, seeds=seeds)
    _run(tmp_path, registry, seed=5)  # no train_seed: the run's seed
    assert seeds == [5]
    assert json.loads((tmp_path / "tokenizers" / "script.json").read_text())["train_seed"] == 5
    _run(tmp_path, registry, seed=5, train_seed=5)  # the same seed, said either way: kept
    assert seeds == [5]
    demo = _run(tmp_path, registry, seed=5, train_seed=7)
    assert seeds == [5, 7]
    assert any("trained with seed 5, the run asks for 7: trained again" in n for n in demo.notes)
    assert json.loads((tmp_path / "tokenizers" / "script.json").read_text())["train_seed"] == 7


def test_a_mark_without_a_seed_was_trained_with_the_runs_seed(tmp_path):
    calls: list = []
    seeds: list = []
    registry = _registry(calls, seeds=seeds)
    _run(tmp_path, registry, seed=3)
    mark = tmp_path / "tokenizers" / "script.json"
    mark.write_text(json.dumps({k: v for k, v in json.loads(mark.read_text()).items() if k != "train_seed"}))
    _run(tmp_path, registry, seed=3)  # a mark written before train_seed existed: kept
    assert seeds == [3]
    _run(tmp_path, registry, seed=3, train_seed=4)
    assert seeds == [3, 4]


def test_config_training_seed():
    assert DemoConfig().training_seed == 0
    assert DemoConfig(seed=2).training_seed == 2
    assert DemoConfig(seed=2, train_seed=9).training_seed == 9
    assert DemoConfig(seed=2, train_seed=9).data_key["seed"] == 2  # the data does not depend on it


def test_seed_change_of_a_stored_lm_or_tokenizer():
    cfg = DemoConfig(seed=2, train_seed=9)
    assert seed_change(None, cfg) is None  # nothing stored
    assert seed_change({"steps": 4, "train_seed": 9}, cfg) is None
    assert seed_change({"steps": 4, "train_seed": 1}, cfg) == 1  # trained again, and said
    assert seed_change({"steps": 4}, cfg) == 2  # written before train_seed: the run's seed
    assert seed_change({"steps": 4}, DemoConfig(seed=2)) is None
    assert seed_change({"from": {"model": "m"}, "train_seed": 1}, cfg) is None  # copied: its model's seed


def test_options_for_a_trainer_that_takes_none_are_refused_by_modality(tmp_path):
    calls: list = []
    with pytest.raises(ConfigError, match="tokenizer_options.script: the tokenizer trainer of modality 'script'.*takes no options"):
        _run(tmp_path, _registry(calls, takes_options=False), codebook_size=8)
    assert calls == [] and not (tmp_path / "tokenizers" / "script.json").exists()
    _run(tmp_path, _registry(calls, takes_options=False))  # without options it trains as before
    assert calls == [None]


class _Mixed(_Clips):
    """Three clips, the middle one without a script (a mixed dataset's clip)."""

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> Clip:
        clip = super().__getitem__(i)
        return Clip(clip.meta, {} if i == 1 else clip.values)


def test_a_trainer_gets_only_the_clips_that_hold_its_modality(tmp_path):
    seen: list = []

    def trainer(source, *, out_dir, steps=None, seconds=None, seed=0, progress=True):
        Path(out_dir).mkdir(parents=True)
        seen.append([c.meta.clip_id for c in source])
        return {"steps": steps}

    (script,) = byte_text_modalities()

    class Plugin:
        @hookimpl
        def archon_modalities(self):
            return [attrs.evolve(script, trainer=trainer)]

    cfg = DemoConfig(out=str(tmp_path), progress=False, tokenizer_steps={"script": 3})
    demo = _Demo(cfg, None, make_registry(("toy", Plugin())), Console(file=io.StringIO()))  # type: ignore[arg-type]
    demo.tokenizers(_Mixed())
    assert seen == [["clip 0", "clip 2"]]
    assert any("trained on the 2 of 3 clips that hold script" in n for n in demo.notes)

    class Empty(_Mixed):
        def __getitem__(self, i: int) -> Clip:
            return Clip(super().__getitem__(i).meta, {})

    demo = _Demo(attrs.evolve(cfg, out=str(tmp_path / "empty")), None, make_registry(("toy", Plugin())),
                 Console(file=io.StringIO()))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="tokenizer script: no training clip holds script"):
        demo.tokenizers(Empty())
