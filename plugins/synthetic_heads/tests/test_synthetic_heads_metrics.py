"""The mouth-opening metric: what it rewards, what it refuses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import ClipMeta, RawValueError
from archon_synthetic_heads import _plugin
from archon_synthetic_heads._metrics import mouth_opening_correlation

META = ClipMeta(clip_id="c", duration=1.0, frame_rate=30.0, sample_rate=16000, source="synthetic_heads")


def _expr(jaw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = rng.normal(size=(jaw.size, 50))
    out[:, 0] = jaw
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), gain=st.floats(0.1, 10.0), offset=st.floats(-2.0, 2.0))
def test_it_reads_only_the_mouth_and_ignores_its_scale(seed, gain, offset):
    rng = np.random.default_rng(seed)
    jaw = rng.random(30)
    ref = _expr(jaw, rng)
    same_mouth = _expr(gain * jaw + offset, rng)  # every other dimension redrawn
    assert mouth_opening_correlation(same_mouth, ref, meta=META) == pytest.approx(1.0)
    assert mouth_opening_correlation(_expr(-jaw, rng), ref, meta=META) == pytest.approx(-1.0)
    r = mouth_opening_correlation(_expr(rng.random(30), rng), ref, meta=META)
    assert -1.0 <= r <= 1.0


def test_a_still_mouth_scores_zero_and_a_still_reference_none():
    rng = np.random.default_rng(0)
    ref = _expr(rng.random(30), rng)
    assert mouth_opening_correlation(_expr(np.full(30, 0.3), rng), ref, meta=META) == 0.0
    assert math.isnan(mouth_opening_correlation(ref, _expr(np.zeros(30), rng), meta=META))


@pytest.mark.parametrize(("pred", "ref", "meta", "match"), [
    (np.zeros((29, 50)), np.zeros((30, 50)), META, r"one length.*\(29, 50\).*\(30, 50\)"),
    (np.zeros(30), np.zeros((30, 50)), META, "frames, dims"),
    (np.full((30, 50), np.nan), np.ones((30, 50)), META, "non-finite"),
    (np.zeros((30, 50)), np.zeros((30, 50)), ClipMeta(clip_id="v", duration=1.0, frame_rate=30.0, sample_rate=16000,
                                                        source="my_videos"), "clip v.*comes from 'my_videos'"),
])
def test_bad_input_is_refused_naming_the_clip_and_shapes(pred, ref, meta, match):
    with pytest.raises(RawValueError, match=match):
        mouth_opening_correlation(pred, ref, meta=meta)


def test_the_plugin_registers_it_for_expression():
    (metric,) = _plugin.archon_metrics()
    assert metric.name == "mouth_opening_correlation" and metric.modalities == ("expression",)
    assert metric.higher_is_better and not metric.set_level
