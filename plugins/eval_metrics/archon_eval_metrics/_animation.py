"""Animation parameter error in normalized units (identity, expression, pose).

FLAME coefficients mix units (jaw opening in 0..1, rotations in radians, translations in scene
units), so the error is reported per dimension in units of a scale ``s_d`` and then pooled:

    NRMSE = sqrt( mean over frames t and dimensions d of ((pred_td - ref_td) / s_d)^2 ).

Where ``s_d`` comes from, in order of preference:

1. a normalizer's ``std`` (e.g. :attr:`archon_flame_rvq.FlameTokenizer.normalizer`, the
   training set's per-dimension standard deviation): build the metrics with
   :func:`animation_metrics` ``(normalizers={...})``; the scale is then the same for every clip;
2. otherwise (the registered default) the reference itself: for ``expression`` and ``pose``, the
   standard deviation of each dimension over the reference's frames, floored at the pooled
   deviation ``sqrt(mean_d std_d^2)`` (and at 1e-6). The floor matters: a dimension that does not
   move in this clip (no blink in two seconds, an unused coefficient) has std ~0 and would turn
   any error there into thousands of units; under the floor it is measured in the clip's typical
   units instead. For ``identity`` (one vector per clip) a single scale, the RMS of the reference
   vector, i.e. the relative error ``||pred - ref|| / ||ref||``.

NRMSE = 0 for a perfect prediction; predicting the reference's per-dimension mean over frames
gives at most 1 under scale 2 (exactly 1 when every dimension moves alike).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from archon_framework import ClipMeta, Metric, RawValueError

from archon_eval_metrics._checks import as_array, same_shape

__all__ = ["ANIMATION_MODALITIES", "normalized_rmse", "reference_scale", "animation_metrics"]

#: The FLAME modalities scored, and whether each is a per-frame sequence.
ANIMATION_MODALITIES: dict[str, bool] = {"identity": False, "expression": True, "pose": True}

_FLOOR = 1e-6


def reference_scale(reference: np.ndarray, *, temporal: bool) -> np.ndarray:
    """The default scale ``s`` (see the module docstring): ``[dim]`` for temporal values, ``[1]`` otherwise."""
    ref = np.asarray(reference, np.float64)
    if not temporal:
        return np.array([max(float(np.sqrt(np.mean(ref**2))), _FLOOR)])
    std = ref.std(axis=0)  # [dim]
    return np.maximum(std, max(float(np.sqrt(np.mean(std**2))), _FLOOR))


def normalized_rmse(prediction: Any, reference: Any, *, modality: str, scale: Any = None,
                    metric: str | None = None) -> float:
    """NRMSE of one modality's parameters.

    Args:
        prediction, reference: ``[dim]`` (identity) or ``[frames, dim]`` (expression, pose).
        modality: ``identity``, ``expression`` or ``pose`` (sets the expected rank).
        scale: per-dimension scale ``[dim]`` (or a scalar); None: :func:`reference_scale`.
        metric: name for error messages.

    Raises:
        RawValueError: an unknown modality, wrong ranks, mismatched shapes, or a bad scale.
    """
    if modality not in ANIMATION_MODALITIES:
        raise RawValueError(f"animation error: unknown modality {modality!r}; use one of {sorted(ANIMATION_MODALITIES)}")
    name = metric or f"{modality}_param_nrmse"
    temporal = ANIMATION_MODALITIES[modality]
    ndim = 2 if temporal else 1
    p = as_array(name, f"prediction {modality!r}", prediction, ndim=ndim, dtype=np.float64)
    r = as_array(name, f"reference {modality!r}", reference, ndim=ndim, dtype=np.float64)
    same_shape(name, modality, p, r)
    if scale is None:
        s = reference_scale(r, temporal=temporal)
    else:
        s = np.asarray(scale, np.float64).reshape(-1)
        if s.shape[0] not in (1, r.shape[-1]) or not np.all(np.isfinite(s)) or not np.all(s > 0):
            raise RawValueError(
                f"metric {name}: the scale must be positive and finite with 1 or {r.shape[-1]} entries "
                f"(one per {modality} dimension), got shape {s.shape}"
            )
    return float(np.sqrt(np.mean(((p - r) / s) ** 2)))


def _fn(modality: str, scale: np.ndarray | None):
    def fn(prediction: Any, reference: Any, *, meta: ClipMeta | None = None) -> float:
        return normalized_rmse(prediction, reference, modality=modality, scale=scale)

    fn.__name__ = f"{modality}_param_nrmse"
    fn.__doc__ = f"Metric fn: NRMSE of the {modality} parameters."
    return fn


def animation_metrics(normalizers: Mapping[str, Any] | None = None) -> list[Metric]:
    """The three NRMSE metrics, named ``{identity,expression,pose}_param_nrmse``.

    Args:
        normalizers: modality -> an object with a per-dimension ``std`` (e.g. an
            ``archon_flame_rvq.Normalizer``, or a ``FlameTokenizer``'s ``.normalizer``); the
            modalities it lacks use the reference's own scale. None: all use the reference's.

    Raises:
        RawValueError: a normalizer for an unknown modality or without a usable ``std``.
    """
    normalizers = dict(normalizers or {})
    unknown = sorted(set(normalizers) - set(ANIMATION_MODALITIES))
    if unknown:
        raise RawValueError(f"animation_metrics: normalizers for unknown modalities {unknown}; use {sorted(ANIMATION_MODALITIES)}")
    out = []
    for modality in ANIMATION_MODALITIES:
        norm = normalizers.get(modality)
        scale = None
        if norm is not None:
            std = getattr(norm, "std", None)
            if std is None:
                raise RawValueError(f"animation_metrics: the {modality} normalizer has no 'std' attribute")
            scale = np.asarray(std, np.float64).reshape(-1)
            if not np.all(np.isfinite(scale)) or not np.all(scale > 0):
                raise RawValueError(f"animation_metrics: the {modality} normalizer's std must be positive and finite")
        how = ("the training set's per-dimension std (tokenizer normalization)" if scale is not None else
               "the reference clip's per-dimension std over frames (floored at their RMS)"
               if ANIMATION_MODALITIES[modality] else "the RMS of the reference vector (relative error)")
        out.append(Metric(
            name=f"{modality}_param_nrmse",
            modalities=(modality,),
            fn=_fn(modality, scale),
            higher_is_better=False,
            description=f"RMSE of the {modality} parameters divided by {how}; 0 is perfect",
        ))
    return out
