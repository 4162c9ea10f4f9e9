"""The renderer draws what identity, expression and pose say (property tests on single frames)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from archon_semantic_magvit import LABEL_INDEX
from archon_synthetic_heads import EXPRESSION_COMPONENTS, IDENTITY_COMPONENTS
from archon_synthetic_heads._appearance import sample_appearance
from archon_synthetic_heads._render import render_clip, render_frame, _Head

L = LABEL_INDEX
EXPR = {n: i for i, n in enumerate(EXPRESSION_COMPONENTS)}
IDN = {n: i for i, n in enumerate(IDENTITY_COMPONENTS)}
seeds = st.integers(0, 10_000)


def _person(seed: int, **identity):
    app = sample_appearance(np.random.default_rng(seed), shape_dim=100)
    vec = app.identity.copy()
    for name, value in identity.items():
        vec[IDN[name]] = value
    return _Head(type(app)(**{**{a.name: getattr(app, a.name) for a in type(app).__attrs_attrs__}, "identity": vec}))


def _frame(head, **expr_pose):
    expr = np.zeros(50, np.float32)
    pose = np.zeros(6, np.float32)
    for name, value in expr_pose.items():
        if name in EXPR:
            expr[EXPR[name]] = value
    pose[:3] = Rotation.from_euler("xyz", [expr_pose.get("pitch", 0), expr_pose.get("yaw", 0), expr_pose.get("roll", 0)]).as_rotvec()
    return render_frame(head, expr, pose).labels  # [256, 256]


def _count(labels, *names):
    return int(np.isin(labels, [L[n] for n in names]).sum())


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seeds, st.floats(0.0, 0.45), st.floats(0.55, 1.0))
def test_wider_jaw_opening_shows_more_mouth_interior(seed, lo, hi):
    head = _person(seed)
    closed = _count(_frame(head, jaw_open=lo), "teeth", "tongue", "other_in_the_mouth")
    opened = _count(_frame(head, jaw_open=hi), "teeth", "tongue", "other_in_the_mouth")
    assert opened > closed
    assert _count(_frame(head, jaw_open=0.0), "teeth", "tongue", "other_in_the_mouth") == 0


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seeds)
def test_face_width_and_eye_spacing_change_the_geometry(seed):
    def width(lab):
        cols = np.nonzero((lab == L["face"]).any(0))[0]
        return cols.max() - cols.min()

    def eye_gap(lab):
        xs = np.argwhere(lab == L["sclera"])[:, 1]
        return xs[xs > 128].mean() - xs[xs < 128].mean()

    assert width(_frame(_person(seed, face_width=2.0))) > width(_frame(_person(seed, face_width=-2.0)))
    assert eye_gap(_frame(_person(seed, eye_spacing=2.0))) > eye_gap(_frame(_person(seed, eye_spacing=-2.0)))


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seeds, st.floats(0.1, 0.35))
def test_yaw_turns_the_nose_toward_the_image_side(seed, yaw):
    head = _person(seed)

    def nose_x(lab):
        return np.argwhere(lab == L["nostrils"])[:, 1].mean()

    assert nose_x(_frame(head, yaw=yaw)) > nose_x(_frame(head)) > nose_x(_frame(head, yaw=-yaw))


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seeds, st.floats(0.0, 0.3), st.floats(0.5, 0.7))
def test_closing_eyelids_hide_the_eyes_but_keep_the_lashes(seed, lo, hi):
    head = _person(seed)
    eye = ("sclera", "iris", "pupil")
    shut = _frame(head, eye_close_l=1.0, eye_close_r=1.0)
    assert _count(shut, *eye) == 0 and _count(shut, "lashes") > 0
    half = _count(_frame(head, eye_close_l=hi, eye_close_r=hi), *eye)
    assert _count(_frame(head, eye_close_l=lo, eye_close_r=lo), *eye) > half > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_animation_gives_valid_frames(seed):
    rng = np.random.default_rng(seed)
    app = sample_appearance(rng, shape_dim=100)
    expr = np.zeros((4, 50), np.float32)
    expr[:, :10] = rng.uniform([0, -1, 0, 0, 0, 0, 0, 0, -1, -1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], (4, 10))
    pose = np.concatenate([rng.normal(0, 0.2, (4, 3)), rng.normal(0, 0.01, (4, 3))], 1).astype(np.float32)
    sem, video = render_clip(app, expr, pose)
    assert sem.shape == (4, 128, 128) and video.shape == (4, 256, 256, 3)
    assert sem.max() <= 20 and (sem == L["face"]).sum() > 1000
