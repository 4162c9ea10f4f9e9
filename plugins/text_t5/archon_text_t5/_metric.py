"""Attribute-level precision, recall and F1 of a generated description (paper Sec. E.3).

The paper scores a predicted description against the ground truth per attribute with
``P = 1/|P| sum_p max_g cos(BGE(p), BGE(g))`` and ``R = 1/|G| sum_g max_p cos(...)`` over the
predicted and ground-truth value sets, and reports the F1 averaged over all attributes. This is
the exact-match variant: ``cos`` is replaced by equality of canonical values (so the max is 1
when the value occurs in the other set and 0 otherwise), i.e. per attribute path

    P = |pred & truth| / |pred|,   R = |pred & truth| / |truth|,   F1 = 2PR / (P + R),

where a string field is a one-element set and a list field the set of its items. Conventions:
both sets empty -> P = R = F1 = 1; one empty -> 0 for the undefined side and F1 = 0.

The reported ``f1`` is the paper's: the mean of the per-attribute F1 over every schema
attribute path. ``micro_*`` pool all (path, value) pairs instead. A prediction that did not
parse (:class:`UnparsedDescription` without JSON) counts as empty; one that parsed but broke
the schema is scored on whatever attributes it has (values canonicalized the same way).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from archon_text_t5._schema import description_paths
from archon_text_t5._tokenizers import UnparsedDescription

__all__ = ["flatten_description", "description_f1"]


def _canon(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = "_".join(unicodedata.normalize("NFKC", value).lower().split())
    return text or None


def flatten_description(description: Any) -> dict[str, set[str]]:
    """Attribute path -> set of canonical values, for every leaf of a (possibly malformed)
    description. Non-string values are ignored; keys are taken as they are.

    Args:
        description: a dict, an :class:`UnparsedDescription` or anything else (-> empty).

    Returns:
        e.g. ``{"appearance.hair_color": {"black"}, ...}``.
    """
    if isinstance(description, UnparsedDescription):
        description = description.value
    out: dict[str, set[str]] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping):
            for key, sub in node.items():
                walk(sub, f"{prefix}.{key}" if prefix else str(key))
            return
        items = node if isinstance(node, (list, tuple)) else [node]
        values = {v for v in (_canon(x) for x in items) if v is not None}
        if values and prefix:
            out.setdefault(prefix, set()).update(values)

    walk(description, "")
    return out


def _prf(pred: set[str], truth: set[str]) -> tuple[float, float, float]:
    if not pred and not truth:
        return 1.0, 1.0, 1.0
    hit = len(pred & truth)
    p = hit / len(pred) if pred else 0.0
    r = hit / len(truth) if truth else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def description_f1(prediction: Any, truth: Any) -> dict[str, Any]:
    """Score a predicted description against the ground truth.

    Args:
        prediction: the generated description (dict or :class:`UnparsedDescription`).
        truth: the ground-truth description.

    Returns:
        ``{"precision", "recall", "f1"}`` (means over the schema's attribute paths),
        ``{"micro_precision", "micro_recall", "micro_f1"}`` and ``"per_attribute"``
        (path -> ``{"precision", "recall", "f1"}``).
    """
    pred, gold = flatten_description(prediction), flatten_description(truth)
    paths = description_paths()
    per: dict[str, dict[str, float]] = {}
    for path in paths:
        p, r, f = _prf(pred.get(path, set()), gold.get(path, set()))
        per[path] = {"precision": p, "recall": r, "f1": f}
    n = len(paths)
    pairs_pred = {(k, v) for k, vs in pred.items() for v in vs}
    pairs_gold = {(k, v) for k, vs in gold.items() for v in vs}
    mp, mr, mf = _prf(pairs_pred, pairs_gold)
    return {
        "precision": sum(x["precision"] for x in per.values()) / n,
        "recall": sum(x["recall"] for x in per.values()) / n,
        "f1": sum(x["f1"] for x in per.values()) / n,
        "micro_precision": mp,
        "micro_recall": mr,
        "micro_f1": mf,
        "per_attribute": per,
    }
