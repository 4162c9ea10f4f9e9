"""Generate one synthetic talking-head clip, deterministic by (seed, split, index).

Random streams: clip ``index`` of ``split`` under ``seed`` draws everything from
``numpy.random.SeedSequence([seed, SPLIT_CODES[split], index])``, so splits never share a
stream, and held-out splits speak sentences that the training split never uses (see
:data:`archon_synthetic_heads.SPLITS`).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from archon_framework import Clip, ClipMeta, ConfigError, DataError
from archon_framework.config import load_config
from archon_synthetic_heads._appearance import Appearance, sample_appearance
from archon_synthetic_heads._corpus import SPLITS, split_sentences
from archon_synthetic_heads._description import describe
from archon_synthetic_heads._espeak import Synthesis, Voice, synthesize
from archon_synthetic_heads._contracts import SAMPLE_RATE, FlameDims
from archon_synthetic_heads._motion import Motion, Style, animate, sample_style
from archon_synthetic_heads._render import render_clip

__all__ = ["SOURCE", "FRAME_RATE", "SPLIT_CODES", "SynthConfig", "generate_clip", "performed_clip", "clip_id", "default_config_path"]

SOURCE = "synthetic_heads"
FRAME_RATE = 30.0
#: Split -> the second entropy word of a clip's SeedSequence.
SPLIT_CODES: dict[str, int] = {"train": 0, "validation": 1, "test": 2}


def _check_range(lo: float, hi: float):
    def check(instance, attribute, value):
        if not (lo <= value <= hi):
            raise ConfigError(f"SynthConfig.{attribute.name} = {value!r} is outside [{lo}, {hi}]")
    return check


@attrs.frozen(kw_only=True)
class SynthConfig:
    """Settings of the synthetic talking-head generator (``data/synthetic_heads.toml``).

    The clips follow the paper's Sec. D: 30 fps video, 16 kHz speech padded with silence
    (D.3), a script of the words overlapping the clip (D.2), 3DMM-style animation (D.4),
    21-label semantic video (D.5, Table H), 256 x 256 RGB (D.6), a Fig. K description (D.1).

    Attributes:
        seconds: default clip length.
        language: espeak-ng voice language.
        max_lead_in: speech starts after a random silence of up to this many seconds.
        p_glasses, p_beard, p_headwear, p_accessory: probabilities of optional items.
        with_video: render the RGB video (False: only the first-frame image).
        max_sentence_tries: sentences tried per slot; when none fits an empty clip, the shortest
            is cut at the clip end.
    """

    seconds: float = attrs.field(default=2.0, validator=_check_range(0.1, 600.0))
    language: str = "en-us"
    max_lead_in: float = attrs.field(default=0.3, validator=_check_range(0.0, 5.0))
    p_glasses: float = attrs.field(default=0.3, validator=_check_range(0.0, 1.0))
    p_beard: float = attrs.field(default=0.45, validator=_check_range(0.0, 1.0))
    p_headwear: float = attrs.field(default=0.12, validator=_check_range(0.0, 1.0))
    p_accessory: float = attrs.field(default=0.25, validator=_check_range(0.0, 1.0))
    with_video: bool = True
    max_sentence_tries: int = attrs.field(default=8, validator=_check_range(1, 100))

    @classmethod
    def load(cls, path: str | Path | None = None) -> SynthConfig:
        """Load from TOML/JSON (section ``[synthetic_heads]``); None: the shipped default."""
        return load_config(path or default_config_path(), cls, section="synthetic_heads")


def default_config_path() -> Path:
    """Path of the shipped default config."""
    return Path(__file__).parent / "data" / "synthetic_heads.toml"


def clip_id(index: int, *, seed: int, split: str = "train") -> str:
    """The id of a generated clip, e.g. ``synthetic_heads/train/s0/0000042``."""
    return f"{SOURCE}/{split}/s{seed}/{index:07d}"


def _join(parts: list[tuple[float, Synthesis]], sample_rate: int) -> Synthesis:
    """One synthesis from sentences placed at the given start times (seconds, increasing)."""
    total = max(int(round(t * sample_rate)) + len(p.audio) for t, p in parts)
    audio = np.zeros(total, np.float32)
    words, phones = [], []
    for t, p in parts:
        i = int(round(t * sample_rate))
        audio[i: i + len(p.audio)] = p.audio
        t = i / sample_rate
        words += [attrs.evolve(w, start=w.start + t, end=w.end + t) for w in p.words]
        phones += [attrs.evolve(q, start=q.start + t, end=q.end + t) for q in p.phones]
    return Synthesis(audio=audio, sample_rate=sample_rate, words=tuple(words), phones=tuple(phones))


def _speak(rng: np.random.Generator, sentences: tuple[str, ...], budget: float, cfg: SynthConfig,
           voice: Voice) -> Synthesis:
    """Sentences that fit in `budget` seconds, each synthesized alone and joined with short pauses.

    Each slot tries up to ``cfg.max_sentence_tries`` sentences; if not even the first one fits,
    the shortest tried is kept and cut at the clip end (paper D.2/D.3).
    """
    parts: list[tuple[float, Synthesis]] = []
    t = 0.0
    while budget - t >= (0.7 if parts else 0.0):
        remaining = budget - t
        # ~2.9 words per second at presenter speed: skip sentences that cannot fit
        fits = [x for x in sentences if len(x.split()) <= max(2.0, 2.9 * remaining)]
        pool = fits or sentences
        chosen, shortest = None, None
        for _ in range(cfg.max_sentence_tries):
            synth = synthesize(pool[int(rng.integers(len(pool)))], voice, sample_rate=SAMPLE_RATE)
            if synth.duration <= remaining:
                chosen = synth
                break
            if shortest is None or synth.duration < shortest.duration:
                shortest = synth
        if chosen is None:
            if parts:
                break  # the clip is full: trailing silence
            chosen = shortest  # nothing fits an empty clip: keep the shortest, cut at the end
        parts.append((t, chosen))
        t += chosen.duration + float(rng.uniform(0.15, 0.45))  # pause between sentences
    return _join(parts, SAMPLE_RATE)


def clip_stream(index: int, seed: int, split: str) -> np.random.Generator:
    """The random stream of clip `index` of `split` under `seed`, everything it draws comes from.

    Raises:
        DataError: a negative index or seed, or an unknown split.
    """
    if index < 0 or seed < 0:
        raise DataError(f"synthetic_heads: index and seed must be >= 0 (got index={index}, seed={seed})")
    if split not in SPLIT_CODES:
        raise DataError(f"synthetic_heads: unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return np.random.default_rng(np.random.SeedSequence([seed, SPLIT_CODES[split], index]))


def draw_appearance(rng: np.random.Generator, cfg: SynthConfig) -> Appearance:
    """The person of a clip: the first draw of its stream."""
    app = sample_appearance(rng, shape_dim=FlameDims().shape, p_glasses=cfg.p_glasses, p_beard=cfg.p_beard,
                            p_headwear=cfg.p_headwear, p_accessory=cfg.p_accessory)
    return attrs.evolve(app, voice=attrs.evolve(app.voice, language=cfg.language))


@attrs.frozen
class Performance:
    """What a clip's stream decides before anything is rendered: who speaks, what and how they move."""

    meta: ClipMeta
    appearance: Appearance
    style: Style
    offset: float  # seconds of silence before the speech starts
    synth: Synthesis
    speech: np.ndarray  # float32 [samples], silence-padded to the clip (paper D.3)
    motion: Motion


def perform(index: int, *, seed: int, seconds: float | None = None, split: str = "train",
            config: SynthConfig | None = None) -> Performance:
    """The steps of `generate_clip` before rendering (person, style, speech, animation), in the
    order they consume the clip's stream.

    Raises:
        DataError: a bad index, seed, split or length.
    """
    cfg = config or SynthConfig()
    seconds = cfg.seconds if seconds is None else float(seconds)
    rng = clip_stream(index, seed, split)
    if not (0.1 <= seconds <= 600.0):
        raise DataError(f"synthetic_heads: clip length {seconds} s is outside 0.1..600 s")
    meta = ClipMeta(clip_id=clip_id(index, seed=seed, split=split), duration=seconds,
                    frame_rate=FRAME_RATE, sample_rate=SAMPLE_RATE, source=SOURCE)
    app = draw_appearance(rng, cfg)
    style = sample_style(rng)
    offset = float(rng.uniform(0.0, min(cfg.max_lead_in, 0.25 * seconds)))
    synth = _speak(rng, split_sentences(split), seconds - offset - 0.02, cfg, app.voice)
    start = int(round(offset * SAMPLE_RATE))
    speech = np.zeros(meta.samples, np.float32)
    n = max(0, min(len(synth.audio), meta.samples - start))
    speech[start: start + n] = synth.audio[:n]
    motion = animate(synth, speech, offset=offset, frames=meta.frames, frame_rate=FRAME_RATE, style=style,
                     rng=rng, expression_dim=FlameDims().expression)
    return Performance(meta, app, style, offset, synth, speech, motion)


def generate_clip(index: int, *, seed: int, seconds: float | None = None, split: str = "train",
                  config: SynthConfig | None = None) -> Clip:
    """Generate clip `index` of a synthetic dataset.

    Args:
        index: clip number (>= 0).
        seed: dataset seed.
        seconds: clip length (default ``config.seconds``, 2 s).
        split: ``train``, ``validation`` or ``test``; streams and sentences are disjoint.
        config: generator settings (default :class:`SynthConfig`).

    Returns:
        A ``Clip`` with meta (id, duration, 30 fps, 16 kHz, source ``synthetic_heads``) and
        values ``speech``, ``script``, ``identity``, ``expression``, ``pose``, ``semantic``,
        ``image``, ``video`` (unless ``config.with_video`` is False) and ``description``.

    Raises:
        DataError: a bad index, seed or split.
    """
    cfg = config or SynthConfig()
    p = perform(index, seed=seed, seconds=seconds, split=split, config=cfg)
    performed = _performed_values(p)
    semantic, video = render_clip(p.appearance, p.motion.expression, p.motion.pose, with_video=cfg.with_video)
    values = {k: performed[k] for k in ("speech", "script", "identity", "expression", "pose")}
    values.update(semantic=semantic, image=video[0].copy(), description=performed["description"])  # as before
    if cfg.with_video:
        values["video"] = video  # uint8 [frames, 256, 256, 3]
    return Clip(p.meta, values)


def performed_clip(index: int, *, seed: int, seconds: float | None = None, split: str = "train",
                   config: SynthConfig | None = None) -> Clip:
    """Clip `index` of a synthetic dataset without its rendered modalities: ``speech``,
    ``script``, ``identity``, ``expression``, ``pose`` and ``description``, equal to those of
    `generate_clip` with the same arguments, at a fraction of the cost (no semantic video, image
    or video is drawn). For tasks among these modalities, many more clips than a rendered
    dataset can hold in the same time (a training stream mixes both: a task samples the clips
    that hold its modalities).

    Raises:
        DataError: a bad index, seed, split or length.
    """
    p = perform(index, seed=seed, seconds=seconds, split=split, config=config or SynthConfig())
    return Clip(p.meta, _performed_values(p))


def mixed_clip(index: int, *, seed: int, seconds: float | None = None, split: str = "train",
               rendered_every: int = 4, config: SynthConfig | None = None) -> Clip:
    """Clip `index` rendered (`generate_clip`) when ``index % rendered_every == 0``, else its
    unrendered modalities only (`performed_clip`): a training stream with many clips for the
    tasks among speech, script, FLAME and description and every `rendered_every`-th clip for
    the tasks that need pixels, at less than half a rendered dataset's cost a clip (1-s clips:
    0.105 s against 0.240 s, 64 of each interleaved). Each clip equals the rendered dataset's
    clip `index` in what it holds.

    Raises:
        DataError: a bad index, seed, split or length, or `rendered_every` < 1.
    """
    if rendered_every < 1:
        raise DataError(f"synthetic_heads: rendered_every must be >= 1, got {rendered_every}")
    make = generate_clip if index % rendered_every == 0 else performed_clip
    return make(index, seed=seed, seconds=seconds, split=split, config=config)


def _performed_values(p: Performance) -> dict:
    seconds = p.meta.duration
    script = " ".join(w.text for w in p.synth.words if w.start + p.offset < seconds and w.end + p.offset > 0.0)
    return {
        "speech": p.speech,  # float32 [samples]
        "script": script,
        "identity": p.appearance.identity.astype(np.float32),  # [shape]
        "expression": p.motion.expression,  # [frames, expression]
        "pose": p.motion.pose,  # [frames, 6]
        "description": describe(p.appearance, p.style, p.motion, seconds=seconds),
    }
