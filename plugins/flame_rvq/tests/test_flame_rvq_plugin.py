"""The plugin's declarations, its registry entry and the core's conformance kit."""

from __future__ import annotations

import numpy as np
import pytest

from archon_framework import ClipMeta, ConfigError, PluginError, RawValueError
from archon_framework.testing import check_modality, check_tokenizer, make_registry
from archon_flame_rvq import FlameTokenizer, flame_modalities, synthetic_flame_clips
from archon_flame_rvq import _plugin as plugin_module

META = ClipMeta(clip_id="conformance", duration=1.0, frame_rate=30.0, sample_rate=16_000)
META_ODD = ClipMeta(clip_id="odd", duration=0.3, frame_rate=30.0, sample_rate=16_000)  # 9 frames


@pytest.fixture(scope="module")
def modalities():
    return {m.name: m for m in plugin_module.archon_modalities()}


@pytest.fixture(scope="module")
def clip():
    return synthetic_flame_clips(1, seconds=1.0, seed=4)[0]


def test_declarations(modalities):
    assert sorted(modalities) == ["expression", "identity", "pose"]
    assert {n: m.vocabulary.size for n, m in modalities.items()} == {
        "identity": 4096, "expression": 16384, "pose": 3072}
    assert {n: m.vocabulary.name for n, m in modalities.items()} == {n: n for n in modalities}
    assert {n: m.temporal for n, m in modalities.items()} == {
        "identity": False, "expression": True, "pose": True}
    assert modalities["identity"].phrase == "facial identity (FLAME shape)"
    assert modalities["expression"].phrase == "facial expression (FLAME)"
    assert modalities["pose"].phrase == "head pose"
    assert modalities["expression"].tokens_per_second == 60.0
    assert modalities["pose"].tokens_per_second == 45.0
    assert modalities["identity"].tokens_per_second is None
    assert modalities["expression"].token_count(META) == 8 * 8
    assert modalities["pose"].token_count(META_ODD) == 3 * 6
    assert modalities["identity"].token_count(META_ODD) == 8


def test_supplementary_variant_changes_the_vocabularies():
    sizes = {m.name: m.vocabulary.size for m in flame_modalities(variant="supplementary")}
    assert sizes == {"identity": 12 * 512, "expression": 8 * 2048, "pose": 12 * 512}
    with pytest.raises(ConfigError, match="variant"):
        flame_modalities(variant="appendix")


@pytest.mark.parametrize("name", ["identity", "expression", "pose"])
def test_conformance_kit(modalities, clip, name):
    mod = modalities[name]
    check_modality(mod, meta=clip.meta, raw=clip[name])
    tok = mod.tokenizer(None)
    ids = check_tokenizer(mod, tok, meta=clip.meta, raw=clip[name])
    assert ids.shape == (mod.token_count(clip.meta),)
    if name != "identity":  # a window that is not a multiple of 4 frames
        raw = clip[name][:9]
        check_tokenizer(mod, tok, meta=META_ODD, raw=raw)
    with pytest.raises(RawValueError, match=name):
        mod.check_raw(np.full_like(clip[name], np.nan), clip.meta)


def test_registry_and_saved_artifacts(tmp_path, modalities, clip):
    registry = make_registry(("flame_rvq", plugin_module))
    assert registry.modality("pose").vocabulary.size == 3072
    default = registry.tokenizer("pose")
    default.save(tmp_path / "pose")
    loaded = registry.tokenizer("pose", tmp_path)
    np.testing.assert_array_equal(loaded.encode(clip["pose"], meta=clip.meta),
                                  default.encode(clip["pose"], meta=clip.meta))
    # An artifact of the wrong modality, or with other codebooks, is refused by name.
    (tmp_path / "expression").mkdir()
    for f in (tmp_path / "pose").iterdir():
        (tmp_path / "expression" / f.name).write_bytes(f.read_bytes())
    with pytest.raises(PluginError, match="expression"):
        registry.tokenizer("expression", tmp_path)


def test_factory_refuses_another_level_count(tmp_path, tiny_config):
    import attrs

    cfg = tiny_config("pose")
    cfg = attrs.evolve(cfg, model=attrs.evolve(cfg.model, num_levels=2, codebook_size=4))
    FlameTokenizer.untrained(cfg).save(tmp_path)
    mods = {m.name: m for m in flame_modalities()}
    with pytest.raises(ConfigError, match="2 levels x 4 codes.*declares 6 levels"):
        mods["pose"].tokenizer(tmp_path)


def test_another_codebook_size_sizes_the_vocabulary(tmp_path, tiny_config):
    """Same levels, smaller codebooks: the registry's layout follows the saved config."""
    import attrs

    cfg = tiny_config("pose")
    cfg = attrs.evolve(cfg, model=attrs.evolve(cfg.model, codebook_size=16))
    FlameTokenizer.untrained(cfg).save(tmp_path / "pose")
    reg = make_registry(("flame_rvq", plugin_module)).for_artifacts(tmp_path)
    assert reg.modality("pose").vocabulary.size == cfg.model.num_levels * 16
    assert reg.tokenizer("pose", tmp_path).vocabulary == reg.modality("pose").vocabulary
