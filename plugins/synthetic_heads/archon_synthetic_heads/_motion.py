"""Speech-driven expression and pose trajectories (visemes, loudness, blinks, brows, head motion).

Expression vector (``float32 [frames, FlameDims.expression]``): the leading components below
drive the renderer; the rest are zero.

==== ============ ===========================================================
dim  name         meaning (range)
==== ============ ===========================================================
0    jaw_open     mouth opening, follows loudness x viseme openness (0..1)
1    mouth_smile  lip-corner pull: + smile, - frown (-1..1)
2    lip_round    rounding / pucker for o, u, w (0..1)
3    lip_press    lips pressed for p, b, m and lower lip to teeth for f, v (0..1)
4    eye_close_l  left eyelid closure, 1 = closed (blinks) (0..1)
5    eye_close_r  right eyelid closure (0..1)
6    brow_raise   both brows up (0..1)
7    brow_furrow  brows down and together (0..1)
8    gaze_x       iris offset, + toward image right (-1..1)
9    gaze_y       iris offset, + down (-1..1)
==== ============ ===========================================================

Pose (``float32 [frames, 6]``): axis-angle head rotation in radians, in camera axes (x right,
y down, z toward the camera): about x, + lifts the face (chin up); about y, + turns the face
toward the image's right; about z, + rolls the head clockwise on screen. Then the translation
in metres (x right, y down, z toward the camera; 700 pixels per metre at 256 x 256).
"""

from __future__ import annotations

import attrs
import numpy as np
from jaxtyping import Float
from scipy.spatial.transform import Rotation

from archon_synthetic_heads._espeak import Synthesis

__all__ = ["EXPRESSION_COMPONENTS", "Motion", "Style", "sample_style", "animate", "loudness_envelope"]

EXPRESSION_COMPONENTS: tuple[str, ...] = (
    "jaw_open", "mouth_smile", "lip_round", "lip_press", "eye_close_l", "eye_close_r",
    "brow_raise", "brow_furrow", "gaze_x", "gaze_y",
)
HEAD_ACTIONS = ("mostly_centered", "nods_rhythmically", "turns_side_to_side", "tilts_inquisitively")

# viseme classes: (openness, rounding, lip press)
_OPEN, _MID, _CLOSE_V, _ROUND, _SEMI_ROUND = (1.0, 0, 0), (0.7, 0, 0), (0.4, 0, 0), (0.55, 1.0, 0), (0.65, 0.5, 0)
_BILABIAL, _LABIODENTAL, _DENTAL, _SIBILANT, _OTHER = (0.0, 0, 1.0), (0.1, 0, 0.6), (0.3, 0, 0), (0.15, 0, 0), (0.35, 0, 0)
_VISEMES: dict[str, tuple[float, float, float]] = {
    **{p: _OPEN for p in ("a", "A", "A:", "aI", "aU", "a#", "aI@", "aU@", "A@")},
    **{p: _MID for p in ("E", "e", "eI", "3", "3:", "@", "V", "e@", "@2", "@5", "I2", "0")},
    **{p: _CLOSE_V for p in ("I", "i", "i:", "i@", "I#")},
    **{p: _ROUND for p in ("u", "u:", "U", "w", "U@", "W")},
    **{p: _SEMI_ROUND for p in ("O", "O:", "oU", "o", "OI", "O@", "o@")},
    **{p: _BILABIAL for p in ("p", "b", "m")},
    **{p: _LABIODENTAL for p in ("f", "v")},
    **{p: _DENTAL for p in ("T", "D")},
    **{p: _SIBILANT for p in ("s", "z", "S", "Z", "tS", "dZ")},
}


def _viseme(symbol: str) -> tuple[float, float, float]:
    core = symbol.lstrip("',%=").rstrip(";")
    if not core or core.startswith("_"):
        return (0.0, 0.0, 0.0)  # pause: mouth at rest
    return _VISEMES.get(core, _OTHER)


@attrs.frozen
class Style:
    """Per-clip performance style (drawn once; described in the action attributes)."""

    mood: str  # smile | neutral | frown
    energy: float  # 0.5..1.5: jaw gain, nod amplitude
    blink_rate: float  # blinks per second
    head_action: str  # one of HEAD_ACTIONS
    gaze: tuple[float, float]  # mean iris offset
    brow_flicks: float  # probability of a brow raise at a stressed word


def sample_style(rng: np.random.Generator) -> Style:
    """Draw a performance style."""
    mood = ("smile", "neutral", "frown")[int(rng.choice(3, p=(0.45, 0.4, 0.15)))]
    gaze_kind = int(rng.choice(3, p=(0.7, 0.15, 0.15)))
    gaze = (0.0, -0.6, 0.6)[gaze_kind] + float(rng.normal(0, 0.05)), float(rng.normal(0, 0.08))
    return Style(
        mood=mood, energy=float(rng.uniform(0.6, 1.4)), blink_rate=float(rng.choice((0.15, 0.45, 0.9))),
        head_action=HEAD_ACTIONS[int(rng.integers(len(HEAD_ACTIONS)))], gaze=gaze,
        brow_flicks=float(rng.choice((0.0, 0.3, 0.7))),
    )


@attrs.frozen
class Motion:
    """Animation of a clip (the paper's Sec. D.4 animation parameters) plus the facts the
    description reports about it (Sec. D.1 action attributes)."""

    expression: Float[np.ndarray, "frames expression"] = attrs.field(eq=False)
    pose: Float[np.ndarray, "frames 6"] = attrs.field(eq=False)
    blinks: int
    loudness: Float[np.ndarray, " frames"] = attrs.field(eq=False)  # RMS at the frame rate


def loudness_envelope(audio: Float[np.ndarray, " samples"], *, sample_rate: int, frames: int,
                      frame_rate: float) -> Float[np.ndarray, " frames"]:
    """RMS of the audio in a window of one frame period centred on each video frame.

    Returns:
        float32 [frames].
    """
    hop = sample_rate / frame_rate
    half = int(round(hop))  # window of two hops: smooth but still follows syllables
    centres = (np.arange(frames) * hop + hop / 2).astype(np.int64)
    padded = np.pad(audio.astype(np.float64) ** 2, (half, half))
    csum = np.concatenate([[0.0], np.cumsum(padded)])
    lo, hi = centres, centres + 2 * half  # in padded coordinates: [c - half, c + half)
    return np.sqrt((csum[hi] - csum[lo]) / (2 * half)).astype(np.float32)


def _smooth(x: np.ndarray, width: float) -> np.ndarray:
    """Gaussian smoothing along time (width in frames)."""
    if width <= 0:
        return x
    r = int(np.ceil(3 * width))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / width) ** 2)
    k /= k.sum()
    return np.convolve(np.pad(x, (r, r), mode="edge"), k, mode="valid")


def _pulses(times: np.ndarray, amps: np.ndarray, t: np.ndarray, width: float) -> np.ndarray:
    if len(times) == 0:
        return np.zeros_like(t)
    return (amps[:, None] * np.exp(-0.5 * ((t[None, :] - times[:, None]) / width) ** 2)).sum(0)


def animate(speech: Synthesis, audio: Float[np.ndarray, " samples"], *, offset: float, frames: int, frame_rate: float,
            style: Style, rng: np.random.Generator, expression_dim: int) -> Motion:
    """Expression and pose for a clip whose speech (timed from `offset` seconds) is `audio`.

    Args:
        speech: the synthesis, for phoneme and word timings (relative to its own start).
        audio: the clip's padded/cut 16 kHz track (float32 [samples]).
        offset: time in the clip at which `speech` starts.
        frames: number of video frames.
        frame_rate: frames per second.
        style: the performance style.
        rng: the clip's generator.
        expression_dim: ``FlameDims.expression``.
    """
    t = np.arange(frames) / frame_rate  # [frames] seconds
    rms = loudness_envelope(audio, sample_rate=speech.sample_rate, frames=frames, frame_rate=frame_rate)
    loud = np.clip(rms / 0.12, 0.0, 1.3) ** 0.8  # espeak at volume 100 peaks near 0.12 RMS

    # visemes, sampled 40 ms ahead: lips anticipate the sound (coarticulation)
    vis = np.zeros((frames, 3))
    starts = np.array([p.start + offset for p in speech.phones])
    if len(starts):
        idx = np.searchsorted(starts, t + 0.04, side="right") - 1
        table = np.array([_viseme(p.symbol) for p in speech.phones])
        valid = (idx >= 0) & (t + 0.04 < speech.phones[-1].end + offset)
        vis[valid] = table[idx[valid]]
    vis = np.stack([_smooth(vis[:, k], 0.8) for k in range(3)], 1)
    openness, rounding, press = vis[:, 0], vis[:, 1], vis[:, 2]

    jaw = np.clip(loud * (0.3 + 0.7 * openness) * (1.0 - 0.7 * press) * style.energy, 0.0, 1.0)
    mood = {"smile": 0.7, "neutral": 0.0, "frown": -0.5}[style.mood]
    smile = np.clip(mood + 0.1 * _smooth(rng.normal(0, 1, frames), 4) - 0.3 * rounding, -1, 1)

    # blinks: Poisson process, each a 5-frame closing/opening profile
    n_blinks = int(rng.poisson(style.blink_rate * frames / frame_rate))
    blink_at = np.sort(rng.integers(0, max(frames, 1), n_blinks))
    eye = np.zeros(frames)
    profile = np.array([0.35, 0.85, 1.0, 0.7, 0.3])
    for b in blink_at:
        seg = slice(b, min(b + len(profile), frames))
        eye[seg] = np.maximum(eye[seg], profile[: seg.stop - seg.start])

    # brows: raises at stressed word onsets, furrow with a frown
    word_t = np.array([w.start + offset for w in speech.words])
    flick = rng.random(len(word_t)) < style.brow_flicks
    brow = np.clip(_pulses(word_t[flick], rng.uniform(0.5, 1.0, flick.sum()), t, 0.12), 0, 1)
    furrow = np.full(frames, 0.6 if style.mood == "frown" else 0.0) + 0.15 * loud * (style.mood == "frown")

    gaze_x = style.gaze[0] + 0.05 * _smooth(rng.normal(0, 1, frames), 3)
    gaze_y = style.gaze[1] + 0.05 * _smooth(rng.normal(0, 1, frames), 3)

    expr = np.zeros((frames, expression_dim), np.float32)
    cols = (jaw, smile, rounding, press, eye, eye, brow, np.clip(furrow, 0, 1), gaze_x, gaze_y)
    expr[:, : len(cols)] = np.stack(cols, 1)  # [frames, 10] into the leading dims

    # head: speech-timed micro-nods for everyone, plus the clip's head action
    amp = 0.03 * style.energy
    pitch = _pulses(word_t, rng.uniform(0.4, 1.0, len(word_t)) * amp, t + 0.05, 0.1)
    yaw = 0.02 * _smooth(rng.normal(0, 1, frames), 8)
    roll = 0.015 * _smooth(rng.normal(0, 1, frames), 8)
    phase = rng.uniform(0, 2 * np.pi)
    if style.head_action == "nods_rhythmically":
        pitch = pitch * 2.0 + 0.07 * style.energy * np.sin(2 * np.pi * rng.uniform(1.5, 2.5) * t + phase)
    elif style.head_action == "turns_side_to_side":
        yaw = yaw + rng.uniform(0.22, 0.35) * np.sin(2 * np.pi * rng.uniform(0.4, 0.7) * t + phase)
    elif style.head_action == "tilts_inquisitively":
        roll = roll + rng.choice((-1, 1)) * rng.uniform(0.12, 0.2) * np.clip(t / 0.4, 0, 1)
    rot = Rotation.from_euler("xyz", np.stack([pitch, yaw, roll], 1)).as_rotvec()  # [frames, 3]
    trans = np.stack([0.006 * _smooth(rng.normal(0, 1, frames), 10), 0.25 * 0.05 * pitch,
                      0.008 * _smooth(rng.normal(0, 1, frames), 10)], 1)  # [frames, 3] metres
    pose = np.concatenate([rot, trans], 1).astype(np.float32)  # [frames, 6]
    return Motion(expression=expr, pose=pose, blinks=n_blinks, loudness=rms)
