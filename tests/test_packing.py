"""Tests of the first-fit packer of prefix-LM examples."""

from __future__ import annotations

import warnings

import grain
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework._errors import ConfigError, DataError, VocabError
from archon_framework.data import PACKED_FEATURES, LMExample, pack_examples


def _docstring_examples() -> list:
    return [
        LMExample(global_ids=[11, 12, 13, 14, 15], prefix_len=3, task_id=0),
        {"global_ids": [21, 22, 23], "prefix_len": 1, "task_id": 1},  # a mapping works too
        LMExample(global_ids=np.arange(31, 37), prefix_len=2, task_id=2),
        LMExample(global_ids=[41, 42, 43, 44], prefix_len=4, task_id=0),
    ]


def test_docstring_worked_example():
    windows = list(
        pack_examples(grain.MapDataset.source(_docstring_examples()), seq_len=10, num_packing_bins=2)
    )
    assert len(windows) == 2
    w0, w1 = windows
    assert set(w0) == set(PACKED_FEATURES)
    np.testing.assert_array_equal(w0["tokens"], [11, 12, 13, 14, 15, 21, 22, 23, 0, 0])
    np.testing.assert_array_equal(w0["segment_ids"], [1, 1, 1, 1, 1, 2, 2, 2, 0, 0])
    np.testing.assert_array_equal(w0["positions"], [0, 1, 2, 3, 4, 0, 1, 2, 0, 0])
    np.testing.assert_array_equal(w0["prefix_mask"], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(w0["loss_mask"], [0, 0, 0, 1, 1, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(w0["task_ids"], [0, 0, 0, 0, 0, 1, 1, 1, -1, -1])
    np.testing.assert_array_equal(w1["tokens"], [31, 32, 33, 34, 35, 36, 41, 42, 43, 44])
    np.testing.assert_array_equal(w1["segment_ids"], [1] * 6 + [2] * 4)
    np.testing.assert_array_equal(w1["positions"], [0, 1, 2, 3, 4, 5, 0, 1, 2, 3])
    np.testing.assert_array_equal(w1["prefix_mask"], [1, 1, 0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(w1["loss_mask"], [0, 0, 1, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(w1["task_ids"], [2] * 6 + [0] * 4)
    for w in windows:
        assert w["tokens"].dtype == np.int32 and w["segment_ids"].dtype == np.int32
        assert w["prefix_mask"].dtype == bool and w["loss_mask"].dtype == bool


@st.composite
def _examples(draw):
    n_examples = draw(st.integers(1, 12))
    out = []
    for _ in range(n_examples):
        n = draw(st.integers(1, 16))
        out.append(
            LMExample(
                global_ids=np.array(draw(st.lists(st.integers(1, 999), min_size=n, max_size=n))),
                prefix_len=draw(st.integers(1, n)),
                task_id=draw(st.integers(0, 3)),
                modality_ids=np.arange(n) % 3,
            )
        )
    return out


def _segments(window):
    """(tokens, prefix_mask, loss_mask, task_ids, modality_ids, positions) per segment, in order."""
    seg = window["segment_ids"]
    for s in range(1, seg.max() + 1):
        sel = seg == s
        idx = np.nonzero(sel)[0]
        assert np.all(np.diff(idx) == 1)  # contiguous
        keys = ("tokens", "prefix_mask", "loss_mask", "task_ids", "modality_ids", "positions")
        yield tuple(window[k][sel] for k in keys)


@settings(max_examples=40, deadline=None)
@given(_examples(), st.integers(16, 40), st.integers(1, 4))
def test_every_token_appears_once_in_order(examples, seq_len, bins):
    source = grain.MapDataset.source(examples)
    windows = list(pack_examples(source, seq_len=seq_len, num_packing_bins=bins))
    packed = []
    for w in windows:
        assert all(w[k].shape == ((seq_len, 3) if k == "times" else (seq_len,)) for k in PACKED_FEATURES)
        assert not w["times"][w["segment_ids"] == 0].any()  # padding sits at time, row and column 0
        pad = w["segment_ids"] == 0
        assert np.all(w["tokens"][pad] == 0) and not w["loss_mask"][pad].any()
        assert not w["prefix_mask"][pad].any() and np.all(w["task_ids"][pad] == -1)
        assert not (w["loss_mask"] & w["prefix_mask"]).any()  # loss on targets only
        packed.extend(_segments(w))
    # Segments never straddle windows: each segment is a whole example.
    assert len(packed) == len(examples)
    # Several bins reorder examples across windows (the one-bin test checks arrival order), so
    # compare whole records (tokens, prefix length, task, modalities) as multisets.
    want = sorted(
        (e.global_ids.tolist(), e.prefix_len, e.task_id, e.modality_ids.tolist()) for e in examples
    )
    got = []
    for tokens, prefix, loss, tasks, modalities, positions in packed:
        np.testing.assert_array_equal(positions, np.arange(len(tokens)))
        p = int(prefix.sum())
        assert prefix[:p].all() and not prefix[p:].any() and np.array_equal(loss, ~prefix)
        assert len(set(tasks.tolist())) == 1
        got.append((tokens.tolist(), p, int(tasks[0]), modalities.tolist()))
    assert sorted(got) == want


def test_arrival_order_is_kept_with_one_bin():
    examples = [LMExample(global_ids=np.full(n, n), prefix_len=1) for n in (3, 5, 4, 6, 2, 7)]
    windows = list(pack_examples(grain.MapDataset.source(examples), seq_len=8, num_packing_bins=1))
    flat = [t for w in windows for t in w["tokens"][w["segment_ids"] > 0].tolist()]
    assert flat == [n for e in examples for n in e.global_ids.tolist()]


def test_too_long_example_is_an_error_or_dropped_with_count():
    examples = [
        LMExample(global_ids=np.arange(1, 6), prefix_len=2, task_id=1),
        LMExample(global_ids=np.arange(1, 13), prefix_len=3, task_id=0),
        LMExample(global_ids=np.arange(1, 4), prefix_len=1, task_id=1),
    ]
    source = grain.MapDataset.source(examples)
    with pytest.raises(ConfigError) as info:
        list(pack_examples(source, seq_len=8, task_names=["speech_to_video", "image_to_pose"]))
    message = str(info.value)
    assert "speech_to_video" in message and "12" in message and "seq_len=8" in message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        windows = list(pack_examples(source, seq_len=8, too_long="drop"))
    assert any("1 dropped" in str(w.message) for w in caught)
    assert sum(int(w["segment_ids"].max()) for w in windows) == 2


def test_ids_outside_the_layout_and_bad_examples_are_refused():
    source = grain.MapDataset.source([LMExample(global_ids=[3, 50], prefix_len=1, task_id=2)])
    with pytest.raises(VocabError, match="50"):
        list(pack_examples(source, seq_len=8, vocab_size=10, task_names=["a", "b", "c"]))
    with pytest.raises(DataError, match="prefix_len"):
        LMExample(global_ids=[1, 2], prefix_len=0)
    with pytest.raises(DataError, match="modality_ids"):
        LMExample(global_ids=[1, 2], prefix_len=1, modality_ids=[0])
    with pytest.raises(DataError, match="unknown keys"):
        LMExample.coerce({"global_ids": [1], "prefix_len": 1, "task": 3})
    with pytest.raises(ConfigError, match="too_long"):
        pack_examples(source, too_long="split")


def test_from_serialized_example():
    from archon_framework import SerializedExample

    tokens = np.array([5, 6, 7, 8], np.int32)
    ex = LMExample.from_serialized(
        SerializedExample(tokens, 2, np.array([0, 0, 1, 1], bool)), task_id=4
    )
    assert ex.prefix_len == 2 and ex.task_id == 4 and np.array_equal(ex.global_ids, tokens)
    with pytest.raises(DataError, match="target"):
        LMExample.from_serialized(SerializedExample(tokens, 4, np.zeros(4, bool)), task_id=4)


def test_resumed_iterator_yields_the_same_windows():
    rng = np.random.default_rng(0)
    examples = [
        LMExample(global_ids=rng.integers(1, 100, n), prefix_len=1 + int(rng.integers(0, n)), task_id=i % 3)
        for i, n in enumerate(rng.integers(2, 30, 200))
    ]
    ds = pack_examples(
        grain.MapDataset.source(examples).shuffle(seed=3).repeat(2),
        seq_len=64, num_packing_bins=4, shuffle_bins=True, seed=7,
    )
    it = iter(ds)
    for _ in range(9):
        next(it)
    state = it.get_state()
    expected = [next(it) for _ in range(12)]
    resumed = iter(ds)
    resumed.set_state(state)
    for want in expected:
        got = next(resumed)
        for k in PACKED_FEATURES:
            np.testing.assert_array_equal(got[k], want[k])
