"""Determinism, synchronization, dtypes and ranges of generated clips; config and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import ConfigError, DataError
from archon_semantic_magvit import LABELS
from archon_synthetic_heads import SPLITS, SynthConfig, generate_clip, load_corpus, split_sentences
from archon_text_t5 import validate_description


def _same(a, b) -> bool:
    if set(a) != set(b) or a.meta != b.meta:
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray):
            if x.dtype != y.dtype or not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


def test_same_seed_and_index_give_the_same_clip():
    a = generate_clip(3, seed=5, seconds=0.5)
    b = generate_clip(3, seed=5, seconds=0.5)
    assert _same(a, b)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(st.integers(0, 2**31), st.integers(0, 10**6), st.sampled_from(SPLITS), st.floats(0.1, 0.3))
def test_any_clip_is_reproducible_and_synchronized(seed, index, split, seconds):
    cfg = SynthConfig(with_video=False)
    a = generate_clip(index, seed=seed, seconds=seconds, split=split, config=cfg)
    b = generate_clip(index, seed=seed, seconds=seconds, split=split, config=cfg)
    assert _same(a, b)
    frames = a.meta.frames
    assert len(a["speech"]) == a.meta.samples
    assert len(a["expression"]) == len(a["pose"]) == len(a["semantic"]) == frames


def test_seed_index_and_split_change_the_clip():
    base = generate_clip(3, seed=5, seconds=0.5)
    for other in (generate_clip(4, seed=5, seconds=0.5), generate_clip(3, seed=6, seconds=0.5),
                  generate_clip(3, seed=5, seconds=0.5, split="test")):
        assert other.clip_id != base.clip_id
        assert not np.array_equal(other["identity"], base["identity"])


@pytest.mark.parametrize("seconds", [0.5, 0.7, 1.0])
def test_modalities_are_synchronized(seconds):
    clip = generate_clip(1, seed=2, seconds=seconds)
    meta = clip.meta
    frames, samples = round(seconds * 30), round(seconds * 16000)
    assert (meta.frames, meta.samples, meta.frame_rate, meta.sample_rate) == (frames, samples, 30, 16000)
    assert meta.source == "synthetic_heads" and meta.duration == seconds
    assert clip["speech"].shape == (samples,) and clip["speech"].dtype == np.float32
    assert np.abs(clip["speech"]).max() <= 1.0 and np.abs(clip["speech"]).max() > 0.05
    assert clip["identity"].shape == (100,) and clip["identity"].dtype == np.float32
    assert clip["expression"].shape == (frames, 50) and clip["expression"].dtype == np.float32
    assert clip["pose"].shape == (frames, 6) and clip["pose"].dtype == np.float32
    assert clip["semantic"].shape == (frames, 128, 128) and clip["semantic"].dtype == np.uint8
    assert clip["semantic"].max() < len(LABELS)
    assert clip["video"].shape == (frames, 256, 256, 3) and clip["video"].dtype == np.uint8
    assert np.array_equal(clip["image"], clip["video"][0])
    assert isinstance(clip["script"], str) and clip["script"]


def test_every_label_family_appears_across_clips(clips):
    seen = set()
    for clip in clips:
        seen |= set(np.unique(clip["semantic"]).tolist())
    always = ("background", "face", "neck", "ears", "upper_lip", "lower_lip", "nostrils", "brows",
              "lashes", "teeth", "tongue", "other_in_the_mouth", "pupil", "iris", "sclera", "clothes")
    assert {LABELS.index(n) for n in always} <= seen


def test_description_is_valid_and_canonical(clips):
    for clip in clips:
        desc = clip["description"]
        assert validate_description(desc) == desc
        json.dumps(desc)  # plain JSON


def test_script_words_come_from_the_split_corpus(clips):
    words = {w.strip(".,?!").lower() for s in split_sentences("train") for w in s.split()}
    for clip in clips:
        for w in clip["script"].split():
            assert w.strip(".,?!").lower() in words


def test_held_out_sentences_are_disjoint_from_training():
    train = set(split_sentences("train"))
    for split in SPLITS[1:]:
        held = set(split_sentences(split))
        assert held and not (held & train)
    assert sum(len(split_sentences(s)) for s in SPLITS) == len(load_corpus()) >= 200


def test_without_video_keeps_the_image():
    clip = generate_clip(0, seed=1, seconds=0.3, config=SynthConfig(with_video=False))
    assert "video" not in clip and clip["image"].shape == (256, 256, 3)
    full = generate_clip(0, seed=1, seconds=0.3)
    assert np.array_equal(clip["image"], full["image"])


def test_bad_arguments_are_refused():
    with pytest.raises(DataError, match="split"):
        generate_clip(0, seed=0, seconds=0.5, split="dev")
    with pytest.raises(DataError, match="index"):
        generate_clip(-1, seed=0, seconds=0.5)
    with pytest.raises(DataError, match="0.1..600"):
        generate_clip(0, seed=0, seconds=0.01)


def test_shipped_config_loads_and_bad_keys_are_refused(tmp_path):
    assert SynthConfig.load() == SynthConfig()
    bad = tmp_path / "bad.toml"
    bad.write_text("[synthetic_heads]\nseconds = 2.0\nglasses_probability = 0.5\n")
    with pytest.raises(ConfigError, match="glasses_probability"):
        SynthConfig.load(bad)
    with pytest.raises(ConfigError, match="p_glasses"):
        SynthConfig(p_glasses=1.5)


def test_a_performed_clip_is_the_generated_clip_without_its_rendered_modalities():
    from archon_synthetic_heads import SynthConfig, generate_clip, performed_clip

    cfg = SynthConfig(with_video=False)
    full = generate_clip(3, seed=5, seconds=0.5, config=cfg)
    performed = performed_clip(3, seed=5, seconds=0.5, config=cfg)
    assert performed.meta == full.meta
    assert set(performed.values) == {"speech", "script", "identity", "expression", "pose", "description"}
    for name, value in performed.values.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, full[name])
        else:
            assert value == full[name], name


def test_the_mixed_dataset_renders_every_fourth_clip_and_holds_the_same_values():
    from archon_synthetic_heads import mixed_clip, performed_clip
    from archon_synthetic_heads._plugin import dataset_specs

    cfg = SynthConfig(with_video=False)
    rendered, performed = (mixed_clip(i, seed=2, seconds=0.5, config=cfg) for i in (4, 5))
    assert {"semantic", "image"} <= set(rendered.values) and "image" not in performed.values
    full = generate_clip(4, seed=2, seconds=0.5, config=cfg)
    np.testing.assert_array_equal(rendered["semantic"], full["semantic"])
    assert performed.meta == performed_clip(5, seed=2, seconds=0.5, config=cfg).meta
    np.testing.assert_array_equal(performed["expression"], performed_clip(5, seed=2, seconds=0.5)["expression"])
    spec = {s.name: s for s in dataset_specs()}["synthetic_heads_mixed"]
    assert "image" in spec.generate(0, seed=0, seconds=0.5).values
    assert "image" not in spec.generate(1, seed=0, seconds=0.5).values
    with pytest.raises(DataError, match="rendered_every must be >= 1"):
        mixed_clip(0, seed=0, rendered_every=0)
