"""Rendering given parameters: a clip's own parameters re-render to its own labels; the cheap
parameter-only generators agree with generate_clip; bad parameters are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import DataError, RawValueError
from archon_semantic_magvit import LABEL_INDEX
from archon_synthetic_heads import (
    SEMANTIC_SIZE,
    clip_appearance,
    generate_parameters,
    neutral_appearance,
    render_parameters,
    sample_identities,
)

L = LABEL_INDEX


def test_a_clips_parameters_rerender_to_its_semantic_video(clips):
    for index in (0, 3, 7):
        clip = clips[index]
        app = clip_appearance(index, seed=11)
        np.testing.assert_array_equal(app.identity, clip["identity"])
        labels = render_parameters(clip["identity"], clip["expression"], clip["pose"], appearance=app)
        assert labels.dtype == np.uint8 and labels.shape == clip["semantic"].shape
        np.testing.assert_array_equal(labels, clip["semantic"])


def test_parameter_only_generation_matches_generate_clip(clips):
    for index in (1, 4):
        params = generate_parameters(index, seed=11, seconds=1.0)
        assert params.meta == clips[index].meta
        assert sorted(params.values) == ["expression", "identity", "pose"]
        for name in ("identity", "expression", "pose"):
            np.testing.assert_array_equal(params[name], clips[index][name])
    identities = sample_identities(5, seed=11)
    assert identities.shape == (5, 100) and identities.dtype == np.float32
    np.testing.assert_array_equal(identities, np.stack([c["identity"] for c in clips[:5]]))
    np.testing.assert_array_equal(sample_identities(2, seed=11, start=3), identities[3:5])
    other = sample_identities(5, seed=11, split="test")
    assert not np.allclose(other, identities)


def test_the_neutral_person_shows_the_face_and_nothing_over_it():
    frames = 3
    labels = render_parameters(np.zeros(100), np.zeros((frames, 50)), np.zeros((frames, 6)))
    assert labels.shape == (frames, SEMANTIC_SIZE, SEMANTIC_SIZE)
    for name in ("face", "sclera", "iris", "upper_lip", "lower_lip", "hair"):
        assert (labels == L[name]).any(), name
    for name in ("glasses", "beard", "headwear", "accessory"):
        assert not (labels == L[name]).any(), name
    assert neutral_appearance(300).identity.shape == (300,)
    # A seeded random person is reproducible.
    a = render_parameters(np.zeros(100), np.zeros((1, 50)), np.zeros((1, 6)), seed=5)
    np.testing.assert_array_equal(a, render_parameters(np.zeros(100), np.zeros((1, 50)), np.zeros((1, 6)), seed=5))


def test_expression_drives_the_rendered_labels():
    expression = np.zeros((2, 50), np.float32)
    expression[1, 0] = 1.0  # jaw_open
    labels = render_parameters(np.zeros(100), expression, np.zeros((2, 6)))
    mouth = [int(np.isin(f, [L["teeth"], L["tongue"], L["other_in_the_mouth"]]).sum()) for f in labels]
    assert mouth[0] == 0 < mouth[1]


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 3), scale=st.floats(0.0, 3.0))
def test_any_finite_parameters_render_to_valid_labels(seed, frames, scale):
    rng = np.random.default_rng(seed)
    shape = rng.normal(size=100) * scale
    expression = rng.normal(size=(frames, 50)) * scale
    pose = np.concatenate([rng.normal(size=(frames, 3)) * scale, rng.normal(size=(frames, 3)) * 0.3 * scale], 1)
    labels = render_parameters(shape, expression, pose, seed=seed)
    assert labels.shape == (frames, SEMANTIC_SIZE, SEMANTIC_SIZE) and labels.dtype == np.uint8
    assert labels.max() < len(L)


@pytest.mark.parametrize(
    ("shape", "expression", "pose", "match"),
    [
        (np.zeros((1, 100)), np.zeros((2, 50)), np.zeros((2, 6)), r"shape must be \[shape_dim\]"),
        (np.zeros(100), np.zeros(50), np.zeros((2, 6)), r"expression must be \[frames"),
        (np.zeros(100), np.zeros((2, 8)), np.zeros((2, 6)), "8 components"),
        (np.zeros(100), np.zeros((2, 50)), np.zeros((2, 5)), r"pose must be \[frames, 6\]"),
        (np.zeros(100), np.zeros((2, 50)), np.zeros((3, 6)), "2 frames, pose 3"),
        (np.zeros(100), np.full((2, 50), np.nan), np.zeros((2, 6)), "expression contains NaN"),
        (np.full(100, np.inf), np.zeros((2, 50)), np.zeros((2, 6)), "shape contains NaN or infinite"),
        (np.zeros(100), np.zeros((2, 50)), np.array([["a"] * 6] * 2), "pose must be a float array"),
    ],
)
def test_bad_parameters_are_refused(shape, expression, pose, match):
    with pytest.raises(RawValueError, match=match):
        render_parameters(shape, expression, pose)


def test_bad_clip_references_are_refused():
    with pytest.raises(DataError, match="unknown split"):
        clip_appearance(0, seed=0, split="dev")
    with pytest.raises(DataError, match="index and seed"):
        sample_identities(2, seed=-1)
    with pytest.raises(DataError, match="outside"):
        generate_parameters(0, seed=0, seconds=0.01)
    assert render_parameters(np.zeros(100), np.zeros((0, 50)), np.zeros((0, 6))).shape == (0, 128, 128)
