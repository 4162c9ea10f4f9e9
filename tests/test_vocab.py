"""Vocabulary, ranges and the layout: allocation, extension, checked crossings, JSON."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from archon_framework import LayoutMismatchError, VocabError, Vocabulary, VocabLayout

names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
vocab_sets = st.dictionaries(names, st.integers(1, 5000), min_size=1, max_size=8).map(
    lambda d: [Vocabulary(n, s) for n, s in d.items()]
)


@given(vocab_sets, st.randoms())
def test_allocation_is_contiguous_deterministic_and_text_first(vocabs, rnd):
    vocabs = vocabs + [Vocabulary("text", 100)]
    shuffled = list(vocabs)
    rnd.shuffle(shuffled)
    a, b = VocabLayout.allocate(vocabs), VocabLayout.allocate(shuffled)
    assert a == b
    assert a.ranges[0].vocabulary.name == "text" and a.ranges[0].start == 0
    assert a.total_size == sum(v.size for v in {v.name: v for v in vocabs}.values())
    for prev, nxt in zip(a.ranges, a.ranges[1:]):
        assert prev.stop == nxt.start


@given(vocab_sets, vocab_sets)
def test_extend_never_moves_existing_ids(old, new):
    new = [v for v in new if v.name not in {o.name for o in old}]
    layout = VocabLayout.allocate(old)
    grown = layout.extend(old + new)
    for r in layout.ranges:
        assert grown.range(r.vocabulary.name) == r
    assert grown.total_size == layout.total_size + sum(v.size for v in new)


@given(st.integers(1, 300), st.integers(0, 10_000), st.data())
def test_to_global_to_local_round_trip_and_bounds(size, start, data):
    layout = VocabLayout.allocate([Vocabulary("a", start + 1), Vocabulary("b", size)])
    rng = layout.range("b")
    local = np.asarray(data.draw(st.lists(st.integers(0, size - 1), max_size=20)), dtype=np.int32)
    assert np.array_equal(rng.to_local(rng.to_global(local)), local)
    with pytest.raises(VocabError, match="'b'"):
        rng.to_global(np.array([size]))
    with pytest.raises(VocabError, match="outside its range"):
        rng.to_local(np.array([rng.start - 1]))


def test_paper_scale_layout_matches_the_issue():
    vocabs = [Vocabulary("text", 32_100), Vocabulary("speech", 4 * 1024), Vocabulary("semantic", 2**10),
              Vocabulary("image", 2**18), Vocabulary("identity", 8 * 512), Vocabulary("expression", 8 * 2048),
              Vocabulary("pose", 6 * 512)]
    layout = VocabLayout.allocate(vocabs)
    assert layout.names == ("text", "expression", "identity", "image", "pose", "semantic", "speech")
    assert layout.range("image").size == 262_144
    assert layout.total_size == 32_100 + 4096 + 1024 + 262_144 + 4096 + 16_384 + 3072


def test_json_round_trip_and_file(tmp_path):
    layout = VocabLayout.allocate([Vocabulary("text", 10), Vocabulary("speech", 7)])
    assert VocabLayout.from_json(layout.to_json()) == layout
    layout.save(tmp_path / "layout.json")
    assert VocabLayout.load(tmp_path / "layout.json") == layout


def test_corrupt_layout_file_names_the_file(tmp_path):
    path = tmp_path / "layout.json"
    path.write_text('{"ranges": [{"vocabulary": {"name": "text", "size": 3}, "start": 5}]}')
    with pytest.raises(VocabError, match="not contiguous"):
        VocabLayout.load(path)
    path.write_text("{not json")
    with pytest.raises(VocabError, match="layout.json"):
        VocabLayout.load(path)


def test_reconcile_extends_or_names_the_difference():
    saved = VocabLayout.allocate([Vocabulary("text", 10), Vocabulary("speech", 7)])
    assert saved.reconcile([Vocabulary("text", 10), Vocabulary("speech", 7)]) is saved
    grown = saved.reconcile([Vocabulary("text", 10), Vocabulary("speech", 7), Vocabulary("emotion", 8)])
    assert grown.range("emotion").start == 17 and grown.range("speech") == saved.range("speech")
    with pytest.raises(LayoutMismatchError, match="speech.*size 7 in the layout but 9"):
        saved.reconcile([Vocabulary("text", 10), Vocabulary("speech", 9)])
    with pytest.raises(LayoutMismatchError, match="not installed: speech"):
        saved.reconcile([Vocabulary("text", 10)])
    with pytest.raises(LayoutMismatchError):
        saved.reconcile([Vocabulary("text", 10), Vocabulary("speech", 7), Vocabulary("x", 1)], allow_extend=False)


@pytest.mark.parametrize("name,size", [("", 3), ("a b", 3), ("ok", 0), ("ok", -1), ("ok", True)])
def test_bad_vocabulary_declarations(name, size):
    with pytest.raises(VocabError):
        Vocabulary(name, size)


def test_one_name_two_sizes_is_refused():
    with pytest.raises(VocabError, match="two sizes"):
        VocabLayout.allocate([Vocabulary("text", 3), Vocabulary("text", 4)])


def test_owner_of_global_ids():
    layout = VocabLayout.allocate([Vocabulary("text", 10), Vocabulary("speech", 7)])
    assert layout.owner(12).vocabulary.name == "speech"
    with pytest.raises(VocabError, match="outside the unified vocabulary"):
        layout.owner(17)
