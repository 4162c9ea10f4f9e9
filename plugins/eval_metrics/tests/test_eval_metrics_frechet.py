"""Fréchet distance: closed forms for Gaussians, identical and shifted sets, the features."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import RawValueError
from archon_semantic_magvit import LABEL_INDEX, NUM_LABELS
from archon_eval_metrics import (
    Gaussian,
    colour_histogram_features,
    fit_gaussian,
    frechet_distance,
    frechet_distance_gaussians,
    is_set_level,
    label_area_features,
)
from archon_eval_metrics._frechet import image_frechet_metric, semantic_frechet_metric, video_frechet_metric


def _random_spd(rng: np.random.Generator, dim: int) -> np.ndarray:
    a = rng.normal(size=(dim, dim))
    return a @ a.T + 0.5 * np.eye(dim)


def test_diagonal_gaussians_closed_form():
    a = Gaussian(np.array([0.0, 1.0, 2.0]), np.diag([1.0, 4.0, 9.0]))
    b = Gaussian(np.array([1.0, 1.0, 0.0]), np.diag([4.0, 4.0, 1.0]))
    # ||mu_a - mu_b||^2 + sum_d (sqrt(a_d) - sqrt(b_d))^2 = (1 + 0 + 4) + (1 + 0 + 4)
    assert frechet_distance_gaussians(a, b) == pytest.approx(10.0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), dim=st.integers(1, 6))
def test_agrees_with_scipy_sqrtm_and_is_a_symmetric_nonnegative_distance(seed, dim):
    rng = np.random.default_rng(seed)
    a = Gaussian(rng.normal(size=dim), _random_spd(rng, dim))
    b = Gaussian(rng.normal(size=dim), _random_spd(rng, dim))
    covmean = scipy.linalg.sqrtm(a.cov @ b.cov).real  # the FID reference formula
    expected = np.sum((a.mean - b.mean) ** 2) + np.trace(a.cov + b.cov - 2 * covmean)
    assert frechet_distance_gaussians(a, b) == pytest.approx(expected, rel=1e-7, abs=1e-9)
    assert frechet_distance_gaussians(a, b) == pytest.approx(frechet_distance_gaussians(b, a), rel=1e-7, abs=1e-9)
    assert frechet_distance_gaussians(a, a) == pytest.approx(0.0, abs=1e-8 * np.trace(a.cov))


def test_identical_sets_are_zero_and_a_mean_shift_adds_its_square():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5))
    scale = np.trace(np.cov(features, rowvar=False))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-9 * scale)
    for delta in (np.full(5, 0.5), np.array([3.0, 0, 0, 0, -4.0])):
        # the same covariance: the trace term vanishes and the distance is ||delta||^2
        assert frechet_distance(features, features + delta) == pytest.approx(delta @ delta, rel=1e-6)


def test_singular_covariances_stay_real_and_finite():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 42)), rng.normal(size=(4, 42))  # 4 clips, 42 features: rank 3
    value = frechet_distance(a, b)
    assert np.isfinite(value) and value > 0
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_a_set_of_one_is_the_squared_feature_distance():
    x, y = np.array([[1.0, 2.0]]), np.array([[4.0, 6.0]])
    assert fit_gaussian(x).cov.shape == (2, 2) and not fit_gaussian(x).cov.any()
    assert frechet_distance(x, y) == pytest.approx(25.0)


def test_label_area_features_known_values():
    video = np.zeros((2, 4, 4), np.uint8)
    video[0, :2] = LABEL_INDEX["face"]  # face covers 1/2 then 1/4 of the frame
    video[1, :1] = LABEL_INDEX["face"]
    f = label_area_features(video)
    assert f.shape == (2 * NUM_LABELS,)
    assert f[LABEL_INDEX["face"]] == pytest.approx(0.375)
    assert f[NUM_LABELS + LABEL_INDEX["face"]] == pytest.approx(0.125)
    assert f[: NUM_LABELS].sum() == pytest.approx(1.0)


def test_colour_histogram_features_known_values():
    image = np.zeros((2, 2, 3), np.uint8)
    image[..., 0] = [[0, 15], [16, 255]]  # red: bins 0, 0, 1, 15
    f = colour_histogram_features(image).reshape(3, 16)
    np.testing.assert_allclose(f[0, [0, 1, 15]], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(f.sum(axis=1), 1.0)
    assert f[1, 0] == 1.0  # green all zero
    video = np.stack([image, image])
    np.testing.assert_allclose(colour_histogram_features(video), colour_histogram_features(image))


def test_set_level_metrics_on_lists():
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (16, 16, 3)).astype(np.uint8) for _ in range(6)]
    brighter = [np.clip(i.astype(int) + 60, 0, 255).astype(np.uint8) for i in images]
    assert all(is_set_level(fn) for fn in (image_frechet_metric, video_frechet_metric, semantic_frechet_metric))
    assert image_frechet_metric(images, images) == pytest.approx(0.0, abs=1e-9)
    assert image_frechet_metric(images, brighter) > image_frechet_metric(images, images[::-1]) + 0.01
    # one value on each side: the squared distance of the two feature vectors
    d = colour_histogram_features(images[0]) - colour_histogram_features(images[1])
    assert image_frechet_metric(images[0], images[1]) == pytest.approx(d @ d)
    videos = [np.stack([i, i]) for i in images[:3]]
    assert video_frechet_metric(videos, videos) == pytest.approx(0.0, abs=1e-9)
    labels = [rng.integers(0, NUM_LABELS, (2, 8, 8)).astype(np.uint8) for _ in range(3)]
    assert semantic_frechet_metric(labels, labels) == pytest.approx(0.0, abs=1e-9)


def test_bad_inputs_name_the_metric_and_field():
    with pytest.raises(RawValueError, match=r"frechet_distance: the two feature sets have dimensions 3 and 4"):
        frechet_distance(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(RawValueError, match=r"image_colour_histogram_frechet: prediction 1 'image' must be RGB"):
        image_frechet_metric([np.zeros((4, 4, 3)), np.zeros((4, 4, 2))], [np.zeros((4, 4, 3))])
    with pytest.raises(RawValueError, match=r"semantic_label_area_frechet: reference 0 'semantic' must hold integer labels"):
        semantic_frechet_metric([np.zeros((1, 4, 4), np.uint8)], [np.full((1, 4, 4), 50, np.uint8)])
    with pytest.raises(RawValueError, match=r"video_colour_histogram_frechet: both sets need at least one clip"):
        video_frechet_metric([], [np.zeros((1, 4, 4, 3), np.uint8)])
    with pytest.raises(RawValueError, match=r"frechet_distance: the first feature set contains NaN"):
        frechet_distance(np.full((2, 2), np.nan), np.zeros((2, 2)))
