"""Tests of the prefix-LM attention mask."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework.model import prefix_lm_mask


def _rows(text: str) -> np.ndarray:
    return np.array([[int(c) for c in line.split()] for line in text.strip().splitlines()], bool)


def test_docstring_worked_example():
    segment_ids = jnp.array([1, 1, 1, 1, 1, 2, 2, 2, 0, 0])
    prefix_mask = jnp.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0], bool)
    expected = _rows(
        """
        1 1 1 0 0 0 0 0 0 0
        1 1 1 0 0 0 0 0 0 0
        1 1 1 0 0 0 0 0 0 0
        1 1 1 1 0 0 0 0 0 0
        1 1 1 1 1 0 0 0 0 0
        0 0 0 0 0 1 0 0 0 0
        0 0 0 0 0 1 1 0 0 0
        0 0 0 0 0 1 1 1 0 0
        0 0 0 0 0 0 0 0 0 0
        0 0 0 0 0 0 0 0 0 0
        """
    )
    np.testing.assert_array_equal(np.asarray(prefix_lm_mask(segment_ids, prefix_mask)), expected)


def test_unpacked_prefix_lm_with_padding():
    # One example, 3 prefix tokens, 2 targets, one pad (the layout of t5x's make_decoder_mask
    # prefix-LM example, without its BOS shift).
    mask = prefix_lm_mask(jnp.array([1, 1, 1, 1, 1, 0]), jnp.array([1, 1, 1, 0, 0, 0], bool))
    expected = _rows(
        """
        1 1 1 0 0 0
        1 1 1 0 0 0
        1 1 1 0 0 0
        1 1 1 1 0 0
        1 1 1 1 1 0
        0 0 0 0 0 0
        """
    )
    np.testing.assert_array_equal(np.asarray(mask), expected)


_jit_mask = jax.jit(prefix_lm_mask)


@st.composite
def _windows(draw):
    lengths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    segment_ids, prefix = [], []
    for seg, n in enumerate(lengths, start=1):
        p = draw(st.integers(1, n))
        segment_ids += [seg] * n
        prefix += [True] * p + [False] * (n - p)
    pad = 24 - len(segment_ids)  # one window length, so the mask compiles once
    return np.array(segment_ids + [0] * pad), np.array(prefix + [False] * pad)


@settings(max_examples=60, deadline=None)
@given(_windows())
def test_mask_matches_the_rule_elementwise(window):
    segment_ids, prefix = window
    mask = np.asarray(_jit_mask(jnp.asarray(segment_ids), jnp.asarray(prefix)))
    n = len(segment_ids)
    for i in range(n):
        for j in range(n):
            same = segment_ids[i] == segment_ids[j] and segment_ids[j] != 0
            assert mask[i, j] == (same and (j <= i or (prefix[i] and prefix[j])))
    # Every real token sees itself; no row of a real token is empty.
    real = segment_ids != 0
    assert np.all(np.diag(mask)[real])
    # Prefix block of each example is fully bidirectional; targets never visible to the prefix.
    for seg in set(segment_ids[real].tolist()):
        sel = segment_ids == seg
        assert mask[np.ix_(sel & prefix, sel & prefix)].all()
        assert not mask[np.ix_(sel & prefix, sel & ~prefix)].any()
