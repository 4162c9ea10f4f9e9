"""The cross-modal relations the dataset exists for are measurably present in generated clips."""

from __future__ import annotations

import numpy as np
import pytest

from archon_semantic_magvit import LABEL_INDEX
from archon_speech_soundstream import energy_envelope
from archon_synthetic_heads import SynthConfig, generate_clip
from archon_synthetic_heads._appearance import CLOTHES_COLOURS, COLOURS, HAIR_COLOURS

L = LABEL_INDEX
MOUTH_INTERIOR = [L["teeth"], L["tongue"], L["other_in_the_mouth"]]


@pytest.fixture(scope="module")
def stills():
    """40 very short clips without video, with optional items made common (~0.1 s each)."""
    cfg = SynthConfig(with_video=False, p_glasses=0.5, p_headwear=0.4, p_accessory=0.5)
    return [generate_clip(i, seed=3, seconds=0.2, config=cfg) for i in range(40)]


def test_mouth_opening_follows_the_speech_envelope(clips):
    """Pearson r of mouth-interior area (teeth+tongue+other) vs 30 Hz RMS is above 0.5.

    The envelope is the speech plugin's metric helper (what lip-sync scores use), not the
    generator's own motion driver, so the test is not circular.
    """
    rs, areas, envs = [], [], []
    for clip in clips:
        area = np.isin(clip["semantic"], MOUTH_INTERIOR).sum(axis=(1, 2))  # [frames]
        env = energy_envelope(clip["speech"], frame_rate=30, n_frames=clip.meta.frames)
        rs.append(np.corrcoef(area, env)[0, 1])
        areas.append(area)
        envs.append(env)
    assert min(rs) > 0.5, rs
    assert np.corrcoef(np.concatenate(areas), np.concatenate(envs))[0, 1] > 0.5


def test_jaw_expression_follows_the_speech_envelope(clips):
    for clip in clips:
        env = energy_envelope(clip["speech"], frame_rate=30, n_frames=clip.meta.frames)
        assert np.corrcoef(clip["expression"][:, 0], env)[0, 1] > 0.6


@pytest.mark.parametrize("label, present", [
    ("glasses", lambda d: "glasses" in d["appearance"]["facial_features"]),
    ("beard", lambda d: {"beard", "mustache"} & set(d["appearance"]["facial_features"])),
    ("headwear", lambda d: {"baseball_cap", "beanie"} & set(d["appearance"]["clothing"]["accessories"])),
    ("accessory", lambda d: {"earrings", "necklace"} & set(d["appearance"]["clothing"]["accessories"])),
    ("hair", lambda d: d["appearance"]["hair_style"] != ["bald"]),
])
def test_described_items_are_visible(stills, label, present):
    seen = set()
    for clip in stills:
        described = bool(present(clip["description"]))
        pixels = int((clip["semantic"] == L[label]).sum())
        assert described == (pixels > 0), (clip.clip_id, label, described, pixels)
        seen.add(described)
    if label != "hair":  # both cases must occur for the test to mean something
        assert seen == {True, False}


def _named(rgb: np.ndarray, names, light: float, shading: tuple[float, float]) -> str:
    """The named colour that best explains `rgb` up to a shading factor in the given range."""
    best, err = None, np.inf
    for name in names:
        ref = np.asarray(COLOURS[name], np.float64) * light
        k = np.clip(rgb @ ref / (ref @ ref), *shading)
        e = np.linalg.norm(rgb - k * ref)
        if e < err:
            best, err = name, e
    return best


def _region_colour(clip, label: int) -> np.ndarray | None:
    mask = np.kron(clip["semantic"][0] == label, np.ones((2, 2), bool))  # [256, 256]
    return clip["image"][mask].astype(np.float64).mean(0) if mask.sum() > 30 else None


def test_hair_and_clothes_colours_match_the_description(stills):
    checked = 0
    for clip in stills:
        d = clip["description"]
        light = 1.0 if d["environment"]["lighting_conditions"] == "bright" else 0.62
        hair = _region_colour(clip, L["hair"])
        if hair is not None:
            assert _named(hair, HAIR_COLOURS, light, (0.7, 1.0)) == d["appearance"]["hair_color"][0], clip.clip_id
            checked += 1
        clothes = _region_colour(clip, L["clothes"])
        described = d["appearance"]["clothing"]["dominant_colors"][0]
        assert _named(clothes, CLOTHES_COLOURS, light, (0.85, 1.12)) == {"navy_blue": "navy"}.get(described, described)
    assert checked >= 20


def test_blinks_close_the_eyes_in_the_semantic_video(clips):
    closed_open = []
    for clip in clips:
        eye = clip["expression"][:, 4]
        sclera = (clip["semantic"] == L["sclera"]).sum(axis=(1, 2))
        if (eye > 0.9).any():
            closed_open.append((sclera[eye > 0.9].mean(), sclera[eye < 0.1].mean()))
        assert (clip["description"]["action"]["blink_frequency"] == "none") == (not (eye > 0.9).any())
    assert closed_open and all(c < 0.3 * o for c, o in closed_open)


def test_voice_pitch_follows_gender(clips, pitch_of):
    f0 = {"male": [], "female": []}
    for clip in clips:
        app = clip["description"]["appearance"]
        if app["age_group"] != "child":
            f0[app["gender"]].append(pitch_of(clip["speech"]))
    assert f0["male"] and f0["female"]
    assert np.nanmean(f0["female"]) > 1.3 * np.nanmean(f0["male"])
