"""The metrics this dataset makes possible: does the generated mouth move with the speech, and
does the generated head nod with it?

The synthetic heads' expression vector keeps its mouth opening in dimension 0 (``jaw_open``,
loudness x viseme openness, see ``_motion.py``), so a generated expression trajectory can be
judged on the one thing speech determines in it: whether the mouth opens when, and as far as,
the clip's own mouth does. Blinks, brows and gaze are random in these clips; an error pooled
over every dimension (``expression_param_nrmse``) is dominated by them and cannot show whether
a model listens to the speech.

Every synthetic head also nods with its speech: a pitch pulse 50 ms after each word starts (0.03
rad x the speaker's energy, ``_motion.py``), under the clip's random-phase head action (turns,
tilts or rhythmic nods, written only in its description). A pose error pooled over the six pose
numbers is dominated by that action, which no condition of the pose step determines; the head's
pitch over the frames is what the speech does determine (`head_pitch_correlation`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scipy.spatial.transform import Rotation

from archon_framework import ClipMeta, Metric, RawValueError

from archon_synthetic_heads._generate import SOURCE

__all__ = ["head_pitch", "head_pitch_correlation", "mouth_opening_correlation", "synthetic_heads_metrics"]

#: Index of ``jaw_open`` in the expression vector (``EXPRESSION_COMPONENTS[0]``).
MOUTH_DIM = 0
_STILL = 1e-6


def mouth_opening_correlation(prediction: Any, reference: Any, *, meta: ClipMeta | None = None) -> float:
    """Pearson correlation over frames of the predicted and the reference mouth opening
    (expression dimension 0): 1 = opens exactly when the clip's mouth does, 0 = unrelated.

    Only for clips of this dataset (``meta.source == "synthetic_heads"``): another source's
    expression vector need not keep the mouth in dimension 0, so such a clip is a
    RawValueError (a missing score in a report). NaN when the reference mouth does not move
    (nothing to follow); 0 when the prediction's does not (a still mouth follows nothing). A
    prediction of another length or rank is a RawValueError naming both shapes.
    """
    pred = np.asarray(prediction, np.float64)
    ref = np.asarray(reference, np.float64)
    where = f" (clip {meta.clip_id})" if meta is not None else ""
    if meta is not None and meta.source != SOURCE:
        raise RawValueError(f"expression{where}: mouth_opening_correlation reads the synthetic heads' layout "
                            f"(jaw_open in dimension {MOUTH_DIM}); this clip comes from {meta.source!r}")
    if pred.ndim != 2 or ref.ndim != 2 or pred.shape[0] != ref.shape[0] or min(pred.shape[1], ref.shape[1]) <= MOUTH_DIM:
        raise RawValueError(f"expression{where}: mouth_opening_correlation needs [frames, dims] arrays of one "
                            f"length, got prediction {pred.shape} and reference {ref.shape}")
    return _correlation(pred[:, MOUTH_DIM], ref[:, MOUTH_DIM], f"expression{where}: mouth_opening_correlation")


def _correlation(p: np.ndarray, r: np.ndarray, what: str) -> float:
    """Pearson correlation of two frame series; NaN for a still reference, 0 for a still prediction."""
    if not (np.isfinite(p).all() and np.isfinite(r).all()):
        raise RawValueError(f"{what} got non-finite values")
    if r.std() < _STILL:
        return float("nan")
    if p.std() < _STILL:
        return 0.0
    return float(np.corrcoef(p, r)[0, 1])


def head_pitch(pose: Any) -> np.ndarray:
    """Per frame, the head's pitch (radians, nodding: the x angle of the ``xyz`` Euler angles of
    the pose's leading axis-angle rotation, as ``_motion.py`` composes it)."""
    rotvec = np.asarray(pose, np.float64)[:, :3]
    return Rotation.from_rotvec(rotvec).as_euler("xyz")[:, 0]


def head_pitch_correlation(prediction: Any, reference: Any, *, meta: ClipMeta | None = None) -> float:
    """Pearson correlation over frames of the predicted and the reference head pitch: 1 = the
    head nods exactly when the clip's head does, 0 = unrelated.

    Pose is the FLAME modality's ``[frames, 3 + 3]`` (axis-angle rotation, translation), so any
    source's clip is scored. NaN when the reference head does not nod (nothing to follow); 0
    when the prediction's does not. A prediction of another length, rank or fewer than 3
    dimensions, or non-finite values, is a RawValueError naming the clip and both shapes.
    """
    pred = np.asarray(prediction, np.float64)
    ref = np.asarray(reference, np.float64)
    where = f" (clip {meta.clip_id})" if meta is not None else ""
    if pred.ndim != 2 or ref.ndim != 2 or pred.shape[0] != ref.shape[0] or min(pred.shape[1], ref.shape[1]) < 3:
        raise RawValueError(f"pose{where}: head_pitch_correlation needs [frames, dims >= 3] arrays of one length "
                            f"(axis-angle rotation first), got prediction {pred.shape} and reference {ref.shape}")
    what = f"pose{where}: head_pitch_correlation"
    if not (np.isfinite(pred[:, :3]).all() and np.isfinite(ref[:, :3]).all()):
        raise RawValueError(f"{what} got non-finite values")
    return _correlation(head_pitch(pred), head_pitch(ref), what)


def synthetic_heads_metrics() -> list[Metric]:
    """The metrics this plugin registers."""
    return [Metric(
        name="mouth_opening_correlation",
        modalities=("expression",),
        fn=mouth_opening_correlation,
        higher_is_better=True,
        description="Pearson correlation over frames of the generated and the reference mouth opening "
                    "(expression dim 0, jaw_open, of the synthetic heads' layout; it follows the speech's "
                    "loudness x viseme openness): whether the mouth moves with this clip's speech; "
                    "1 = in step, 0 = unrelated",
    ), Metric(
        name="head_pitch_correlation",
        modalities=("pose",),
        fn=head_pitch_correlation,
        higher_is_better=True,
        description="Pearson correlation over frames of the generated and the reference head pitch (the x "
                    "Euler angle of the pose's axis-angle rotation): whether the head nods when this clip's "
                    "does; the synthetic heads nod 50 ms after each word starts, under a random-phase head "
                    "action; 1 = in step, 0 = unrelated",
    )]
