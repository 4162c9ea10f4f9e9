"""Plugin registration: the synthetic talking-head datasets (train and held-out splits) and the
``archon heads`` commands, and the mouth-opening metric its expression layout allows."""

from __future__ import annotations

import functools
from typing import Any

from archon_framework import DatasetSpec, Metric, hookimpl
from archon_synthetic_heads._cli import make_app
from archon_synthetic_heads._generate import SOURCE, generate_clip, mixed_clip
from archon_synthetic_heads._metrics import synthetic_heads_metrics

__all__ = ["MODALITIES", "dataset_specs", "archon_datasets", "archon_commands", "archon_metrics"]

#: Modality names every generated clip carries.
MODALITIES: tuple[str, ...] = (
    "speech", "script", "identity", "expression", "pose", "semantic", "image", "video", "description",
)


def dataset_specs() -> list[DatasetSpec]:
    """``synthetic_heads`` (training split) and ``synthetic_heads_validation`` / ``_test``, and
    ``synthetic_heads_mixed``: the training split with every 4th clip rendered and the others
    unrendered (`mixed_clip`), for a recipe that needs many clips for its motion and speech tasks.

    The held-out datasets draw from disjoint random streams and speak sentences that the
    training split never uses.
    """
    out = []
    for split, suffix in (("train", ""), ("validation", "_validation"), ("test", "_test")):
        out.append(DatasetSpec(
            name=SOURCE + suffix,
            generate=functools.partial(generate_clip, split=split),
            modalities=MODALITIES,
            default_seconds=2.0,
            description=f"synthetic talking heads ({split} split): espeak-ng speech, script, FLAME-like "
                        "animation, semantic video, RGB, description",
        ))
    out.append(DatasetSpec(
        name=SOURCE + "_mixed",
        generate=functools.partial(mixed_clip, split="train", rendered_every=4),
        modalities=MODALITIES,
        default_seconds=2.0,
        description="synthetic talking heads (train split), every 4th clip rendered; the others speech, "
                    "script, FLAME animation and description only (2.3x cheaper a clip than the rendered split)",
    ))
    return out


@hookimpl
def archon_datasets() -> list[DatasetSpec]:
    """The datasets of this plugin."""
    return dataset_specs()


@hookimpl
def archon_commands() -> list[Any]:
    """``archon heads preview-flame``."""
    return [make_app()]


@hookimpl
def archon_metrics() -> list[Metric]:
    """``mouth_opening_correlation`` (expression, this dataset's layout) and ``head_pitch_correlation`` (pose)."""
    return synthetic_heads_metrics()
