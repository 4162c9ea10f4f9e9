"""MediaPipe FaceMesh landmarks: real faces found, mouth opening follows speech, no face is NaN."""

from __future__ import annotations

import hashlib
from pathlib import Path

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_perception import (
    FaceMeshConfig,
    MissingPackageError,
    ModelDefinition,
    PerceptionError,
    face_landmarks,
    face_mesh_definition,
    mouth_landmarks,
    mouth_opening,
)
from archon_perception._definition import installed_version
from archon_synthetic_heads import FRAME_RATE, loudness_envelope


@pytest.fixture(scope="module")
def marks(clip):
    return face_landmarks(clip["video"])


def test_every_rendered_frame_has_a_face_inside_the_frame(clip, marks):
    frames, height, width, _ = clip["video"].shape
    assert marks.points.shape == (frames, 478, 3)
    assert marks.found.all() and marks.detection_rate == 1.0
    xy = marks.points[..., :2]
    assert np.isfinite(xy).all()
    assert (xy[..., 0] > 0).all() and (xy[..., 0] < width).all()
    assert (xy[..., 1] > 0).all() and (xy[..., 1] < height).all()


def test_mouth_opening_follows_the_speech_envelope(clip, marks):
    """The synthetic heads open their mouths with the loudness of their speech (known answer)."""
    opening = marks.mouth_opening()
    envelope = loudness_envelope(clip["speech"], sample_rate=clip.meta.sample_rate, frames=len(opening),
                                 frame_rate=FRAME_RATE)
    assert np.corrcoef(opening, envelope)[0, 1] > 0.5
    assert opening.min() >= 0.0 and opening.max() > 4 * max(opening.min(), 1e-3)


def test_the_same_video_gives_the_same_landmarks(clip, marks):
    """Each call starts from detection: tracking state never leaks from the previous video."""
    face_landmarks(clip["video"][::-1])
    again = face_landmarks(clip["video"])
    np.testing.assert_array_equal(again.points, marks.points)


def test_a_video_without_a_face_is_missing_never_zero():
    blank = np.full((4, 96, 96, 3), 128, np.uint8)
    marks = face_landmarks(blank)
    assert not marks.found.any() and marks.detection_rate == 0.0
    assert np.isnan(marks.points).all() and np.isnan(marks.mouth_opening()).all()


def test_a_single_image_is_one_frame(clip):
    marks = face_landmarks(clip["image"])
    assert marks.points.shape[0] == 1 and marks.found[0]


@settings(max_examples=30, deadline=None)
@given(scale=st.floats(0.2, 5.0), shift=st.floats(-100.0, 100.0), seed=st.integers(0, 2**16))
def test_mouth_opening_is_invariant_to_scale_and_translation(scale, shift, seed):
    points = np.random.default_rng(seed).uniform(0, 100, (3, 478, 3)).astype(np.float32)
    np.testing.assert_allclose(mouth_opening(points * scale + shift), mouth_opening(points), rtol=1e-3, atol=1e-5)


def test_mouth_landmarks_are_the_lip_contours():
    lips = mouth_landmarks()
    assert len(lips) == 40 and {13, 14, 78, 308, 61, 291} <= set(lips)


@pytest.mark.parametrize("frames", [np.zeros((2, 8, 8, 3), np.float32), np.zeros((2, 8, 8), np.uint8),
                                    np.zeros((0, 8, 8, 3), np.uint8)])
def test_bad_frames_name_the_video(frames):
    with pytest.raises(PerceptionError, match="prediction video"):
        face_landmarks(frames, name="prediction video")


def test_bad_points_are_refused():
    with pytest.raises(PerceptionError, match="468"):
        mouth_opening(np.zeros((2, 68, 2)))


def test_the_definition_hashes_the_model_files_and_names_every_setting():
    import mediapipe

    definition = face_mesh_definition()
    root = Path(mediapipe.__file__).parent
    for rel, digest in definition.files.items():
        assert hashlib.sha256((root / rel).read_bytes()).hexdigest() == digest
    assert definition.version == "0.10.14" and definition.parameters["num_landmarks"] == 478
    assert ModelDefinition.from_json(definition.to_json()) == definition
    other = face_mesh_definition(FaceMeshConfig(refine_landmarks=False))
    diff = definition.differences(other)
    assert any("refine_landmarks" in d for d in diff) and any("face_landmark.tflite" in d for d in diff)
    assert definition.differences(definition) == []
    with pytest.raises(PerceptionError, match="missing or bad field"):
        ModelDefinition.from_json({"name": "x"})
    assert attrs.evolve(definition).to_json() == definition.to_json()


def test_a_missing_or_other_version_names_the_package_and_what_to_install():
    with pytest.raises(MissingPackageError, match="archon-no-such-package 1.0 is not installed: pip install") as err:
        installed_version("archon-no-such-package", pinned="1.0", install="pip install archon-no-such-package==1.0")
    assert err.value.package == "archon-no-such-package"
    with pytest.raises(MissingPackageError, match="numpy .* pin numpy 0.0.1"):
        installed_version("numpy", pinned="0.0.1", install="pip install numpy==0.0.1")
