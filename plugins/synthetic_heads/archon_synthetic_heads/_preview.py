"""Render given FLAME-like parameters through the dataset's own geometry (a label-video preview).

The dataset renders each clip from its stored identity, expression and pose plus an appearance
(hair, glasses, clothes, ...). `render_parameters` runs the same renderer on any parameters,
e.g. an expression sequence decoded by a tokenizer, so they can be looked at as a semantic label
video. `clip_appearance` recovers the exact person of a generated clip (it is the first draw of
the clip's random stream), so a clip's own parameters re-render to its own semantic video.
"""

from __future__ import annotations

import attrs
import numpy as np
from jaxtyping import Float, UInt8

from archon_framework import Clip, DataError, RawValueError
from archon_synthetic_heads._appearance import Appearance, sample_appearance
from archon_synthetic_heads._contracts import FlameDims
from archon_synthetic_heads._generate import SynthConfig, clip_stream, draw_appearance, perform
from archon_synthetic_heads._motion import EXPRESSION_COMPONENTS
from archon_synthetic_heads._render import SEMANTIC_SIZE, render_labels

__all__ = [
    "Appearance",
    "clip_appearance",
    "generate_parameters",
    "neutral_appearance",
    "render_parameters",
    "sample_identities",
]


def clip_appearance(index: int, *, seed: int, split: str = "train", config: SynthConfig | None = None) -> Appearance:
    """The person of clip `index` of `split` under `seed`, without synthesizing or rendering it.

    `generate_clip` draws the appearance first from the clip's stream, so this is exactly the
    person of ``generate_clip(index, seed=seed, split=split, config=config)``; its ``identity``
    equals the clip's ``identity`` value.

    Raises:
        DataError: a negative index or seed, or an unknown split.
    """
    return draw_appearance(clip_stream(index, seed, split), config or SynthConfig())


def generate_parameters(index: int, *, seed: int, seconds: float | None = None, split: str = "train",
                        config: SynthConfig | None = None) -> Clip:
    """Clip `index` as `generate_clip` makes it, with only its ``identity``, ``expression`` and
    ``pose`` values: the same random stream and steps (person, style, speech, animation) without
    the rendering, which is about 80 % of a clip's cost. For training the FLAME tokenizers.

    Raises:
        DataError: a bad index, seed, split or length.
    """
    p = perform(index, seed=seed, seconds=seconds, split=split, config=config)
    return Clip(p.meta, {"identity": p.appearance.identity.astype(np.float32), "expression": p.motion.expression,
                         "pose": p.motion.pose})


def sample_identities(count: int, *, seed: int, split: str = "train", start: int = 0,
                      config: SynthConfig | None = None) -> Float[np.ndarray, "count shape"]:
    """The ``identity`` values of clips ``start .. start + count - 1`` of a split, cheaply.

    Identity is one vector per clip, so a tokenizer of it needs many clips; this draws them from
    the generator's own distribution (the clips' own streams) at about 0.1 ms each.

    Returns:
        float32 [count, FlameDims.shape].
    """
    if count < 0:
        raise DataError(f"synthetic_heads: count must be >= 0, got {count}")
    rows = [clip_appearance(start + i, seed=seed, split=split, config=config).identity for i in range(count)]
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, FlameDims().shape), np.float32)


def neutral_appearance(shape_dim: int | None = None) -> Appearance:
    """A plain person that hides nothing the parameters move: an adult with short hair, no
    glasses, beard, headwear or accessory, bright light, zero identity of ``shape_dim``."""
    shape_dim = FlameDims().shape if shape_dim is None else shape_dim
    return Appearance(
        gender="female", age_group="adult", skin_tone="medium", hair_color="brown", hair_style="short",
        eye_color="dark_brown", long_lashes=False, glasses=False, beard="none", headwear="none",
        accessory="none", upper_body="t-shirt", clothes_color="blue", clothes_color2="gray",
        background="light_gray_wall", lighting="bright", body_build="average",
        identity=np.zeros(shape_dim, np.float32),
    )


def _checked(name: str, value, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise RawValueError(f"render_parameters: {name} must be a float array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        layout = "[shape_dim]" if ndim == 1 else f"[frames, {name}_dim]"
        raise RawValueError(f"render_parameters: {name} must be {layout}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise RawValueError(f"render_parameters: {name} contains NaN or infinite values")
    return arr.astype(np.float32)


def render_parameters(shape: Float[np.ndarray, " shape"], expression: Float[np.ndarray, "frames expression"],
                      pose: Float[np.ndarray, "frames 6"], *, appearance: Appearance | None = None,
                      seed: int | None = None) -> UInt8[np.ndarray, "frames 128 128"]:
    """The semantic label video (Table H labels) of FLAME-like parameters, drawn by the
    dataset's renderer.

    Args:
        shape: float [shape_dim], the identity (components 0..13 move the geometry).
        expression: float [frames, expression_dim >= 10] (components 0..9 move the face).
        pose: float [frames, 6]: axis-angle rotation (radians) + translation (metres).
        appearance: the person (hair, glasses, ...); its identity is replaced by `shape`.
            ``clip_appearance(...)`` gives the person of a generated clip.
        seed: without `appearance`, draw a random person with this seed; with neither, use
            `neutral_appearance`.

    Returns:
        uint8 [frames, 128, 128].

    Raises:
        RawValueError: wrong ranks, fewer than 10 expression components, a pose width other
            than 6, frame counts that differ, NaN or inf.
    """
    shape = _checked("shape", shape, 1)
    expression = _checked("expression", expression, 2)
    pose = _checked("pose", pose, 2)
    if expression.shape[1] < len(EXPRESSION_COMPONENTS):
        raise RawValueError(
            f"render_parameters: expression has {expression.shape[1]} components; the renderer draws "
            f"the first {len(EXPRESSION_COMPONENTS)} ({', '.join(EXPRESSION_COMPONENTS)})"
        )
    if pose.shape[1] != 6:
        raise RawValueError(f"render_parameters: pose must be [frames, 6] (rotation 3 + translation 3), got {pose.shape}")
    if len(pose) != len(expression):
        raise RawValueError(f"render_parameters: expression has {len(expression)} frames, pose {len(pose)}")
    if appearance is None:
        appearance = (neutral_appearance(len(shape)) if seed is None
                      else sample_appearance(np.random.default_rng(seed), shape_dim=len(shape)))
    appearance = attrs.evolve(appearance, identity=shape)
    if len(expression) == 0:
        return np.zeros((0, SEMANTIC_SIZE, SEMANTIC_SIZE), np.uint8)
    return render_labels(appearance, expression, pose)
