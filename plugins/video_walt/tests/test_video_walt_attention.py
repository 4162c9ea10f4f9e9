"""Window attention: partition/unpartition, and which tokens a WALT block's output depends on."""

import equinox as eqx
import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_video_walt import WaltBlock, window_partition, window_unpartition

GRID = (3, 4, 4)  # latent frames, token rows, token cols
WINDOW = (2, 2)  # spatio-temporal window: 2 x 2 tokens across every frame
D = 32


@settings(max_examples=40, deadline=None)
@given(nt=st.integers(1, 3), nh=st.integers(1, 3), nw=st.integers(1, 3), wt=st.integers(1, 3), wh=st.integers(1, 3),
       ww=st.integers(1, 3), d=st.integers(1, 3), seed=st.integers(0, 100))
def test_window_partition_then_unpartition_is_the_identity(nt, nh, nw, wt, wh, ww, d, seed):
    grid = (nt * wt, nh * wh, nw * ww)
    x = np.random.default_rng(seed).standard_normal((*grid, d))
    parts = window_partition(x, (wt, wh, ww))
    assert parts.shape == (nt * nh * nw, wt * wh * ww, d)
    np.testing.assert_array_equal(window_unpartition(parts, (wt, wh, ww), grid), x)


def test_a_window_holds_one_spatial_patch_of_every_frame_time_major():
    t, h, w = 2, 4, 4
    index = np.arange(t * h * w).reshape(t, h, w, 1)  # token id = t * 16 + row * 4 + col
    parts = window_partition(index, (2, 2, 2))[..., 0]
    assert parts.shape == (4, 8)
    assert parts[0].tolist() == [0, 1, 4, 5, 16, 17, 20, 21]  # rows 0-1, cols 0-1, frame 0 then frame 1
    assert parts[1].tolist() == [2, 3, 6, 7, 18, 19, 22, 23]
    spatial = window_partition(index, (1, h, w))[..., 0]
    assert spatial.shape == (2, 16) and spatial[1].tolist() == list(range(16, 32))


def test_a_window_that_does_not_tile_the_grid_is_refused():
    with pytest.raises(ValueError, match="does not tile"):
        window_partition(np.zeros((3, 4, 4, 1)), (2, 2, 2))


def _block(randomize, *, spatiotemporal: bool, causal: bool, seed: int):
    block = WaltBlock(D, 2, 2.0, spatiotemporal=spatiotemporal, window=WINDOW, causal=causal, adaln_rank=4,
                      key=jax.random.key(seed))
    return randomize(block, seed=seed, scale=0.3)  # the gates start at 0: perturbed, attention acts


@pytest.fixture(scope="module")
def blocks(randomize):
    return {
        "sw": _block(randomize, spatiotemporal=False, causal=True, seed=1),
        "stw": _block(randomize, spatiotemporal=True, causal=False, seed=2),
        "stw_causal": _block(randomize, spatiotemporal=True, causal=True, seed=3),
    }


@pytest.fixture(scope="module")
def apply():
    rng = np.random.default_rng(0)
    cond = rng.standard_normal(D).astype(np.float32)
    shared = 0.3 * rng.standard_normal(6 * D).astype(np.float32)
    context = rng.standard_normal((5, D)).astype(np.float32)
    mask = np.array([True, True, True, False, True])

    @eqx.filter_jit
    def run(block, x):
        return block(x, cond, shared, context, mask)

    return lambda block, x: np.asarray(run(block, x))


#: A change this large is an output that moved: ten times the tolerance of the "unchanged"
#: checks (atol 1e-5), below the smallest real influence seen (one token among a frame's 16
#: moves another by ~1e-3 for some seeds).
MOVED = 1e-4


def _tokens(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((*GRID, D)).astype(np.float32)


def _changed(x: np.ndarray, where: np.ndarray, seed: int) -> np.ndarray:
    """``x`` with new random values at the grid positions ``where`` [T, H, W]."""
    y = x.copy()
    y[where] = np.random.default_rng(seed + 1000).standard_normal((int(where.sum()), D))
    return y


def _grid_mask(**index) -> np.ndarray:
    m = np.zeros(GRID, bool)
    m[index.get("t", slice(None)), index.get("h", slice(None)), index.get("w", slice(None))] = True
    return m


def _window_of(i: int, j: int) -> np.ndarray:
    """Grid positions in the spatio-temporal window of token row i, column j (all frames)."""
    r, c = (i // WINDOW[0]) * WINDOW[0], (j // WINDOW[1]) * WINDOW[1]
    return _grid_mask(h=slice(r, r + WINDOW[0]), w=slice(c, c + WINDOW[1]))


@settings(max_examples=8, deadline=None)
@given(f=st.integers(0, GRID[0] - 1), seed=st.integers(0, 1000))
def test_spatial_window_block_keeps_frames_independent(blocks, apply, f, seed):
    x = _tokens(seed)
    out = apply(blocks["sw"], x)
    other = apply(blocks["sw"], _changed(x, ~_grid_mask(t=f), seed))
    np.testing.assert_allclose(other[f], out[f], atol=1e-5)
    # Not vacuous: inside the frame every token sees every other one, even across STW windows.
    corner = _grid_mask(t=f, h=slice(0, 1), w=slice(0, 1))
    moved = apply(blocks["sw"], _changed(x, corner, seed))
    assert np.abs(moved[f, -1, -1] - out[f, -1, -1]).max() > MOVED


@settings(max_examples=8, deadline=None)
@given(t=st.integers(0, GRID[0] - 1), i=st.integers(0, GRID[1] - 1), j=st.integers(0, GRID[2] - 1),
       seed=st.integers(0, 1000))
def test_spatiotemporal_window_block_output_depends_only_on_its_window(blocks, apply, t, i, j, seed):
    x = _tokens(seed)
    out = apply(blocks["stw"], x)
    outside = apply(blocks["stw"], _changed(x, ~_window_of(i, j), seed))
    np.testing.assert_allclose(outside[t, i, j], out[t, i, j], atol=1e-5)
    # Not vacuous: the window spans time, so another frame of the same window moves this token.
    other_frame = _window_of(i, j) & ~_grid_mask(t=t)
    inside = apply(blocks["stw"], _changed(x, other_frame, seed))
    assert np.abs(inside[t, i, j] - out[t, i, j]).max() > MOVED


@settings(max_examples=8, deadline=None)
@given(f=st.integers(0, GRID[0] - 1), seed=st.integers(0, 1000))
def test_causal_spatiotemporal_block_never_reads_later_frames(blocks, apply, f, seed):
    x = _tokens(seed)
    out = apply(blocks["stw_causal"], x)
    later = _grid_mask(t=slice(f + 1, None))
    np.testing.assert_allclose(apply(blocks["stw_causal"], _changed(x, later, seed))[: f + 1], out[: f + 1], atol=1e-5)
    # The non-causal block does read them (the test can tell the two apart).
    if f + 1 < GRID[0]:
        free = apply(blocks["stw"], x)
        assert np.abs(apply(blocks["stw"], _changed(x, later, seed))[f] - free[f]).max() > MOVED
    # And the causal one reads earlier frames.
    if f > 0:
        earlier = apply(blocks["stw_causal"], _changed(x, _grid_mask(t=slice(0, f)), seed))
        assert np.abs(earlier[f] - out[f]).max() > MOVED
