"""Speech-driven animation: loudness envelope, visemes, blinks and the description of motion."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_synthetic_heads import EXPRESSION_COMPONENTS, Voice, loudness_envelope, synthesize
from archon_synthetic_heads._description import blink_frequency
from archon_synthetic_heads._motion import Style, animate

ROUND = EXPRESSION_COMPONENTS.index("lip_round")
PRESS = EXPRESSION_COMPONENTS.index("lip_press")
STILL = Style(mood="neutral", energy=1.0, blink_rate=0.0, head_action="mostly_centered", gaze=(0.0, 0.0), brow_flicks=0.0)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(st.floats(0.01, 1.0), st.integers(3, 40))
def test_envelope_of_a_constant_signal_is_its_amplitude(amp, frames):
    audio = np.full(frames * 16000 // 30 + 1, amp, np.float32)
    env = loudness_envelope(audio, sample_rate=16000, frames=frames, frame_rate=30)
    assert env.shape == (frames,)
    assert np.allclose(env[1:-1], amp, rtol=1e-4)  # edges see the zero padding


def _animate(text: str, **style):
    speech = synthesize(text, Voice())
    frames = int(np.ceil(speech.duration * 30))
    audio = np.zeros(round(frames / 30 * 16000), np.float32)
    audio[: len(speech.audio)] = speech.audio
    st_ = attrs.evolve(STILL, **style)
    return animate(speech, audio, offset=0.0, frames=frames, frame_rate=30.0, style=st_,
                   rng=np.random.default_rng(0), expression_dim=50)


def test_rounded_vowels_round_the_lips_and_bilabials_press_them():
    rounded = _animate("Who knew you would move too?").expression
    spread = _animate("We see three keys here.").expression
    assert rounded[:, ROUND].mean() > 3 * spread[:, ROUND].mean() + 0.05
    bilabial = _animate("Mom bought maps, Bob.").expression
    assert bilabial[:, PRESS].max() > 0.5 and spread[:, PRESS].max() < 0.3


def test_blinks_are_counted_and_described():
    motion = _animate("Let me show you how this works.", blink_rate=3.0)
    eye = motion.expression[:, EXPRESSION_COMPONENTS.index("eye_close_l")]
    assert motion.blinks > 0 and eye.max() == pytest.approx(1.0)
    assert blink_frequency(0, 2.0) == "none" and blink_frequency(1, 2.0) == "low"
    assert blink_frequency(2, 2.0) == "medium" and blink_frequency(4, 2.0) == "high"


def test_pose_is_axis_angle_and_translation():
    motion = _animate("Hello and welcome back.", head_action="turns_side_to_side")
    assert motion.pose.shape[1] == 6 and motion.pose.dtype == np.float32
    assert np.abs(motion.pose[:, :3]).max() < 0.6 and np.abs(motion.pose[:, 3:]).max() < 0.05
    assert np.ptp(motion.pose[:, 1]) > 0.2  # yaw swings
