"""Spatial rotary positions (M-RoPE's row and column axes): each raster code's place in its
frame (`token_grid`), the rotation by it, the config, the serializer's [n, 3] times, and their
path through packing, the training loss, scoring and cached decoding."""

from __future__ import annotations

import attrs
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import GRID_STEPS, PluginError, PromptError, PromptSerializer, Slot, State, token_grid, token_times
from archon_framework._errors import ConfigError, DataError
from archon_framework.data import LMExample, pack_examples
from archon_framework.model import (
    PrefixLM,
    PrefixLMConfig,
    Sampling,
    apply_rope,
    generate_tokens,
    generate_tokens_uncached,
    load_model_config,
    rope_positions,
)
from archon_framework.testing import ByteTextTokenizer, make_registry
from archon_framework.train._step import batch_losses
from core_toys import ToyPlugin, array_modality
from test_time_rope import _cached_logits  # prefill, then one decode_step per token (same P, N)

SPACE = PrefixLMConfig(vocab_size=97, d_model=64, n_layers=2, n_heads=4, d_ff=64, max_seq_len=64,
                       time_pairs=2, space_pairs=4)
P, N = 7, 6


@pytest.fixture(scope="module")
def model() -> PrefixLM:
    return PrefixLM(SPACE, key=jax.random.key(0))


def _coords(n, seed):
    """[n, 3] time, row and column: times spread over a window, rows and columns on the grid."""
    rng = np.random.default_rng(seed)
    return np.stack([token_times(n, State.CURRENT), rng.integers(0, GRID_STEPS, n), rng.integers(0, GRID_STEPS, n)],
                    -1).astype(np.int32)


def _places(times):
    return rope_positions(jnp.arange(times.shape[0]), jnp.asarray(times))


def _flat(times):
    """The same times with every row and column 0."""
    return np.asarray(times) * np.asarray([1, 0, 0], np.int32)


# ------------------------------------------------------------------ token grid
@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), frames=st.integers(0, 4))
def test_token_grid_places_row_major_codes_at_cell_centres(rows, cols, frames):
    per = rows * cols
    g = token_grid(frames * per, (rows, cols))
    assert g.shape == (frames * per, 2) and g.dtype == np.int32
    assert np.all((g >= 0) & (g < GRID_STEPS))
    if not frames:
        return
    frame = g[:per]
    np.testing.assert_array_equal(g, np.tile(frame, (frames, 1)))  # every frame repeats the first
    r, c = frame[:, 0].reshape(rows, cols), frame[:, 1].reshape(rows, cols)
    assert np.all(r == r[:, :1]) and np.all(c == c[:1, :])  # a raster row shares its row; columns cycle
    assert np.all(np.diff(frame[:, 0]) >= 0)  # row-major: the row never goes back within a frame
    assert np.all(np.diff(c[0]) >= 0) and np.all(np.diff(r[:, 0]) >= 0)
    if rows <= GRID_STEPS:
        assert np.all(np.diff(r[:, 0]) > 0)  # distinct rows stay distinct on the common grid
    if cols <= GRID_STEPS:
        assert np.all(np.diff(c[0]) > 0)
    centre_r = (np.arange(rows) + 0.5) * GRID_STEPS / rows
    centre_c = (np.arange(cols) + 0.5) * GRID_STEPS / cols
    assert np.all(np.abs(r[:, 0] - centre_r) < 1) and np.all(np.abs(c[0] - centre_c) < 1)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 300))
def test_codes_without_a_grid_sit_at_zero(n):
    g = token_grid(n, None)
    assert g.shape == (n, 2) and g.dtype == np.int32 and not g.any()


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 12), cols=st.integers(1, 12), frames=st.integers(0, 3), extra=st.integers(1, 143))
def test_partial_frames_are_refused(rows, cols, frames, extra):
    per = rows * cols
    if extra % per == 0:
        return
    with pytest.raises(PromptError, match="not whole frames"):
        token_grid(frames * per + extra % per, (rows, cols))


def test_a_semantic_code_sits_between_the_four_image_codes_it_covers():
    """Image 16 x 16 and semantic 8 x 8: each semantic code is one grid step on each axis from
    each image code of the 2 x 2 patch it covers, and at least 3 from every other image code."""
    image = token_grid(2 * 256, (16, 16))[:256].reshape(16, 16, 2)
    semantic = token_grid(3 * 64, (8, 8))[64:128].reshape(8, 8, 2)
    for r in range(8):
        for c in range(8):
            d = np.abs(image - semantic[r, c])  # [16, 16, 2]
            patch = np.zeros((16, 16), bool)
            patch[2 * r: 2 * r + 2, 2 * c: 2 * c + 2] = True
            assert np.all(d[patch] == 1)
            near_rows = np.zeros(16, bool)
            near_rows[2 * r: 2 * r + 2] = True
            near_cols = np.zeros(16, bool)
            near_cols[2 * c: 2 * c + 2] = True
            assert np.all(d[~near_rows, :, 0] >= 3) and np.all(d[:, ~near_cols, 1] >= 3)


def test_the_semantic_magvit_plugin_declares_the_aligned_grids():
    plugin = pytest.importorskip("archon_semantic_magvit._plugin")
    assert plugin.IMAGE.grid == (16, 16) and plugin.SEMANTIC.grid == (8, 8)


# ------------------------------------------------------------------ the rotation
@settings(max_examples=30, deadline=None)
@given(shift=st.lists(st.integers(-200, 200), min_size=4, max_size=4), seed=st.integers(0, 99))
def test_scores_depend_on_relative_place_time_row_and_column_only(shift, seed):
    """Moving every token by the same place, time, row and column leaves q.k unchanged."""
    kq, kk, kp = jax.random.split(jax.random.key(seed), 3)
    q, k = jax.random.normal(kq, (6, 2, 16)), jax.random.normal(kk, (6, 2, 16))
    pos = jax.random.randint(kp, (6, 4), 0, GRID_STEPS)
    moved = pos + jnp.asarray(shift)

    def scores(p):
        return jnp.einsum("qhd,khd->hqk", apply_rope(q, p, 1e4, 2, 4), apply_rope(k, p, 1e4, 2, 4))

    np.testing.assert_allclose(scores(pos), scores(moved), atol=3e-3)


@pytest.mark.parametrize("positions", [jnp.arange(3), jnp.zeros((3, 2), jnp.int32), jnp.zeros((3, 3), jnp.int32)])
def test_a_space_model_refuses_positions_without_row_and_column(positions):
    with pytest.raises(ValueError, match=r"\[seq, 4\]"):
        apply_rope(jnp.ones((3, 1, 16)), positions, 1e4, 2, 4)
    with pytest.raises(ValueError, match=r"\[seq, 4\]"):
        apply_rope(jnp.ones((3, 1, 16)), positions, 1e4, 0, 2)


@settings(max_examples=30, deadline=None)
@given(pos=st.lists(st.integers(-300, 300), min_size=10, max_size=10), extra=st.lists(st.integers(-99, 99), min_size=10,
       max_size=10), seed=st.integers(0, 99), time_pairs=st.sampled_from([0, 3]))
def test_models_without_space_pairs_ignore_rows_and_columns(pos, extra, seed, time_pairs):
    x = jax.random.normal(jax.random.key(seed), (10, 2, 16))
    two = jnp.stack([jnp.asarray(pos), jnp.asarray(pos[::-1])], -1)
    four = jnp.concatenate([two, jnp.stack([jnp.asarray(extra), jnp.asarray(extra[::-1])], -1)], -1)
    np.testing.assert_array_equal(apply_rope(x, two, 1e4, time_pairs), apply_rope(x, four, 1e4, time_pairs))


def test_a_space_models_rotation_reads_rows_and_columns():
    x = jax.random.normal(jax.random.key(1), (5, 2, 16))
    pos = jnp.stack([jnp.arange(5), jnp.arange(5) * 3, jnp.zeros(5, jnp.int32), jnp.zeros(5, jnp.int32)], -1)
    base = apply_rope(x, pos, 1e4, 2, 4)
    for axis in (2, 3):
        moved = apply_rope(x, pos.at[:, axis].set(jnp.arange(5) * 4 + 1), 1e4, 2, 4)
        assert not np.allclose(base, moved, atol=1e-4)
        # Only the last space_pairs pairs (the row's or the column's half) turn.
        lo = 8 - 4 + (axis - 2) * 2
        turned = np.zeros(16, bool)
        turned[lo: lo + 2] = turned[8 + lo: 8 + lo + 2] = True
        np.testing.assert_array_equal(np.asarray(base)[..., ~turned], np.asarray(moved)[..., ~turned])


# ------------------------------------------------------------------ the config
@pytest.mark.parametrize("time_pairs, space_pairs", [(0, -2), (0, 3), (2, 1), (0, 8), (2, 6), (3, 6), (7, 2)])
def test_space_pairs_out_of_range_is_a_config_error(time_pairs, space_pairs):
    with pytest.raises(ConfigError, match="space_pairs"):  # head 16: 8 rotary pairs, one kept for the place
        PrefixLMConfig(vocab_size=97, d_model=64, n_layers=1, n_heads=4, d_ff=64, time_pairs=time_pairs,
                       space_pairs=space_pairs)


def test_valid_space_configs_build():
    for time_pairs, space_pairs in [(0, 0), (0, 6), (2, 4), (5, 2)]:
        cfg = PrefixLMConfig(vocab_size=97, d_model=64, n_layers=1, n_heads=4, d_ff=64, time_pairs=time_pairs,
                             space_pairs=space_pairs)
        assert cfg.space_pairs == space_pairs
    assert PrefixLMConfig(vocab_size=97, d_model=64, n_layers=1, n_heads=4, d_ff=64).space_pairs == 0


def test_the_shipped_spatial_config_loads():
    cfg = load_model_config("small_spatial")
    assert cfg.space_pairs == 8 and cfg.time_pairs == 8
    assert cfg.replace(space_pairs=0) == load_model_config("small_timed").replace(space_pairs=0)


# ------------------------------------------------------------------ Modality.grid
@pytest.mark.parametrize("grid", [(0, 4), (4,), (2.5, 2), (3, -1), (True, 2), (1, 2, 3), "ab", True, 5])
def test_a_bad_grid_is_a_plugin_error_naming_the_modality(grid):
    with pytest.raises(PluginError, match="'pixels'.*grid"):
        attrs.evolve(array_modality("pixels", 16), grid=grid)


def test_a_grid_is_kept_as_a_tuple():
    assert attrs.evolve(array_modality("pixels", 16), grid=[2, 3]).grid == (2, 3)
    assert array_modality("pixels", 16).grid is None


# ------------------------------------------------------------------ the serializer
EXPRESSION_GRID, IMAGE_GRID = (2, 3), (2, 2)


@pytest.fixture(scope="module")
def serializers():
    """(spatial, the same modalities without grids): speech (temporal, no grid), expression
    (temporal raster, 2 x 3 per frame), image (time-invariant raster, 2 x 2) and script (text)."""
    registry = make_registry(("toy", ToyPlugin(
        array_modality("speech", 16, phrase="speech audio"),
        attrs.evolve(array_modality("expression", 32, phrase="facial expression"), grid=EXPRESSION_GRID),
        attrs.evolve(array_modality("image", 64, temporal=False, phrase="reference image"), grid=IMAGE_GRID),
    )), with_byte_text=True)
    layout, codec = registry.layout(), ByteTextTokenizer()
    plain = {name: attrs.evolve(mod, grid=None) for name, mod in registry.modalities.items()}
    return PromptSerializer(layout, registry.modalities, codec), PromptSerializer(layout, plain, codec)


def _span(serializer, tokens, vocabulary):
    where = np.flatnonzero(serializer.layout.range(vocabulary).contains(tokens))
    assert np.array_equal(where, np.arange(where[0], where[-1] + 1))  # one contiguous payload
    return where


@settings(max_examples=25, deadline=None)
@given(data=st.data(), n_speech=st.integers(1, 9), image_frames=st.integers(1, 3), out_frames=st.integers(1, 4),
       state=st.sampled_from(["c", "p"]))
def test_a_spatial_serializer_gives_time_row_and_column(serializers, data, n_speech, image_frames, out_frames, state):
    spatial, plain = serializers
    assert spatial.spatial and not plain.spatial
    draw = data.draw
    speech = spatial.payload(Slot("speech", state), local_ids=draw(st.lists(st.integers(0, 15), min_size=n_speech,
                                                                            max_size=n_speech)))
    n_image = image_frames * 4
    image = spatial.payload(Slot("image", "t"), local_ids=draw(st.lists(st.integers(0, 63), min_size=n_image,
                                                                        max_size=n_image)))
    script = spatial.payload(Slot("script", "c"), text=draw(st.text(max_size=6)))
    n_out = out_frames * 6
    out = spatial.payload(Slot("expression", "c"), local_ids=draw(st.lists(st.integers(0, 31), min_size=n_out,
                                                                           max_size=n_out)))
    inputs = draw(st.permutations([speech, image, script]))
    ex, flat = spatial.serialize(inputs, out), plain.serialize(inputs, out)
    assert np.array_equal(ex.tokens, flat.tokens)
    assert ex.times.shape == (len(ex.tokens), 3) and ex.times.dtype == np.int32 and flat.times.shape == (len(ex.tokens),)
    np.testing.assert_array_equal(ex.times[:, 0], flat.times)  # the time column is the one-axis serializer's times
    assert not ex.times[spatial.layout.range("text").contains(ex.tokens)].any()  # headers (and text) at zero

    img = _span(spatial, ex.tokens, "image")
    np.testing.assert_array_equal(ex.times[img, 1:], token_grid(n_image, IMAGE_GRID))
    assert not ex.times[img, 0].any()  # time-invariant
    sp = _span(spatial, ex.tokens, "speech")
    assert not ex.times[sp, 1:].any()  # no grid: no place
    np.testing.assert_array_equal(ex.times[sp, 0], token_times(n_speech, Slot("speech", state).state))
    tgt = _span(spatial, ex.tokens, "expression")
    assert tgt[0] == ex.prefix_len
    np.testing.assert_array_equal(ex.times[tgt, 1:], token_grid(n_out, EXPRESSION_GRID))
    np.testing.assert_array_equal(ex.times[tgt, 0], token_times(n_out, State.CURRENT))
    np.testing.assert_array_equal(ex.times[tgt], spatial.slot_times(out.slot, n_out))

    prompt = spatial.serialize(inputs, out.slot, target_tokens=n_out)  # the generation prompt: the training prefix
    np.testing.assert_array_equal(prompt.times, ex.times[: ex.prefix_len])


def test_slot_times_of_a_raster_need_whole_frames(serializers):
    spatial, plain = serializers
    with pytest.raises(PromptError, match="image"):
        spatial.slot_times(Slot("image", "t"), 3)
    assert plain.slot_times(Slot("image", "t"), 3).shape == (3,)  # no grid, nothing to refuse
    assert spatial.slot_times(Slot("speech", "c"), 5).shape == (5, 3)


# ------------------------------------------------------------------ the model
def test_rope_positions_carry_row_and_column():
    t = jnp.asarray(_coords(5, 0))
    np.testing.assert_array_equal(rope_positions(jnp.arange(5), t), np.c_[np.arange(5), t])
    assert rope_positions(jnp.arange(5)[None], t[None]).shape == (1, 5, 4)
    one = rope_positions(jnp.arange(5), t[:, 0])  # a time alone: row and column 0
    np.testing.assert_array_equal(one, np.c_[np.arange(5), t[:, 0], np.zeros((5, 2), np.int32)])
    np.testing.assert_array_equal(rope_positions(jnp.arange(5)), np.c_[np.arange(5), np.zeros((5, 3), np.int32)])


def _full(model, tokens, times):
    return model(tokens, segment_ids=jnp.ones(P + N, jnp.int32), positions=_places(times),
                 prefix_mask=jnp.arange(P + N) < P)


def test_kv_cache_with_rows_and_columns_equals_the_full_forward(model):
    tokens = jax.random.randint(jax.random.key(3), (P + N,), 0, 97)
    times = jnp.asarray(_coords(P + N, 3))
    full = _full(model, tokens, times)
    np.testing.assert_allclose(_cached_logits(model, tokens, times), full[P - 1: P + N - 1], atol=1e-5)
    assert not np.allclose(full, _full(model, tokens, jnp.asarray(_flat(times))), atol=1e-4)  # rows/cols were read


def test_generation_with_rows_and_columns_cached_and_uncached_agree(model):
    prompt = jax.random.randint(jax.random.key(4), (P,), 0, 97)
    times = _coords(P + N, 4)
    kw = dict(num_tokens=N, key=jax.random.key(5), sampling=Sampling(temperature=3.0), vocab_start=40, vocab_size=30,
              prefix_times=jnp.asarray(times[:P]), target_times=jnp.asarray(times[P:]))
    cached = generate_tokens(model, prompt, **kw)
    assert cached.shape == (N,)
    np.testing.assert_array_equal(cached, generate_tokens_uncached(model, prompt, **kw))


def test_absent_target_times_are_zeros_beside_prompt_coordinates(model):
    """As for a time-only model (and as `generate_tokens_uncached` does), target_times None is
    all 0 in the prompt times' shape."""
    prompt = jax.random.randint(jax.random.key(8), (P,), 0, 97)
    kw = dict(num_tokens=N, key=jax.random.key(9), sampling=Sampling(temperature=3.0),
              prefix_times=jnp.asarray(_coords(P, 8)))
    zeros = generate_tokens(model, prompt, **kw, target_times=jnp.zeros((N, 3), jnp.int32))
    np.testing.assert_array_equal(generate_tokens_uncached(model, prompt, **kw), zeros)
    np.testing.assert_array_equal(generate_tokens(model, prompt, **kw), zeros)


def test_short_or_misshapen_coordinates_are_refused(model):
    prompt = jnp.arange(P) % 97
    for name, bad in [("target_times", jnp.zeros((N - 1, 3), jnp.int32)), ("target_times", jnp.zeros((N, 2), jnp.int32)),
                      ("prefix_times", jnp.zeros((P, 4), jnp.int32)), ("prefix_times", jnp.zeros((P, 3, 1), jnp.int32))]:
        with pytest.raises(ConfigError, match=rf"{name} must be \[n\] \(a time\) or \[n, 3\]"):
            generate_tokens(model, prompt, num_tokens=N, key=jax.random.key(0), **{name: bad})


def test_chain_step_decoding_and_scoring_read_rows_and_columns(model):
    """`decode_fixed` and `score_target` with [n, 3] times give what the full forward over the
    same places, times, rows and columns gives; zeroing the rows and columns changes the score."""
    from archon_framework._codec import StepRanges
    from archon_framework.infer._lm_steps import decode_fixed, score_target

    prompt = np.asarray(jax.random.randint(jax.random.key(7), (P,), 0, 97), np.int32)
    times = _coords(P + N, 7)
    ranges = StepRanges(np.full(N, 40, np.int32), 30)
    ids = decode_fixed(model, prompt, ranges, jax.random.key(0), Sampling(greedy=True), times=(times[:P], times[P:], None))
    tokens = np.r_[prompt, ids].astype(np.int32)
    logits = np.asarray(_full(model, jnp.asarray(tokens), jnp.asarray(times)))
    block = logits[P - 1: P + N - 1, 40:70]
    np.testing.assert_array_equal(ids, 40 + block.argmax(-1))
    nll = float(np.sum(jax.nn.logsumexp(block, -1) - block[np.arange(N), ids - 40]))
    total, count = score_target(model, tokens, P, ranges, times)
    assert count == N and abs(total - nll) < 1e-3
    assert abs(score_target(model, tokens, P, ranges, _flat(times))[0] - nll) > 1e-3  # rows and columns were read


# ------------------------------------------------------------------ packing and the loss
def iter_dataset(examples):
    import grain

    return grain.MapDataset.source(examples).to_iter_dataset()


def test_packing_carries_rows_and_columns():
    a = LMExample(global_ids=np.arange(4), prefix_len=2, times=[[0, 0, 0], [5, 1, 3], [10, 3, 1], [20, 31, 30]])
    b = LMExample(global_ids=np.arange(3), prefix_len=1, times=[7, 8, 9])
    c = LMExample(global_ids=np.arange(2), prefix_len=1)
    w = next(iter(pack_examples(iter_dataset([a, b, c]), seq_len=12, num_packing_bins=1)))
    assert w["times"].shape == (12, 3) and w["times"].dtype == np.int32
    np.testing.assert_array_equal(w["times"][:4], a.times)  # [n, 3] unchanged
    np.testing.assert_array_equal(w["times"][4:7], [[7, 0, 0], [8, 0, 0], [9, 0, 0]])  # 1-D: the time column
    assert not w["times"][7:].any()  # no times, then padding: zeros


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 8), seed=st.integers(0, 99))
def test_packing_keeps_any_coordinates(n, seed):
    times = np.random.default_rng(seed).integers(-100, 100, (n, 3)).astype(np.int32)
    w = next(iter(pack_examples(iter_dataset([LMExample(global_ids=np.arange(n), prefix_len=1, times=times)]),
                                seq_len=8, num_packing_bins=1)))
    np.testing.assert_array_equal(w["times"][:n], times)
    assert not w["times"][n:].any()


@pytest.mark.parametrize("times", [[[0, 1, 2]] * 2, [[0, 1, 2]] * 4, [0, 1]])
def test_mismatched_coordinates_are_refused(times):
    with pytest.raises(DataError, match="times has .* entries for 3 tokens"):
        LMExample(global_ids=np.arange(3), prefix_len=1, times=times)


def test_the_training_loss_reads_rows_and_columns_of_a_space_model_only(model):
    tokens = jax.random.randint(jax.random.key(6), (1, P + N), 0, 97)
    times = _coords(P + N, 6)
    batch = {"tokens": tokens, "segment_ids": jnp.ones((1, P + N), jnp.int32), "positions": jnp.arange(P + N)[None],
             "prefix_mask": (jnp.arange(P + N) < P)[None], "loss_mask": (jnp.arange(P + N) >= P)[None],
             "modality_ids": jnp.full((1, P + N), -1), "times": jnp.asarray(_flat(times))[None]}
    placed = {**batch, "times": jnp.asarray(times)[None]}
    assert not np.allclose(np.asarray(batch_losses(model, batch)[0]), np.asarray(batch_losses(model, placed)[0]),
                           atol=1e-5)
    time_only = PrefixLM(SPACE.replace(space_pairs=0), key=jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(batch_losses(time_only, batch)[0]), np.asarray(batch_losses(time_only, placed)[0]))


def test_a_space_model_reads_absent_times_as_zeros(model):
    """As for a time-only model: times None are all 0 in every path (prefill, decoding, scoring)."""
    from archon_framework._codec import StepRanges
    from archon_framework.infer._lm_steps import decode_fixed, score_target

    prompt = np.asarray(jax.random.randint(jax.random.key(10), (P,), 0, 97), np.int32)
    kw = dict(num_tokens=N, key=jax.random.key(11), sampling=Sampling(temperature=3.0))
    zeros = dict(prefix_times=jnp.zeros((P, 3), jnp.int32), target_times=jnp.zeros((N, 3), jnp.int32))
    np.testing.assert_array_equal(generate_tokens(model, jnp.asarray(prompt), **kw),
                                  generate_tokens(model, jnp.asarray(prompt), **kw, **zeros))
    np.testing.assert_array_equal(generate_tokens_uncached(model, jnp.asarray(prompt), **kw),
                                  generate_tokens(model, jnp.asarray(prompt), **kw, **zeros))
    ranges = StepRanges(np.full(N, 40, np.int32), 30)
    ids = decode_fixed(model, prompt, ranges, jax.random.key(0), Sampling(greedy=True))
    tokens = np.r_[prompt, ids].astype(np.int32)
    assert score_target(model, tokens, P, ranges, None) == score_target(model, tokens, P, ranges, np.zeros((P + N, 3), np.int32))


def test_mixed_time_shapes_in_uncached_generation_are_read_as_zeros_beyond_them(model):
    """A 1-D prompt time beside [n, 3] target coordinates: the prompt's rows and columns are 0."""
    prompt = jax.random.randint(jax.random.key(12), (P,), 0, 97)
    target = jnp.asarray(_coords(N, 13))
    kw = dict(num_tokens=N, key=jax.random.key(13), sampling=Sampling(temperature=3.0), target_times=target)
    times = jnp.arange(P, dtype=jnp.int32)
    padded = jnp.stack([times, jnp.zeros_like(times), jnp.zeros_like(times)], -1)
    np.testing.assert_array_equal(generate_tokens_uncached(model, prompt, **kw, prefix_times=times),
                                  generate_tokens_uncached(model, prompt, **kw, prefix_times=padded))


def test_chain_step_times_of_mixed_shapes_fill_row_and_column_with_zeros(model):
    """A 1-D prompt time beside [n, 3] target coordinates decodes as the prompt's coordinates with
    row and column 0 (not the time copied into them)."""
    from archon_framework._codec import StepRanges
    from archon_framework.infer._lm_steps import decode_fixed

    prompt = np.asarray(jax.random.randint(jax.random.key(14), (P,), 0, 97), np.int32)
    target = _coords(N, 15)
    times = np.arange(1, P + 1, dtype=np.int32)
    padded = np.stack([times, np.zeros_like(times), np.zeros_like(times)], -1)
    ranges = StepRanges(np.full(N, 40, np.int32), 30)
    ids = [decode_fixed(model, prompt, ranges, jax.random.key(1), Sampling(temperature=3.0), times=(t, target, None))
           for t in (times, padded)]
    np.testing.assert_array_equal(ids[0], ids[1])
