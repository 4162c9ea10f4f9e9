"""Animation parameter error in normalized units."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import RawValueError
from archon_flame_rvq import Normalizer
from archon_eval_metrics import animation_metrics, normalized_rmse, reference_scale


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(1e-3, 1e3))
def test_perfect_is_zero_and_units_do_not_matter(seed, scale):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(20, 6))
    pred = ref + rng.normal(scale=0.3, size=ref.shape)
    assert normalized_rmse(ref, ref, modality="pose") == 0.0
    # the error is in units of the reference: rescaling both leaves it unchanged
    assert normalized_rmse(scale * pred, scale * ref, modality="pose") == pytest.approx(
        normalized_rmse(pred, ref, modality="pose"), rel=1e-9)


def test_predicting_the_mean_scores_one():
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)[:, None]
    ref = np.concatenate([np.sin(t), 10 * np.cos(t), 0.01 * np.sin(2 * t)], axis=1)  # very different units
    # per-dimension scales: a dimension at or above the pooled std is in its own units
    mean = np.broadcast_to(ref.mean(axis=0), ref.shape)
    s = reference_scale(ref, temporal=True)
    pooled = np.sqrt(np.mean(ref.std(axis=0) ** 2))
    np.testing.assert_allclose(s, [pooled, 10 * np.sqrt(0.5), pooled])
    expected = np.sqrt(np.mean(((mean - ref) / s) ** 2))
    assert normalized_rmse(mean, ref, modality="expression") == pytest.approx(expected)
    equal = np.concatenate([np.sin(t), np.cos(t)], axis=1)  # equal stds: exactly 1
    assert normalized_rmse(np.zeros_like(equal), equal, modality="expression") == pytest.approx(1.0)


def test_a_still_dimension_does_not_explode():
    ref = np.zeros((30, 3))
    ref[:, 0] = np.sin(np.arange(30))  # dims 1 and 2 never move in this clip
    pred = ref.copy()
    pred[:, 2] = 0.1  # a small error where the reference is still
    assert normalized_rmse(pred, ref, modality="pose") < 1.0


def test_identity_is_the_relative_error():
    ref = np.array([3.0, 4.0, 0.0, 0.0])
    pred = np.array([3.0, 4.0, 1.0, 0.0])
    # RMSE = sqrt(1/4), reference RMS = sqrt(25/4): ratio 1/5
    assert normalized_rmse(pred, ref, modality="identity") == pytest.approx(0.2)


def test_tokenizer_normalization_sets_the_units():
    rng = np.random.default_rng(0)
    train = [rng.normal(scale=[1.0, 5.0], size=(50, 2)) for _ in range(4)]
    normalizer = Normalizer.fit(train)
    metrics = {m.name: m for m in animation_metrics({"expression": normalizer})}
    ref = np.zeros((10, 2))
    pred = np.tile(normalizer.std, (10, 1))  # one std off in every dimension
    assert metrics["expression_param_nrmse"].fn(pred, ref, meta=None) == pytest.approx(1.0, rel=1e-6)
    assert "training set" in metrics["expression_param_nrmse"].description
    assert "reference" in metrics["pose_param_nrmse"].description  # no normalizer: the default
    assert {m.higher_is_better for m in metrics.values()} == {False}


def test_bad_inputs_name_the_metric_and_field():
    with pytest.raises(RawValueError, match=r"expression_param_nrmse: prediction 'expression' has shape \(9, 4\)"):
        normalized_rmse(np.zeros((9, 4)), np.zeros((10, 4)), modality="expression")
    with pytest.raises(RawValueError, match=r"identity_param_nrmse: prediction 'identity' must have 1 dimensions"):
        normalized_rmse(np.zeros((2, 4)), np.zeros(4), modality="identity")
    with pytest.raises(RawValueError, match=r"pose_param_nrmse: the scale must be positive"):
        normalized_rmse(np.zeros((2, 6)), np.zeros((2, 6)), modality="pose", scale=np.ones(5))
    with pytest.raises(RawValueError, match=r"unknown modality 'speech'"):
        normalized_rmse(np.zeros(3), np.zeros(3), modality="speech")
    with pytest.raises(RawValueError, match=r"normalizers for unknown modalities \['jaw'\]"):
        animation_metrics({"jaw": Normalizer.identity(2)})
    with pytest.raises(RawValueError, match=r"the pose normalizer has no 'std'"):
        animation_metrics({"pose": object()})
