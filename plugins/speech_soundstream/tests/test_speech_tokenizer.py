"""The speech tokenizer and the plugin: token counts, layout, bad input, conformance, save/load."""

from __future__ import annotations

import importlib.metadata
import math

import attrs
import numpy as np
import pytest
from archon_framework import CheckpointError, ClipMeta, RawValueError, VocabError
from archon_framework.testing import check_modality, check_tokenizer, make_registry
from archon_speech_soundstream import (
    SPEECH,
    SPEECH_VOCABULARY,
    SoundStreamTokenizer,
    make_tokenizer,
    num_speech_tokens,
    synthetic_speech,
)
from archon_speech_soundstream import _plugin
from hypothesis import given, settings
from hypothesis import strategies as st


def _meta(seconds: float, clip_id: str = "t", sample_rate: int = 16_000) -> ClipMeta:
    return ClipMeta(clip_id=clip_id, duration=seconds, frame_rate=30.0, sample_rate=sample_rate)


@pytest.fixture(scope="module")
def tok() -> SoundStreamTokenizer:
    return make_tokenizer(None)


@pytest.fixture(scope="module")
def one_second(tok):
    wave = synthetic_speech(1.0, seed=21)
    return wave, tok.encode(wave, meta=_meta(1.0))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 40 * 25))
def test_token_count_is_25_per_second_times_4(frames):
    seconds = frames / 25
    n = num_speech_tokens(_meta(seconds))
    assert n == 4 * frames
    assert n == pytest.approx(25 * seconds * 4, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200_000))
def test_token_count_pads_to_whole_frames(samples):
    meta = _meta(samples / 16_000)
    assert meta.samples == samples
    assert SPEECH.token_count(meta) == 4 * math.ceil(samples / 640)


def test_encode_layout(tok, one_second):
    _, ids = one_second
    assert ids.dtype == np.int32 and ids.shape == (100,)
    assert ids.min() >= 0 and ids.max() < SPEECH_VOCABULARY.size == 4096
    levels = ids.reshape(25, 4) // 1024  # frame-major: [t0:l0, l1, l2, l3, t1:l0, ...]
    np.testing.assert_array_equal(levels, np.tile(np.arange(4), (25, 1)))


def test_level_major_order_is_a_permutation(tok, one_second):
    wave, ids = one_second
    cfg = attrs.evolve(tok.cfg, tokens=attrs.evolve(tok.cfg.tokens, order="level"))
    level_tok = SoundStreamTokenizer(cfg, tok.codec, tok.state)
    level_ids = level_tok.encode(wave, meta=_meta(1.0))
    np.testing.assert_array_equal(level_ids, ids.reshape(25, 4).T.reshape(-1))
    np.testing.assert_array_equal(level_tok.decode(level_ids, meta=_meta(1.0)), tok.decode(ids, meta=_meta(1.0)))


def test_decode_length_and_padding(tok):
    meta = _meta(0.9)  # 14400 samples: 22.5 frames -> 23, padded with silence
    wave = synthetic_speech(0.9, seed=2)
    ids = tok.encode(wave, meta=meta)
    assert ids.shape == (92,)
    out = tok.decode(ids, meta=meta)
    assert out.shape == (14_400,) and out.dtype == np.float32
    assert np.all(np.abs(out) <= 1.0)


def test_codes_prefix_decodes(tok, one_second):
    wave, _ = one_second
    codes = tok.encode_codes(wave, meta=_meta(1.0), levels=8)
    assert codes.shape == (25, 8)
    np.testing.assert_array_equal(codes[:, :4], tok.encode_codes(wave, meta=_meta(1.0)))
    for n in (1, 4):
        assert tok.decode_codes(codes[:, :n]).shape == (16_000,)


def test_bad_ids_are_refused(tok, one_second):
    _, ids = one_second
    meta = _meta(1.0, clip_id="bad")
    for bad, match in [
        (np.where(np.arange(100) == 3, 4096, ids), "4096"),
        (np.where(np.arange(100) == 0, -1, ids), r"\[0, 4096\)"),
        (ids[:-1], "expected 100"),
        (ids[:96], "expected 100"),
        (np.roll(ids, 1), "level"),
        (ids.reshape(25, 4).astype(np.int32), "expected 100"),
    ]:
        with pytest.raises(VocabError, match=match) as info:
            tok.decode(bad, meta=meta)
        assert "speech" in str(info.value)


def test_bad_raw_input_is_refused(tok, one_second):
    wave, _ = one_second
    meta = _meta(1.0, clip_id="clip7")
    cases = [
        (np.stack([wave, wave]), "mono"),
        (np.where(np.arange(16_000) == 5, np.nan, wave).astype(np.float32), "NaN"),
        (np.zeros(0, np.float32), "empty"),
        (wave[:-10], "16000"),
        (wave * 3.0, r"\[-1, 1\]"),
    ]
    for raw, match in cases:
        with pytest.raises(RawValueError, match=match) as info:
            tok.encode(raw, meta=meta)
        assert "clip7" in str(info.value) and "speech" in str(info.value)
    with pytest.raises(RawValueError, match="48000 Hz"):
        tok.encode(np.zeros(48_000, np.float32), meta=_meta(1.0, sample_rate=48_000))
    with pytest.raises(RawValueError, match="clip7"):
        SPEECH.check_raw(np.stack([wave, wave]), meta)


def test_conformance_kit(tok, one_second):
    wave, _ = one_second
    meta = _meta(1.0, clip_id="kit")
    check_modality(SPEECH, meta=meta, raw=wave)

    def compare(raw, decoded):
        assert decoded.shape == raw.shape and decoded.dtype == np.float32

    ids = check_tokenizer(SPEECH, tok, meta=meta, raw=wave, compare=compare)
    assert ids.shape == (SPEECH.token_count(meta),)


def test_plugin_registration():
    assert SPEECH.name == "speech" and SPEECH.phrase == "speech audio" and SPEECH.temporal
    assert SPEECH.vocabulary.size == 4096 and SPEECH.tokens_per_second == 100.0
    registry = make_registry(("speech_soundstream", _plugin))
    assert registry.modality("speech") is SPEECH
    eps = importlib.metadata.entry_points(group="archon")
    assert any(ep.name == "speech_soundstream" and ep.value == "archon_speech_soundstream._plugin" for ep in eps)


def test_save_and_load(tok, one_second, tmp_path):
    wave, ids = one_second
    tok.save(tmp_path / "codec")
    loaded = make_tokenizer(tmp_path / "codec")
    assert loaded.cfg == tok.cfg
    np.testing.assert_array_equal(loaded.encode(wave, meta=_meta(1.0)), ids)
    with pytest.raises(CheckpointError, match="config.json"):
        make_tokenizer(tmp_path / "missing")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), st.sampled_from(["frame", "level"]))
def test_token_ranges_follow_the_configured_order(tok, frames, order):
    """Every encoded id lies in its position's range; ranges are the level blocks, width 1024."""
    cfg = attrs.evolve(tok.cfg, tokens=attrs.evolve(tok.cfg.tokens, order=order))
    ordered = SoundStreamTokenizer(cfg, tok.codec, tok.state)
    ranges = ordered.token_ranges(4 * frames)
    assert ranges.dtype == np.int64 and ranges.shape == (4 * frames, 2)
    assert np.all(ranges[:, 1] - ranges[:, 0] == 1024)
    level = ranges[:, 0] // 1024
    grid = np.arange(4)[None, :].repeat(frames, 0)  # [frames, levels]
    np.testing.assert_array_equal(level, grid.reshape(-1) if order == "frame" else grid.T.reshape(-1))


def test_token_ranges_cover_encoded_ids_and_refuse_bad_counts(tok, one_second):
    wave, ids = one_second
    for order in ("frame", "level"):
        cfg = attrs.evolve(tok.cfg, tokens=attrs.evolve(tok.cfg.tokens, order=order))
        ordered = SoundStreamTokenizer(cfg, tok.codec, tok.state)
        encoded = ordered.encode(wave, meta=_meta(1.0))
        ranges = ordered.token_ranges(encoded.shape[0])
        assert np.all((ranges[:, 0] <= encoded) & (encoded < ranges[:, 1]))
        # Any ids drawn inside the ranges decode (the constrained-decoding contract).
        drawn = np.random.default_rng(0).integers(ranges[:, 0], ranges[:, 1]).astype(np.int32)
        assert ordered.decode(drawn, meta=_meta(1.0)).shape == (16_000,)
    assert tok.token_ranges(0).shape == (0, 2)
    for bad in (-4, 6, 2.0):
        with pytest.raises(VocabError, match="speech token_ranges"):
            tok.token_ranges(bad)
