"""The morphable fit, the crop and the label drawing, on points made from the model itself."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_prepare_mediapipe import (
    APPROXIMATED, EXACT, EXPRESSION_NAMES, IMPOSSIBLE, draw_labels, face_boxes, fit_sequence, load_model, steady_boxes,
)
from archon_semantic_magvit import LABEL_INDEX, LABELS

MODEL = load_model()


def _camera(shapes, rotations, scale=120.0, centre=(320.0, 240.0)):
    """Model points -> pixels: rotate, scale, translate (the inverse of the fit's similarity)."""
    out = []
    for shape, rvec in zip(shapes, rotations):
        r = cv2.Rodrigues(np.asarray(rvec, np.float64))[0]
        out.append(scale * shape @ r.T + [*centre, 0.0])
    pts = np.stack(out)
    return np.concatenate([pts, np.repeat(pts[:, [468 - 1]], 10, axis=1)], axis=1)  # iris slots (unused by the fit)


@settings(max_examples=5, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), yaw=st.floats(-0.4, 0.4))
def test_the_fit_recovers_expressions_and_rotation_of_points_made_by_the_model(seed, yaw):
    rng = np.random.default_rng(seed)
    t = 12
    identity = rng.normal(0, 0.5, len(MODEL.identity))
    expression = np.zeros((t, len(MODEL.expression)))
    expression[:, :8] = rng.uniform(0, 1, (t, 8))
    rotations = np.stack([[0.1 * np.sin(i), yaw, 0.05] for i in range(t)])
    pts = _camera(MODEL.shapes(identity, expression), rotations)
    fit = fit_sequence(MODEL, pts, frame_size=(640, 480), expression_reg=1e-4, identity_reg=1e-4)
    for k in range(8):  # each named expression, frame to frame
        assert np.corrcoef(fit["expression"][:, k], expression[:, k])[0, 1] > 0.95, EXPRESSION_NAMES[k]
    assert np.allclose(fit["pose"][:, :3], rotations, atol=0.02)
    assert np.allclose(fit["pose"][:, 3:5], [0.0, 0.0], atol=1e-3)  # the head sits at the frame centre
    assert np.allclose(fit["pose"][:, 5], np.log(120.0 / 640), atol=5e-3)  # head size within 0.5%
    assert fit["residual"].max() < 0.01
    assert fit["identity"].shape == (100,) and fit["expression"].shape == (t, 50) and fit["pose"].shape == (t, 6)


def test_crops_cover_every_face_box_and_smoothing_removes_jitter():
    rng = np.random.default_rng(0)
    t = 60
    shape = MODEL.shapes(np.zeros(len(MODEL.identity)), np.zeros((t, len(MODEL.expression))))
    pts = _camera(shape, np.zeros((t, 3)))
    pts[..., :2] += np.cumsum(rng.normal(0, 1.0, (t, 1, 2)), axis=0) + rng.normal(0, 2.0, (t, 1, 2))
    boxes = face_boxes(pts)
    union = steady_boxes(boxes, mode="union", fps=25.0)
    half = union[:, 2:] / 2
    assert np.all(union[:, :2] - half <= boxes[:, :2] - boxes[:, 2:] / 2 + 1e-9)
    assert np.all(union[:, :2] + half >= boxes[:, :2] + boxes[:, 2:] / 2 - 1e-9)
    smooth = steady_boxes(boxes, mode="smooth", fps=25.0, sigma_seconds=0.3)
    step = lambda b: np.abs(np.diff(b[:, :2], axis=0)).mean()  # noqa: E731
    assert step(smooth) < 0.3 * step(boxes) and np.ptp(smooth[:, 2]) == 0


def test_labels_drawn_from_a_face_are_the_documented_ones_in_their_places():
    shape = MODEL.shapes(np.zeros(len(MODEL.identity)), np.eye(len(MODEL.expression))[:1] * 3)  # jaw open
    pts = _camera(shape, np.zeros((1, 3)), scale=30.0, centre=(64.0, 56.0))[0]
    pts[468:473] = pts[[468 - 1] * 5]  # the irises: a centre and a rim around the eye centres
    for iris, eye in (([468, 469, 470, 471, 472], [33, 133]), ([473, 474, 475, 476, 477], [362, 263])):
        c = pts[eye].mean(0)
        pts[iris] = c + np.array([[0, 0, 0], [1.5, 0, 0], [0, 1.5, 0], [-1.5, 0, 0], [0, -1.5, 0]])
    person = np.zeros((128, 128), bool)
    person[10:, 20:108] = True
    image = np.full((128, 128, 3), 200, np.uint8)
    labels = draw_labels(pts, person, image)
    present = {LABELS[i] for i in np.unique(labels)}
    assert {"background", "face", "upper_lip", "lower_lip", "iris", "sclera", "brows", "hair", "neck"} <= present
    assert not present & set(IMPOSSIBLE)
    assert set(EXACT) | set(APPROXIMATED) | set(IMPOSSIBLE) == set(LABELS)
    chin_y = int(pts[152, 1])
    assert labels[chin_y - 3, int(pts[152, 0])] == LABEL_INDEX["face"]
    assert labels[min(127, chin_y + 6), int(pts[152, 0])] == LABEL_INDEX["neck"]
    mouth = labels[int(pts[[13, 14], 1].mean()), int(pts[[13, 14], 0].mean())]
    assert LABELS[mouth] in ("teeth", "other_in_the_mouth", "tongue")  # the jaw is open
