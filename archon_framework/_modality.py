"""Modality declarations: the raw value a modality takes, its tokenizer, its token counts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import warnings

import attrs
import numpy as np

from archon_framework._capabilities import Renderer
from archon_framework._clip import ClipMeta
from archon_framework._errors import PluginError, RawValueError
from archon_framework._vocab import Vocabulary

__all__ = ["RawSpec", "Modality", "Tokenizer", "Renderer", "TokenizerTrainer", "RawKind"]

RawKind = Literal["array", "text", "json"]
#: Symbolic axis lengths a RawSpec shape may use, resolved from a ClipMeta.
_SYMBOLIC = {"frames", "samples"}


@runtime_checkable
class Tokenizer(Protocol):
    """Maps a modality's raw value to local ids `0 .. vocabulary.size - 1` and back."""

    @property
    def vocabulary(self) -> Vocabulary: ...

    def encode(self, raw: Any, *, meta: ClipMeta) -> np.ndarray:
        """Raw value -> int32 [n] local ids; n == modality.num_tokens(meta) when that is not None."""
        ...

    def decode(self, local_ids: np.ndarray, *, meta: ClipMeta) -> Any:
        """Local ids -> raw value; ids outside the vocabulary raise VocabError."""
        ...


class TokenizerTrainer(Protocol):
    """Trains a modality's tokenizer on clips and saves it where the tokenizer factory loads it."""

    def __call__(
        self,
        source: Sequence[Any],
        *,
        out_dir: Path,
        steps: int | None = None,
        seconds: float | None = None,
        seed: int = 0,
        progress: bool = True,
        options: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        """``options``: plugin-defined changes to the trainer's default configuration (e.g. a
        CPU recipe's smaller codebook, ``{"codebook_size": 256}``); only passed when a caller
        sets them, so a trainer without options need not take the keyword. A trainer refuses
        an option it does not know with a ConfigError naming it."""
        ...


def _check_shape(instance, attribute, shape) -> None:
    for dim in shape:
        if dim is None or dim in _SYMBOLIC:
            continue
        if not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0:
            raise PluginError(
                f"RawSpec.shape entries must be positive ints, 'frames', 'samples' or None; got {dim!r}"
            )


@attrs.frozen(kw_only=True)
class RawSpec:
    """The raw value a modality takes.

    Attributes:
        kind: "array" (numpy), "text" (str) or "json" (a JSON-able dict).
        dtype: numpy dtype name of an array ("float32", "uint8", ...).
        shape: per axis an int, "frames" (duration x frame rate), "samples" (duration x sample
            rate) or None (any length). A temporal array's first axis is its time axis.
        value_range: inclusive (low, high) bounds of an array's values, if any.
    """

    kind: RawKind = attrs.field(validator=attrs.validators.in_(("array", "text", "json")))
    dtype: str | None = None
    shape: tuple[int | str | None, ...] = attrs.field(default=(), converter=tuple, validator=_check_shape)
    value_range: tuple[float, float] | None = None

    def expected_shape(self, meta: ClipMeta) -> tuple[int | None, ...]:
        """The concrete shape for a clip window (None where any length is allowed)."""
        out: list[int | None] = []
        for dim in self.shape:
            if dim == "frames":
                out.append(meta.frames)
            elif dim == "samples":
                out.append(meta.samples)
            else:
                out.append(dim)  # type: ignore[arg-type]  # int or None
        return tuple(out)

    @property
    def time_axis_unit(self) -> str | None:
        """"frames" or "samples" when the first axis is a time axis, else None."""
        return self.shape[0] if self.shape and self.shape[0] in _SYMBOLIC else None

    def check(self, value: Any, meta: ClipMeta, *, where: str) -> Any:
        """Validate (and safely cast) a raw value; `RawValueError` prefixed with `where`."""
        if self.kind == "text":
            if not isinstance(value, str):
                raise RawValueError(f"{where}: expected text (str), got {type(value).__name__}")
            return value
        if self.kind == "json":
            if not isinstance(value, Mapping):
                raise RawValueError(f"{where}: expected a JSON object (dict), got {type(value).__name__}")
            return value
        arr = np.asarray(value)
        if arr.dtype == object:
            raise RawValueError(f"{where}: expected a numeric array, got objects")
        if self.dtype is not None:
            want = np.dtype(self.dtype)
            if arr.dtype != want:
                same_kind = np.can_cast(arr.dtype, want, casting="same_kind")
                int_to_float = arr.dtype.kind in "iub" and want.kind == "f"
                int_to_int = arr.dtype.kind in "iu" and want.kind in "iu"
                if not (same_kind or int_to_float or int_to_int):
                    raise RawValueError(f"{where}: expected dtype {want}, got {arr.dtype}")
        shape = self.expected_shape(meta)
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            pretty = tuple("*" if s is None else s for s in shape)
            raise RawValueError(f"{where}: expected shape {pretty}, got {arr.shape}")
        if arr.dtype.kind == "f" and arr.size and not np.all(np.isfinite(arr)):
            raise RawValueError(f"{where}: contains NaN or infinite values")
        if self.value_range is not None and arr.size:
            lo, hi = self.value_range
            amin, amax = arr.min(), arr.max()
            if amin < lo or amax > hi:
                raise RawValueError(f"{where}: values must lie in [{lo}, {hi}], got [{amin}, {amax}]")
        if self.dtype is not None and arr.dtype != np.dtype(self.dtype):
            arr = arr.astype(self.dtype)
        return arr


def _check_name(instance, attribute, value: str) -> None:
    if not isinstance(value, str) or not value or not value.replace("_", "a").isalnum() or not value[0].isalpha():
        raise PluginError(f"Modality.{attribute.name} must be an identifier starting with a letter, got {value!r}")


@attrs.frozen(kw_only=True)
class Modality:
    """What a plugin declares for one modality (see docs/plugin-api.md).

    Attributes:
        name: unique modality name ("speech").
        vocabulary: the token space, or None for a rendered modality (video) that the LM
            never emits and that a `Renderer` makes from `derived_from`.
        temporal: True for time-dependent modalities (the paper's D_var), False for
            time-invariant ones (D_inv: image, description, identity).
        phrase: the natural-language key that names the modality in prompts; unique.
        raw: the raw value it takes.
        num_tokens: exact token count for a clip window, or None for free-length text.
        tokenizer: factory `(artifact_dir | None) -> Tokenizer` of a token modality; None loads
            the plugin's default (a shipped model or a seeded, untrained network). The
            tokenizer may also implement the optional capability protocols `TextTokenizer` and
            `BlockedTokenizer` (docs/plugin-api.md).
        renderer: factory `(artifact_dir | None) -> Renderer` of a rendered modality (one
            without a vocabulary), called like `tokenizer`. (A rendered modality that passes
            its renderer factory as `tokenizer`, the form before this field, still loads, with
            a DeprecationWarning.)
        tokens_per_second: for listings, where it applies.
        max_tokens: token budget of a free-length modality.
        validate: optional domain check `(value, meta) -> value` raising RawValueError.
        window: optional `(value, meta, start_s, duration_s) -> value` for temporal values
            that are not arrays with a time axis (e.g. timed scripts).
        trainer: optional `TokenizerTrainer`.
        trainer_stages: optional `(steps, options) -> {stage: (steps, minimum)}`: how the
            trainer splits a `steps` budget among its stages (e.g. a video decoder's autoencoder
            and denoiser) and each stage's minimum step count, so that a recipe whose count
            leaves a stage below its minimum is refused when it loads, before any work.
        load: optional file loader `(path, meta) -> value` used by manifest ingestion (wav,
            PNG folders, npz, JSON, captions...); it normalizes what it documents (rates,
            channels) and raises RawValueError naming the file otherwise.
        derived_from: for rendered modalities, the modalities `Renderer.render` takes.
        description: one line for listings.
        vocabulary_for: optional `(artifact_dir) -> Vocabulary`: the vocabulary of the tokenizer
            that `tokenizer(artifact_dir)` loads, read from its saved configuration without
            loading weights. A tokenizer's codebook size is a property of its configuration
            (a CPU-sized image tokenizer needs 2^12 codes, the paper's 2^18), so the unified
            vocabulary follows the tokenizers a model is trained with
            (`Registry.for_artifacts`); `vocabulary` is that of `tokenizer(None)`, the default.
        grid: ``(rows, columns)`` of one frame of codes, for a tokenizer that emits frames as
            row-major rasters (an image's 16 x 16 codes, a semantic video's 8 x 8 per latent
            frame): the serializer then gives each code its row and column on a grid common to
            every modality (``archon_framework.token_grid``), which models with
            ``PrefixLMConfig.space_pairs > 0`` rotate by, so codes of two rasters that cover one
            place of the frame meet at one relative offset. None: the codes have no place.
    """

    name: str = attrs.field(validator=_check_name)
    vocabulary: Vocabulary | None
    temporal: bool
    phrase: str
    raw: RawSpec
    num_tokens: Callable[[ClipMeta], int | None]
    tokenizer: Callable[[Path | None], Any] | None = None
    renderer: Callable[[Path | None], Renderer] | None = None
    tokens_per_second: float | None = None
    max_tokens: int | None = None
    validate: Callable[[Any, ClipMeta], Any] | None = None
    window: Callable[[Any, ClipMeta, float, float], Any] | None = None
    trainer: Callable[..., Mapping[str, Any]] | None = None
    trainer_stages: Callable[[int, Mapping[str, Any] | None], Mapping[str, tuple[int, int]]] | None = None
    load: Callable[[Path, ClipMeta], Any] | None = None
    derived_from: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    description: str = ""
    vocabulary_for: Callable[[Path], Vocabulary] | None = None
    grid: tuple[int, int] | None = attrs.field(default=None, converter=lambda g: tuple(g) if isinstance(g, (list, tuple)) else g)

    def __attrs_post_init__(self) -> None:
        if self.grid is not None and (
            not isinstance(self.grid, tuple)
            or len(self.grid) != 2
            or not all(isinstance(g, (int, np.integer)) and not isinstance(g, bool) and g > 0 for g in self.grid)
        ):
            raise PluginError(f"modality {self.name!r}: grid must be (rows, columns), two positive ints, got {self.grid!r}")
        if not self.phrase or not isinstance(self.phrase, str):
            raise PluginError(f"modality {self.name!r}: phrase must be a non-empty string")
        if self.vocabulary is None and not self.derived_from:
            raise PluginError(
                f"modality {self.name!r}: a modality without a vocabulary must say what it is "
                "rendered from (derived_from)"
            )
        if self.vocabulary is None:
            if self.renderer is None and self.tokenizer is not None:
                warnings.warn(
                    f"modality {self.name!r}: a rendered modality names its renderer factory as renderer=, "
                    "not tokenizer=; the tokenizer factory is used as its renderer",
                    DeprecationWarning, stacklevel=3,
                )
                object.__setattr__(self, "renderer", self.tokenizer)
                object.__setattr__(self, "tokenizer", None)
            if self.renderer is None or not callable(self.renderer):
                raise PluginError(f"modality {self.name!r}: a rendered modality needs a renderer factory (renderer=)")
            if self.tokenizer is not None:
                raise PluginError(f"modality {self.name!r}: a rendered modality has a renderer, not a tokenizer")
        else:
            if self.tokenizer is None or not callable(self.tokenizer):
                raise PluginError(f"modality {self.name!r}: a modality with a vocabulary needs a tokenizer factory (tokenizer=)")
            if self.renderer is not None:
                raise PluginError(
                    f"modality {self.name!r}: only a rendered modality (vocabulary=None) has a renderer"
                )

    @property
    def rendered(self) -> bool:
        """True for modalities made by a Renderer rather than emitted as tokens."""
        return self.vocabulary is None

    def check_raw(self, value: Any, meta: ClipMeta) -> Any:
        """Validate a raw value for a clip window; errors name the clip and the modality."""
        where = f"clip {meta.clip_id!r}, modality {self.name!r}"
        value = self.raw.check(value, meta, where=where)
        if self.validate is not None:
            try:
                value = self.validate(value, meta)
            except RawValueError as err:
                if where in str(err):
                    raise
                raise RawValueError(f"{where}: {err}") from err
        return value

    def token_count(self, meta: ClipMeta) -> int | None:
        """`num_tokens(meta)`, checked to be a non-negative int or None."""
        n = self.num_tokens(meta)
        if n is None:
            return None
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise PluginError(f"modality {self.name!r}: num_tokens returned {n!r}, expected an int >= 0 or None")
        return int(n)

    def tokens_per_clip_second(self, frame_rate: float = 30.0, sample_rate: int = 16_000) -> float | None:
        """Tokens per second of clip, measured on a 1 s window, or the declared value."""
        if self.tokens_per_second is not None:
            return self.tokens_per_second
        if not self.temporal or self.rendered:
            return None
        n = self.token_count(ClipMeta(clip_id="rate", duration=1.0, frame_rate=frame_rate, sample_rate=sample_rate))
        return None if n is None else float(n)
