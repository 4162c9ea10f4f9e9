"""The invertible colour embedding of the 21 labels (Table H)."""

import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_semantic_magvit import LABEL_INDEX, LABELS, NUM_LABELS, PALETTE, PALETTE_MIN_DISTANCE, colors_to_labels, labels_to_colors
from archon_semantic_magvit._palette import palette_logits, unit_palette


def test_labels_table_h():
    assert NUM_LABELS == 21 and len(set(LABELS)) == 21 and LABELS[0] == "background"
    assert LABEL_INDEX["accessory"] == 20


def test_palette_distinct_and_far_apart():
    assert PALETTE.shape == (21, 3) and PALETTE.dtype == np.uint8
    assert len({tuple(c) for c in PALETTE.tolist()}) == 21
    assert PALETTE_MIN_DISTANCE >= 127.0


def test_palette_round_trip_for_every_label():
    labels = np.arange(NUM_LABELS, dtype=np.uint8)
    np.testing.assert_array_equal(colors_to_labels(labels_to_colors(labels)), labels)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 20), st.lists(st.floats(-1, 1), min_size=3, max_size=3))
def test_nearest_colour_survives_noise_below_half_the_min_distance(label, direction):
    d = np.asarray(direction, np.float32)
    d = d / max(np.linalg.norm(d), 1e-6) * (0.49 * PALETTE_MIN_DISTANCE)
    noisy = PALETTE[label].astype(np.float32) + d
    assert int(colors_to_labels(noisy)) == label


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1.2, 1.2), min_size=3, max_size=3))
def test_ce_logits_argmax_is_the_nearest_colour(pixel):
    p = jnp.asarray(pixel, jnp.float32)
    nearest = int(colors_to_labels((np.asarray(pixel) + 1.0) * 127.5))
    assert int(jnp.argmax(palette_logits(p, 10.0))) == nearest
    assert unit_palette().shape == (21, 3)
