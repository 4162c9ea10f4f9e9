"""Examples from clips: the token cache, weighted task sampling, serialization, packing."""

from __future__ import annotations


import numpy as np
import pytest

from archon_framework import (
    Clip, ClipMeta, LayoutMismatchError, PromptSerializer, Slot, Task, TaskError, TaskSuite, Vocabulary,
)
from archon_framework.data import TaskSampler, TokenCache, needed_keys, pack_examples

SUITE = TaskSuite("toy", (
    Task((Slot("speech", "c"),), Slot("script", "c")),
    Task((Slot("speech", "p"), Slot("script", "c")), Slot("speech", "c")),
    Task((Slot("script", "c"), Slot("expression", "t")), Slot("image", "t")),
    Task((Slot("image", "t"),), Slot("expression", "c")),
), (1.0, 2.0, 3.0, 4.0))


def clips(n: int) -> list[Clip]:
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        meta = ClipMeta(clip_id=f"c{i}", duration=0.4, frame_rate=10, sample_rate=100)
        out.append(Clip(meta, {
            "speech": rng.uniform(0, 1, (4, 2)).astype(np.float32),
            "expression": rng.uniform(0, 1, (4, 2)).astype(np.float32),
            "image": rng.uniform(0, 1, (1, 2)).astype(np.float32),
            "script": f"clip {i} talks",
        }))
    return out


@pytest.fixture(scope="module")
def serializer(toy_registry, byte_codec):
    return PromptSerializer(toy_registry.layout(), toy_registry.modalities, byte_codec)


@pytest.fixture(scope="module")
def cache(toy_registry, serializer):
    toks = {name: toy_registry.tokenizer(name) for name in toy_registry.modalities}
    return TokenCache.build(clips(6), serializer, toks, needed_keys(SUITE, toy_registry.modalities), past_fraction=0.5)


def test_cache_holds_each_window_once(cache, toy_registry):
    keys = needed_keys(SUITE, toy_registry.modalities)
    assert keys == {("speech", "full"), ("speech", "past"), ("speech", "current"), ("script", "full"),
                    ("script", "current"), ("expression", "frame@full"), ("expression", "full"), ("image", "clip")}
    layout = toy_registry.layout()
    assert len(cache) == 6 * len(keys)
    past, cur, full = (cache.get(0, "speech", k) for k in ("past", "current", "full"))
    assert len(past) == len(cur) == 4 and len(full) == 8  # 2 tokens per frame, 0.2 s windows at 10 fps
    assert np.array_equal(np.concatenate([past, cur]), full)
    assert np.all(layout.range("speech").contains(full))
    assert len(cache.get(0, "expression", "frame@full")) == 2


def test_cache_save_load_and_layout_check(cache, tmp_path, toy_registry):
    cache.save(tmp_path / "cache")
    again = TokenCache.load(tmp_path / "cache", toy_registry.layout())
    assert np.array_equal(again.get(3, "script", "current"), cache.get(3, "script", "current"))
    grown = toy_registry.layout().extend([Vocabulary("emotion", 8)])  # appended: no cached id moved
    assert np.array_equal(TokenCache.load(tmp_path / "cache", grown).get(3, "speech", "current"), cache.get(3, "speech", "current"))
    moved = type(grown).allocate([*toy_registry.vocabularies(), Vocabulary("audio", 8)])  # "audio" sorts first
    with pytest.raises(LayoutMismatchError, match="another vocabulary layout"):
        TokenCache.load(tmp_path / "cache", moved)


def test_sampler_follows_weights_and_is_deterministic(cache, serializer):
    sampler = TaskSampler(cache, SUITE, serializer, seed=3)
    ids = [sampler.example(i).task_id for i in range(2000)]
    freq = np.bincount(ids, minlength=4) / 2000
    assert np.allclose(freq, np.array([1, 2, 3, 4]) / 10, atol=0.03)
    a, b = sampler.example(17), TaskSampler(cache, SUITE, serializer, seed=3).example(17)
    assert np.array_equal(a.global_ids, b.global_ids) and a.prefix_len == b.prefix_len
    # Every example parses back into its task, with the target of the right modality.
    for i in range(20):
        ex = sampler.example(i)
        parsed = serializer.parse(ex.global_ids, ex.prefix_len)
        assert parsed.task == SUITE.tasks[ex.task_id]
        assert (ex.modality_ids[ex.prefix_len:] >= 0).all() and (ex.modality_ids[: ex.prefix_len] == -1).all()


def test_sampled_examples_pack_and_resume_exactly(cache, serializer):
    sampler = TaskSampler(cache, SUITE, serializer, seed=0)
    it = iter(pack_examples(sampler.dataset(), seq_len=512, num_packing_bins=2))
    first = [next(it) for _ in range(3)]
    state = it.get_state()
    expected = [next(it) for _ in range(3)]
    again = iter(pack_examples(sampler.dataset(), seq_len=512, num_packing_bins=2))
    again.set_state(state)
    for a, b in zip(expected, (next(again) for _ in range(3))):
        for k in a:
            assert np.array_equal(a[k], b[k]), k
    w = first[0]
    assert w["tokens"].shape == (512,) and (w["loss_mask"] <= (w["segment_ids"] > 0)).all()


def test_task_with_no_clip_is_refused(cache, serializer):
    suite = TaskSuite("s", (Task((Slot("speech", "c"),), Slot("script", "c")), Task((Slot("speech", "c"),), Slot("expression", "c"))))
    empty = TokenCache({}, cache.layout)
    with pytest.raises(TaskError, match="no clip holds every modality"):
        TaskSampler(empty, suite, serializer)
