"""PSNR, SSIM, label accuracy and mean IoU on hand-made images with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from archon_framework import ClipMeta, RawValueError
from archon_eval_metrics import gaussian_window, ssim
from archon_eval_metrics._pixels import (
    image_psnr_metric,
    image_ssim_metric,
    semantic_accuracy_metric,
    semantic_iou_metric,
    video_psnr_metric,
    video_ssim_metric,
)

META = ClipMeta(clip_id="p", duration=0.1, frame_rate=30, sample_rate=16_000)
C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def _brute_force_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM straight from the definition: one explicit 11 x 11 weighted window per position."""
    w1 = gaussian_window()
    w = np.outer(w1, w1)
    x, y = x.astype(np.float64), y.astype(np.float64)
    values = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            values.append((2 * mx * my + C1) * (2 * cxy + C2) / ((mx**2 + my**2 + C1) * (vx + vy + C2)))
    return float(np.mean(values))


def test_gaussian_window_is_wang_et_al():
    w = gaussian_window()
    assert w.shape == (11,) and w.sum() == pytest.approx(1.0)
    assert w[5] / w[6] == pytest.approx(np.exp(0.5 / 1.5**2))


def test_ssim_matches_the_definition():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 23)).astype(np.uint8)
    y = np.clip(x + rng.normal(0, 30, x.shape), 0, 255).astype(np.uint8)
    assert float(ssim(x, y)) == pytest.approx(_brute_force_ssim(x, y), rel=1e-9)


@pytest.mark.parametrize("a,b", [(0, 255), (100, 110), (30, 200)])
def test_ssim_of_flat_images_is_the_luminance_term(a, b):
    x, y = np.full((16, 16), a, np.uint8), np.full((16, 16), b, np.uint8)
    assert float(ssim(x, y)) == pytest.approx((2 * a * b + C1) / (a * a + b * b + C1))


@settings(max_examples=20, deadline=None)
@given(arrays(np.uint8, (12, 14, 3)), arrays(np.uint8, (12, 14, 3)))
def test_ssim_is_one_on_itself_symmetric_and_bounded(x, y):
    assert np.allclose(ssim(x, x, axes=(0, 1)), 1.0)
    xy, yx = ssim(x, y, axes=(0, 1)), ssim(y, x, axes=(0, 1))
    np.testing.assert_allclose(xy, yx, rtol=1e-12)
    assert np.all(xy <= 1.0 + 1e-12) and np.all(xy >= -1.0 - 1e-12)


def test_ssim_falls_as_noise_grows():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:64, :64]
    image = np.stack([128 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)] * 3, axis=-1).astype(np.uint8)
    noise = rng.normal(size=image.shape)
    scores = [image_ssim_metric(np.clip(image + s * noise, 0, 255).astype(np.uint8), image, meta=META)
              for s in (0, 5, 20, 60)]
    assert scores[0] == pytest.approx(1.0)
    assert scores[0] > scores[1] > scores[2] > scores[3]


def test_psnr_known_values():
    image = np.full((8, 8, 3), 100, np.uint8)
    assert image_psnr_metric(image + 5, image, meta=META) == pytest.approx(10 * np.log10(255**2 / 25))
    assert image_psnr_metric(image, image, meta=META) == pytest.approx(10 * np.log10(255**2 / 1e-10))  # the cap
    video = np.stack([image, image + 5])  # frame PSNRs: capped, 34.15 dB -> their mean
    expected = (10 * np.log10(255**2 / 1e-10) + 10 * np.log10(255**2 / 25)) / 2
    assert video_psnr_metric(video, np.stack([image, image]), meta=META) == pytest.approx(expected)


def test_video_ssim_is_the_mean_of_frames():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (3, 16, 16, 3)).astype(np.uint8)
    b = rng.integers(0, 256, (3, 16, 16, 3)).astype(np.uint8)
    per_frame = [image_ssim_metric(a[i], b[i], meta=META) for i in range(3)]
    assert video_ssim_metric(a, b, meta=META) == pytest.approx(np.mean(per_frame))
    assert video_ssim_metric(a, a, meta=META) == pytest.approx(1.0)


def test_label_accuracy_and_iou_known_values():
    truth = np.zeros((1, 4, 4), np.uint8)
    truth[0, :, 2:] = 3  # labels 0 and 3, half each
    assert semantic_accuracy_metric(truth, truth, meta=META) == 1.0
    assert semantic_iou_metric(truth, truth, meta=META) == 1.0
    pred = truth.copy()
    pred[0, :, 1] = 3  # 4 of 16 pixels wrong: label 0 IoU 4/8, label 3 IoU 8/12
    assert semantic_accuracy_metric(pred, truth, meta=META) == pytest.approx(0.75)
    assert semantic_iou_metric(pred, truth, meta=META) == pytest.approx((4 / 8 + 8 / 12) / 2)


def test_bad_inputs_name_the_metric_and_field():
    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(RawValueError, match=r"image_ssim: prediction 'image' has shape \(32, 30, 3\)"):
        image_ssim_metric(image[:, :30], image, meta=META)
    with pytest.raises(RawValueError, match=r"image_psnr: reference 'image' must be an RGB"):
        image_psnr_metric(image, image[..., :2], meta=META)
    with pytest.raises(RawValueError, match=r"video_psnr: prediction 'video' has shape \(2,"):
        video_psnr_metric(np.stack([image] * 2), np.stack([image] * 3), meta=META)
    with pytest.raises(RawValueError, match=r"video_ssim: prediction 'video' must have 4 dimensions"):
        video_ssim_metric(image, image, meta=META)
    with pytest.raises(RawValueError, match=r"image_ssim: .*smaller than the 11 x 11 SSIM window"):
        image_ssim_metric(image[:8, :8], image[:8, :8], meta=META)
    labels = np.zeros((2, 8, 8), np.uint8)
    with pytest.raises(RawValueError, match=r"semantic_mean_iou: prediction 'semantic' has shape \(1, 8, 8\)"):
        semantic_iou_metric(labels[:1], labels, meta=META)
    with pytest.raises(RawValueError, match=r"semantic_label_accuracy: prediction 'semantic' must hold integer labels"):
        semantic_accuracy_metric(labels + 40, labels, meta=META)
