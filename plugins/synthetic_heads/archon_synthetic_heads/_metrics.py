"""The metric this dataset's layout makes possible: does the generated mouth move with the speech?

The synthetic heads' expression vector keeps its mouth opening in dimension 0 (``jaw_open``,
loudness x viseme openness, see ``_motion.py``), so a generated expression trajectory can be
judged on the one thing speech determines in it: whether the mouth opens when, and as far as,
the clip's own mouth does. Blinks, brows and gaze are random in these clips; an error pooled
over every dimension (``expression_param_nrmse``) is dominated by them and cannot show whether
a model listens to the speech.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from archon_framework import ClipMeta, Metric, RawValueError

from archon_synthetic_heads._generate import SOURCE

__all__ = ["mouth_opening_correlation", "synthetic_heads_metrics"]

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
    p, r = pred[:, MOUTH_DIM], ref[:, MOUTH_DIM]
    if not (np.isfinite(p).all() and np.isfinite(r).all()):
        raise RawValueError(f"expression{where}: mouth_opening_correlation got non-finite values")
    if r.std() < _STILL:
        return float("nan")
    if p.std() < _STILL:
        return 0.0
    return float(np.corrcoef(p, r)[0, 1])


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
    )]
