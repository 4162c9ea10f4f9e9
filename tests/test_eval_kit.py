"""Toy modalities named like the paper's, a suite, metrics and a held-out dataset for the eval
tests (no tests here). Every modality is tiny so a trained checkpoint takes seconds.

* ``speech``, ``expression``, ``semantic``: temporal ``float32 [frames, 2]`` in [0, 1).
* ``image``: time-invariant ``float32 [1, 2]``; ``identity``: the 3-level code of the infer kit.
* ``script`` (temporal) and ``description`` (time-invariant): UTF-8 text, byte tokens.
* ``video``: rendered from semantic + image + description.
The toy suite trains exactly the tasks of Table 1/3's chains and Table 2's direct row, so Table 2's
other rows are skipped (their tasks are not trained).
"""

from __future__ import annotations

import functools

import attrs
import numpy as np

from archon_framework import Clip, ClipMeta, DatasetSpec, Metric, Modality, RawSpec, TaskSuite, hookimpl
from archon_framework.testing import ByteTextTokenizer, byte_text_modalities, make_registry
from archon_paper import _plugin as paper
from core_toys import array_modality
from test_infer_kit import LEVELS, LevelTokenizer, t

META = ClipMeta(clip_id="toy", duration=0.4, frame_rate=10, sample_rate=100)

SUITE = TaskSuite("toy_eval", tuple(t(x) for x in (
    "image(t)->identity(t)",
    "speech(c)+identity(t)+image(t)->expression(c)",
    "image(t)+expression(c)->semantic(c)",
    "image(t)+semantic(c)+speech(c)->description(t)",
    "speech(c)+image(t)->semantic(c)",
    "script(c)+image(t)->speech(c)",
)))


class ToyVideo:
    """Frames from the semantic video (brightness) and the image (colour): uint8 [frames, 4, 4, 3]."""

    def render(self, inputs, *, meta, seed=0):
        sem = np.asarray(inputs["semantic"], np.float32).mean(axis=1)
        img = np.asarray(inputs["image"], np.float32).reshape(-1)
        base = np.array([img[0], img[1], 0.5], np.float32)
        frames = np.broadcast_to(sem[:, None, None, None] * base, (sem.shape[0], 4, 4, 3))
        return (np.clip(frames, 0, 1) * 255).astype(np.uint8)


def toy_modalities() -> list[Modality]:
    ident = LevelTokenizer()
    tok = ByteTextTokenizer()
    description = Modality(
        name="description", vocabulary=tok.vocabulary, temporal=False, phrase="appearance description",
        raw=RawSpec(kind="text"), num_tokens=lambda meta: None, tokenizer=lambda path: tok, max_tokens=6,
    )
    script = attrs.evolve(byte_text_modalities()[0], max_tokens=6)
    return [
        array_modality("speech", 16, phrase="speech audio"),
        array_modality("expression", 16, phrase="facial expression"),
        array_modality("semantic", 16, phrase="semantic video"),
        array_modality("image", 16, temporal=False, phrase="reference image"),
        Modality(name="identity", vocabulary=ident.vocabulary, temporal=False, phrase="facial identity",
                 raw=RawSpec(kind="array", dtype="float32", shape=(LEVELS,), value_range=(0.0, 1.0)),
                 num_tokens=lambda meta: LEVELS, tokenizer=lambda path: ident),
        script, description,
        Modality(name="video", vocabulary=None, temporal=True, phrase="talking video",
                 raw=RawSpec(kind="array", dtype="uint8", shape=("frames", 4, 4, 3)),
                 num_tokens=lambda meta: None, renderer=lambda path: ToyVideo(),
                 derived_from=("semantic", "image", "description")),
    ]


def toy_clip(i: int, *, split: str = "train", meta: ClipMeta = META) -> Clip:
    rng = np.random.default_rng([i, 0 if split == "train" else 2])
    n = meta.frames
    return Clip(attrs.evolve(meta, clip_id=f"{split}{i}"), {
        "speech": rng.uniform(0, 1, (n, 2)).astype(np.float32),
        "expression": rng.uniform(0, 1, (n, 2)).astype(np.float32),
        "semantic": rng.uniform(0, 1, (n, 2)).astype(np.float32),
        "image": rng.uniform(0, 1, (1, 2)).astype(np.float32),
        "identity": rng.uniform(0, 1, (LEVELS,)).astype(np.float32),
        "script": f"hi {i}",
        "description": f"d{i}",
    })


def _generate(index: int, *, seed: int, seconds: float | None = None, split: str = "test") -> Clip:
    meta = attrs.evolve(META, duration=seconds or META.duration)
    clip = toy_clip(index + 1000 * seed, split=split, meta=meta)
    return Clip(clip.meta, {**clip.values, "video": ToyVideo().render(clip.values, meta=clip.meta)})


# ---------------------------------------------------------------------- metrics
def mean_abs_error(pred, ref, *, meta=None) -> float:
    return float(np.mean(np.abs(np.asarray(pred, np.float32) - np.asarray(ref, np.float32))))


def toy_sync(pred, ref, *, meta=None) -> dict[str, float]:
    """Uses the generated semantic video with the (given) speech of the prediction, like lip sync."""
    a, b = np.asarray(pred["semantic"]).mean(axis=1), np.asarray(pred["speech"]).mean(axis=1)
    return {"gap": float(np.mean(np.abs(a - b))), "frames": float(len(a))}


def video_set_distance(preds, refs, *, meta=None) -> float:
    """A set-level metric: distance of the mean frame brightness of the two sets."""
    return abs(float(np.mean([np.mean(p) for p in preds])) - float(np.mean([np.mean(r) for r in refs])))



def broken(pred, ref, *, meta=None) -> float:
    raise ValueError("this metric always fails")


TOY_METRICS = [
    Metric(name="semantic_error", modalities=("semantic",), fn=mean_abs_error, higher_is_better=False,
           description="mean absolute error"),
    Metric(name="speech_error", modalities=("speech",), fn=mean_abs_error, higher_is_better=False,
           description="mean absolute error"),
    Metric(name="identity_error", modalities=("identity",), fn=mean_abs_error, higher_is_better=False),
    Metric(name="toy_sync", modalities=("semantic", "speech"), fn=toy_sync, higher_is_better=False),
    Metric(name="video_set_distance", modalities=("video",), fn=video_set_distance, higher_is_better=False,
           set_level=True),
    Metric(name="image_error", modalities=("image",), fn=mean_abs_error, higher_is_better=False),
    Metric(name="expression_broken", modalities=("expression",), fn=broken, higher_is_better=False),
]


class ToyPlugin:
    def __init__(self, metrics: bool = True) -> None:
        self.metrics = metrics

    @hookimpl
    def archon_modalities(self):
        return toy_modalities()

    @hookimpl
    def archon_task_suites(self):
        return [SUITE]

    @hookimpl
    def archon_datasets(self):
        return [DatasetSpec(name="toy_test", generate=functools.partial(_generate, split="test"),
                            modalities=("speech", "expression", "semantic", "image", "identity", "script", "description",
                                        "video"),
                            default_seconds=0.4)]

    @hookimpl
    def archon_metrics(self):
        return TOY_METRICS if self.metrics else []


def toy_registry(metrics: bool = True):
    """The toy modalities with the paper's content (its chains and Tables 1-3 run on them)."""
    return make_registry(("paper", paper), ("toy_eval", ToyPlugin(metrics)))
