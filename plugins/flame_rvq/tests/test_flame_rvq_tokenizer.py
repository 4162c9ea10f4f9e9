"""The FLAME tokenizers: exact counts, padding, order, bad input, persistence, normalization, npz."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import ClipMeta, DataError, RawValueError, VocabError
from archon_flame_rvq import (
    FlameDims,
    FlameParams,
    FlameTokenizer,
    Normalizer,
    load_flame_npz,
    num_tokens_for,
    save_flame_npz,
)

DIMS = {"identity": 100, "expression": 50, "pose": 6}


def _meta(frames: int, clip_id: str = "c1") -> ClipMeta:
    return ClipMeta(clip_id=clip_id, duration=frames / 30.0, frame_rate=30.0, sample_rate=16_000)


def _raw(modality: str, frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (DIMS[modality],) if modality == "identity" else (frames, DIMS[modality])
    return rng.normal(size=shape).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(frames=st.integers(1, 400))
def test_num_tokens_is_exact(tiny_config, frames):
    assert num_tokens_for(tiny_config("expression"), frames) == math.ceil(frames / 4) * 8
    assert num_tokens_for(tiny_config("pose"), frames) == math.ceil(frames / 4) * 6
    assert num_tokens_for(tiny_config("identity"), frames) == 8


@pytest.mark.parametrize("modality", ["identity", "expression", "pose"])
@pytest.mark.parametrize("frames", [9, 12])  # both pad to 12: one compilation
def test_encode_decode_shapes_and_range(tiny_tokenizers, modality, frames):
    tok = tiny_tokenizers[modality]
    meta = _meta(frames)
    raw = _raw(modality, frames)
    ids = tok.encode(raw, meta=meta)
    assert ids.dtype == np.int32 and ids.shape == (tok.num_tokens(meta),)
    assert ids.min() >= 0 and ids.max() < tok.vocabulary.size
    out = tok.decode(ids, meta=meta)
    assert out.dtype == np.float32 and out.shape == raw.shape and np.all(np.isfinite(out))


def test_padding_repeats_the_last_frame(tiny_tokenizers):
    # 9 frames are padded to 12 with copies of frame 8: the same codes as the explicit padding.
    tok = tiny_tokenizers["expression"]
    raw = _raw("expression", 9)
    padded = np.concatenate([raw, np.repeat(raw[-1:], 3, axis=0)])
    np.testing.assert_array_equal(tok.encode(raw, meta=_meta(9)), tok.encode(padded, meta=_meta(12)))


def test_token_order_is_frame_major_with_level_blocks(tiny_tokenizers, tiny_config):
    tok = tiny_tokenizers["pose"]
    raw, meta = _raw("pose", 12), _meta(12)
    codes = tok.encode_codes(raw, meta=meta)  # [3, 6]
    ids = tok.encode(raw, meta=meta)
    expected = (codes + 512 * np.arange(6)[None, :]).reshape(-1)
    np.testing.assert_array_equal(ids, expected)
    level_major = FlameTokenizer(
        tiny_config("pose").__class__(**{**_fields(tok.config), "token_order": "level"}),
        tok.model, tok.state, tok.normalizer,
    )
    ids_lm = level_major.encode(raw, meta=meta)
    np.testing.assert_array_equal(ids_lm, (codes + 512 * np.arange(6)[None, :]).T.reshape(-1))
    np.testing.assert_allclose(level_major.decode(ids_lm, meta=meta), tok.decode(ids, meta=meta))


def _fields(obj):
    import attrs

    return attrs.asdict(obj, recurse=False)


def test_prefix_of_levels_decodes(tiny_tokenizers):
    tok = tiny_tokenizers["expression"]
    raw, meta = _raw("expression", 12), _meta(12)
    codes = tok.encode_codes(raw, meta=meta)
    for n in (1, 8):
        assert tok.decode_codes(codes[:, :n], meta=meta).shape == raw.shape


@pytest.mark.parametrize(
    ("modality", "bad", "match"),
    [
        ("expression", np.zeros((12, 49), np.float32), r"expected shape \(12, 50\)"),
        ("expression", np.zeros((13, 50), np.float32), r"expected shape \(12, 50\)"),
        ("pose", np.full((12, 6), np.nan, np.float32), "NaN or infinite"),
        ("pose", np.full((12, 6), np.inf, np.float32), "NaN or infinite"),
        ("identity", np.zeros((1, 100), np.float32), r"expected shape \(100,\)"),
        ("identity", np.array(["a"] * 100), "float array"),
    ],
)
def test_bad_raw_values_raise(tiny_tokenizers, modality, bad, match):
    with pytest.raises(RawValueError, match=match) as info:
        tiny_tokenizers[modality].encode(bad, meta=_meta(12, clip_id="clipX"))
    assert "clipX" in str(info.value) and modality in str(info.value)


def test_bad_ids_raise(tiny_tokenizers):
    tok = tiny_tokenizers["pose"]
    meta = _meta(12)
    ids = tok.encode(_raw("pose", 12), meta=meta)
    for bad, match in [
        (np.where(np.arange(ids.size) == 0, 3072, ids), r"\[0, 3072\)"),
        (np.where(np.arange(ids.size) == 0, -1, ids), r"\[0, 3072\)"),
        (np.roll(ids, 1), "own level"),  # a level-5 id at a level-0 position
        (ids[:-6], "expected 18 local ids"),
        (ids[:-1], "multiple"),
        (ids.astype(np.float32), "integers"),
    ]:
        with pytest.raises(VocabError, match=match):
            tok.decode(bad, meta=meta)
    with pytest.raises(VocabError, match="codes must lie"):
        tok.decode_codes(np.full((3, 6), 512), meta=meta)


def test_save_load_round_trip(tiny_tokenizers, tmp_path):
    tok = tiny_tokenizers["expression"]
    tok = FlameTokenizer(tok.config, tok.model, tok.state,
                         Normalizer(np.linspace(-1, 1, 50), np.linspace(0.5, 2, 50)))
    tok.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json", "model.eqx", "normalization.npz", "rvq_state.eqx"]
    back = FlameTokenizer.load(tmp_path)
    raw, meta = _raw("expression", 12), _meta(12)
    assert back.config == tok.config
    np.testing.assert_array_equal(back.encode(raw, meta=meta), tok.encode(raw, meta=meta))
    np.testing.assert_array_equal(back.normalizer.std, tok.normalizer.std)


def test_load_refuses_incomplete_directories(tmp_path):
    with pytest.raises(DataError, match="missing"):
        FlameTokenizer.load(tmp_path)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), dim=st.integers(1, 20), frames=st.integers(2, 30))
def test_normalization_is_invertible(seed, dim, frames):
    rng = np.random.default_rng(seed)
    data = [rng.normal(loc=rng.normal(size=dim) * 10, scale=rng.uniform(0.01, 5, size=dim),
                       size=(frames, dim)) for _ in range(3)]
    norm = Normalizer.fit(data)
    for x in data:
        z = norm.normalize(x)
        np.testing.assert_allclose(norm.denormalize(z), x, rtol=1e-4, atol=1e-4)
    z_all = norm.normalize(np.concatenate(data))
    np.testing.assert_allclose(z_all.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(z_all.std(axis=0), 1, atol=1e-3)


def test_normalization_of_constant_dimensions_uses_unit_std():
    norm = Normalizer.fit([np.ones((5, 3))])
    np.testing.assert_array_equal(norm.std, 1.0)
    with pytest.raises(RawValueError, match="positive"):
        Normalizer(np.zeros(2), np.array([1.0, 0.0]))


@pytest.mark.parametrize("dims", [FlameDims(), FlameDims(shape=300, expression=100, pose=6)])
def test_npz_round_trip(tmp_path, dims):
    rng = np.random.default_rng(0)
    params = FlameParams(shape=rng.normal(size=dims.shape), expression=rng.normal(size=(7, dims.expression)),
                         pose=rng.normal(size=(7, dims.pose)))
    save_flame_npz(tmp_path / "p.npz", params, dims=dims)
    back = load_flame_npz(tmp_path / "p.npz", dims=dims)
    for name in ("shape", "expression", "pose"):
        np.testing.assert_allclose(getattr(back, name), getattr(params, name), rtol=1e-6)
        assert getattr(back, name).dtype == np.float32


def test_npz_errors_name_file_and_array(tmp_path):
    np.savez(tmp_path / "a.npz", shape=np.zeros(100), expression=np.zeros((4, 50)))
    with pytest.raises(DataError, match=r"a\.npz.*pose"):
        load_flame_npz(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", shape=np.zeros(100), expression=np.zeros((4, 50)), pose=np.zeros((5, 6)))
    with pytest.raises(DataError, match=r"'pose' must have shape \(4, 6\)"):
        load_flame_npz(tmp_path / "b.npz")
    bad = FlameParams(shape=np.zeros(100), expression=np.full((2, 50), np.nan), pose=np.zeros((2, 6)))
    with pytest.raises(DataError, match="NaN"):
        save_flame_npz(tmp_path / "c.npz", bad)
    with pytest.raises(DataError, match="cannot read"):
        load_flame_npz(tmp_path / "missing.npz")
