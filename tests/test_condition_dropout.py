"""Condition dropout for classifier-free guidance: some training examples lose their condition
payloads (headers kept), per task as the train config says; off, the stream is unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from archon_framework import PromptSerializer, TaskError
from archon_framework.config import load_config
from archon_framework.data import TaskSampler, TokenCache, needed_keys
from archon_framework.train import TrainConfig
from test_examples import SUITE, clips


@pytest.fixture(scope="module")
def serializer(toy_registry, byte_codec):
    return PromptSerializer(toy_registry.layout(), toy_registry.modalities, byte_codec)


@pytest.fixture(scope="module")
def cache(toy_registry, serializer):
    toks = {name: toy_registry.tokenizer(name) for name in toy_registry.modalities}
    return TokenCache.build(clips(4), serializer, toks, needed_keys(SUITE, toy_registry.modalities))


def _dropped(serializer, ex) -> bool:
    parsed = serializer.parse(ex.global_ids, ex.prefix_len)
    sizes = [len(p) for p in parsed.inputs]
    assert all(n == 0 for n in sizes) or all(n > 0 for n in sizes), sizes  # all conditions or none
    return sizes[0] == 0


def test_dropout_removes_all_conditions_of_a_share_of_examples(cache, serializer):
    plain = TaskSampler(cache, SUITE, serializer, seed=1)
    first = SUITE.tasks[0].name
    sampler = TaskSampler(cache, SUITE, serializer, seed=1, condition_dropout=0.3,
                          condition_dropout_tasks={first: 0.0})
    dropped = {t: [] for t in range(len(SUITE.tasks))}
    for i in range(300):
        ex, ref = sampler.example(i), plain.example(i)
        assert ex.task_id == ref.task_id  # the same task and clip: dropout draws after them
        gone = _dropped(serializer, ex)
        dropped[ex.task_id].append(gone)
        target = ex.global_ids[ex.prefix_len:]
        np.testing.assert_array_equal(target, ref.global_ids[ref.prefix_len:])  # the target is untouched
        if not gone:
            np.testing.assert_array_equal(ex.global_ids, ref.global_ids)
        assert serializer.parse(ex.global_ids, ex.prefix_len).task == SUITE.tasks[ex.task_id]
    assert not any(dropped[0])  # per-task override: never for the first task
    rate = np.mean([g for t in (1, 2, 3) for g in dropped[t]])
    assert 0.2 < rate < 0.4


def test_dropout_off_leaves_the_stream_unchanged(cache, serializer):
    a = TaskSampler(cache, SUITE, serializer, seed=2)
    b = TaskSampler(cache, SUITE, serializer, seed=2, condition_dropout=0.0, condition_dropout_tasks={})
    for i in range(30):
        np.testing.assert_array_equal(a.example(i).global_ids, b.example(i).global_ids)


def test_bad_dropout_settings_are_refused(cache, serializer, tmp_path):
    with pytest.raises(TaskError, match="not in suite"):
        TaskSampler(cache, SUITE, serializer, condition_dropout_tasks={"speech(c)->video(c)": 0.1})
    with pytest.raises(TaskError, match=r"\[0, 1\)"):
        TaskSampler(cache, SUITE, serializer, condition_dropout_tasks={SUITE.tasks[1].name: 1.5})
    path = tmp_path / "train.toml"
    path.write_text('out_dir = "x"\n[data]\ncondition_dropout = 0.1\n[data.condition_dropout_tasks]\n"speech(c)->script(c)" = 0.25\n')
    cfg = load_config(path, TrainConfig)
    assert cfg.data.condition_dropout == 0.1 and cfg.data.condition_dropout_tasks == {"speech(c)->script(c)": 0.25}
