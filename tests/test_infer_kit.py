"""Small real modalities, a suite, chains and models for the inference tests (no tests here).

* ``speech``, ``expression``: temporal arrays ``float32 [frames, 2]`` in [0, 1), 2 tokens a frame.
* ``image``: a time-invariant ``float32 [1, 2]``.
* ``identity``: a 3-level residual-style code, ``float32 [3]``; level ``i`` owns local ids
  ``8 i .. 8 i + 7`` and its tokenizer declares ``token_ranges``.
* ``script``: UTF-8 text (the core test kit's byte codec).
* ``video``: rendered from expression + image by a small deterministic renderer.
Every modality has a file loader (``.npy`` / ``.txt``), as `archon generate` needs.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

from archon_framework import (
    Clip,
    ClipMeta,
    Modality,
    RawSpec,
    RawValueError,
    Slot,
    Task,
    TaskSuite,
    VocabError,
    Vocabulary,
    hookimpl,
)
from archon_framework.infer import Chain, ChainStep, LoadedModel
from archon_framework.model import PrefixLM, PrefixLMConfig
from archon_framework.testing import byte_text_modalities, make_registry
from archon_paper import _plugin as paper
from core_toys import array_modality

META = ClipMeta(clip_id="toy", duration=0.4, frame_rate=10, sample_rate=100)
LEVELS, CODES = 3, 8


class LevelTokenizer:
    """A real 3-level scalar quantizer: value ``x_i`` in [0, 1) -> code ``floor(8 x_i)`` of level ``i``."""

    def __init__(self) -> None:
        self.vocabulary = Vocabulary("identity", LEVELS * CODES)

    def token_ranges(self, num_tokens: int) -> np.ndarray:
        lo = (np.arange(num_tokens) % LEVELS) * CODES
        return np.stack([lo, lo + CODES], axis=1).astype(np.int64)

    def encode(self, raw, *, meta):
        x = np.asarray(raw, np.float32).reshape(LEVELS)
        return (np.clip((x * CODES).astype(np.int32), 0, CODES - 1) + np.arange(LEVELS) * CODES).astype(np.int32)

    def decode(self, local_ids, *, meta):
        ids = np.asarray(local_ids)
        if ids.shape != (LEVELS,) or np.any(ids < 0) or np.any(ids >= LEVELS * CODES):
            raise VocabError(f"identity: expected {LEVELS} ids in 0..{LEVELS * CODES - 1}")
        level_of = ids // CODES
        if not np.array_equal(level_of, np.arange(LEVELS)):
            raise VocabError(f"identity: id {ids} is not in its level's block")
        return ((ids % CODES + 0.5) / CODES).astype(np.float32)


class ToyRenderer:
    """Video frames from expression (brightness per frame) and image (colour): [frames, 8, 8, 3]."""

    def render(self, inputs, *, meta, seed=0):
        expr = np.asarray(inputs["expression"], np.float32)
        img = np.asarray(inputs["image"], np.float32).reshape(-1)
        rng = np.random.default_rng(seed)
        base = np.array([img[0], img[1], 0.5 * (img[0] + img[1])], np.float32)
        frames = expr.mean(axis=1)[:, None, None, None] * base[None, None, None, :]
        frames = frames + 0.02 * rng.standard_normal((expr.shape[0], 8, 8, 3))
        return (np.clip(frames, 0, 1) * 255).astype(np.uint8)


def _load_array(path: Path, meta: ClipMeta):
    if Path(path).suffix != ".npy":
        raise RawValueError(f"{path}: expected a .npy file")
    return np.load(path)


def _load_text(path: Path, meta: ClipMeta):
    return Path(path).read_text(encoding="utf-8").strip()


def _with_loader(mod: Modality, load) -> Modality:
    import attrs

    return attrs.evolve(mod, load=load)


def toy_modalities() -> list[Modality]:
    ident = LevelTokenizer()
    identity = Modality(
        name="identity", vocabulary=ident.vocabulary, temporal=False, phrase="facial identity",
        raw=RawSpec(kind="array", dtype="float32", shape=(LEVELS,), value_range=(0.0, 1.0)),
        num_tokens=lambda meta: LEVELS, tokenizer=lambda path: ident, load=_load_array,
    )
    video = Modality(
        name="video", vocabulary=None, temporal=True, phrase="talking video",
        raw=RawSpec(kind="array", dtype="uint8", shape=("frames", 8, 8, 3)),
        num_tokens=lambda meta: None, renderer=lambda path: ToyRenderer(),
        derived_from=("expression", "image"),
    )
    script = _with_loader(byte_text_modalities()[0], _load_text)
    return [
        _with_loader(array_modality("speech", 16, phrase="speech audio"), _load_array),
        _with_loader(array_modality("expression", 32, phrase="facial expression"), _load_array),
        _with_loader(array_modality("image", 64, temporal=False, phrase="reference image"), _load_array),
        identity, script, video,
    ]


def s(text: str) -> Slot:
    name, state = text.rstrip(")").split("(")
    return Slot(name, state)


def t(text: str) -> Task:
    lhs, rhs = text.split("->")
    return Task(tuple(s(x) for x in lhs.split("+")), s(rhs))


SUITE = TaskSuite("toy_infer", tuple(t(x) for x in (
    "image(t)->identity(t)",
    "speech(c)+identity(t)->expression(c)",
    "speech(c)->script(c)",
    "speech(c)+image(t)->expression(c)",
    "expression(c)->speech(c)",
    "identity(t)->image(t)",
    "script(c)->speech(c)",
)))

THINK = Chain("toy-think", (s("speech(c)"), s("image(t)")), (
    ChainStep(s("identity(t)"), (s("image(t)"),)),
    ChainStep(s("expression(c)"), (s("speech(c)"), s("identity(t)"))),
    ChainStep(s("script(c)"), (s("speech(c)"),)),
    ChainStep(s("video(c)")),
))
DIRECT = Chain("toy-direct", (s("speech(c)"), s("image(t)")), (
    ChainStep(s("expression(c)"), (s("speech(c)"), s("image(t)"))),
    ChainStep(s("video(c)")),
))


class ToyPlugin:
    @hookimpl
    def archon_modalities(self):
        return toy_modalities()

    @hookimpl
    def archon_task_suites(self):
        return [SUITE]


def toy_registry():
    """The toy modalities with the paper's content (its named chains run on them)."""
    return make_registry(("paper", paper), ("toy_infer", ToyPlugin()))


def tiny_lm(vocab: int, seed: int = 0, max_seq_len: int = 512) -> PrefixLM:
    cfg = PrefixLMConfig(vocab_size=vocab, d_model=32, n_layers=2, n_heads=4, n_kv_heads=1, d_ff=64,
                         max_seq_len=max_seq_len)
    return PrefixLM(cfg, key=jax.random.key(seed))


def toy_model(registry=None, seed: int = 0) -> LoadedModel:
    registry = registry or toy_registry()
    layout = registry.layout()
    return LoadedModel(tiny_lm(layout.total_size, seed), registry, layout, SUITE, source="random toy")


def toy_clip(i: int, meta: ClipMeta = META) -> Clip:
    rng = np.random.default_rng(i)
    frames = meta.frames
    return Clip(meta.__class__(clip_id=f"toy{i}", duration=meta.duration, frame_rate=meta.frame_rate,
                               sample_rate=meta.sample_rate), {
        "speech": rng.uniform(0, 1, (frames, 2)).astype(np.float32),
        "expression": rng.uniform(0, 1, (frames, 2)).astype(np.float32),
        "image": rng.uniform(0, 1, (1, 2)).astype(np.float32),
        "identity": rng.uniform(0, 1, (LEVELS,)).astype(np.float32),
        "script": f"clip {i} says hi",
    })


def write_condition_files(folder: Path, clip: Clip) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in ("speech", "image", "identity", "expression"):
        out[name] = folder / f"{name}.npy"
        np.save(out[name], clip[name])
    out["script"] = folder / "script.txt"
    out["script"].write_text(clip["script"])
    (folder / "clip.json").write_text(json.dumps({"duration": clip.meta.duration}))
    return out
