"""Growing a trained model: a plugin adds a modality and tasks, and the run resumes.

The saved layout is extended (no id moves), the checkpoint is restored at its own size and its
embedding grown (old rows and their Adam moments bit-identical, new rows a fresh model's with
zero moments), the token cache is extended rather than rebuilt, the old tasks' losses go on
from where they were and the new task trains. Removing a plugin the run was trained with is
refused, naming it.
"""

from __future__ import annotations

import json

import equinox as eqx
import jax
import numpy as np
import pytest

from archon_framework import (
    CheckpointError, Clip, ClipMeta, ConfigError, DataError, LayoutMismatchError, PromptSerializer, Slot, Task,
    TaskError, TaskSuite, VocabLayout,
)
from archon_framework.data import TokenCache, needed_keys
from archon_framework.train._step import batch_losses
from archon_framework.testing import make_registry
from archon_framework.train import DataConfig, OptimConfig, TrainConfig, Trainer

from core_toys import SuitePlugin, ToyPlugin, array_modality

OLD_TASKS = (
    Task((Slot("speech", "c"),), Slot("expression", "c")),
    Task((Slot("expression", "c"),), Slot("speech", "c")),
)
NEW_TASK = Task((Slot("speech", "c"),), Slot("emotion", "c"))
OLD = TaskSuite("toy", OLD_TASKS)
GROWN = TaskSuite("toy+emotion", (*OLD_TASKS, NEW_TASK), (1.0, 1.0, 2.0))
SPEECH = array_modality("speech", 16, phrase="speech audio")
EXPRESSION = array_modality("expression", 32, phrase="facial expression")
EMOTION = array_modality("emotion", 8, phrase="emotion")


def registry(*, emotion: bool):
    plugins = [("toy", ToyPlugin(SPEECH, EXPRESSION)), ("suite", SuitePlugin(OLD))]
    if emotion:
        plugins += [("emotion", ToyPlugin(EMOTION)), ("emotion_suite", SuitePlugin(GROWN))]
    return make_registry(*plugins, with_byte_text=True)


def clips(n: int) -> list[Clip]:
    """Clips with every modality, emotion included (a dataset may hold more than is installed)."""
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        meta = ClipMeta(clip_id=f"c{i}", duration=0.4, frame_rate=10, sample_rate=100)
        speech = rng.uniform(0, 1, (4, 2)).astype(np.float32)
        out.append(Clip(meta, {
            "speech": speech,
            "expression": np.sqrt(speech),  # learnable from speech: the old tasks' losses fall
            "emotion": speech ** 3,  # skewed towards low bins: the new task's loss falls fast
            "script": f"clip {i} talks",
        }))
    return out


def config(out, suite: str, steps: int) -> TrainConfig:
    return TrainConfig(out_dir=str(out), steps=steps, log_every=1,
                       optim=OptimConfig(peak_lr=3e-3, warmup_fraction=0.1),
                       data=DataConfig(suite=suite, seq_len=256, batch_size=2, packing_bins=2))


def arrays(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


def task_ce(records: list[dict], names: list[str]) -> list[float]:
    """Each record's mean cross-entropy over the given tasks that had target tokens."""
    out = []
    for r in records:
        values = [r["task_ce"][n] for n in names if n in r["task_ce"]]
        if values:
            out.append(float(np.mean(values)))
    return out


@pytest.mark.slow
def test_resuming_with_a_plugin_added_grows_the_model_and_keeps_training(tmp_path):
    data = clips(6)
    before: list[dict] = []
    first = Trainer(config(tmp_path, "toy", 30), registry(emotion=False), clips=data, progress=False)
    first.train(on_step=lambda step, rec: before.append(rec))
    old_layout = first.layout
    old_step, old_model = first.latest_model()
    _, _, old_opt, _ = first._restore(first.init_model(), first.init_opt_state(first.init_model()))
    old_cache = TokenCache.load(tmp_path / "token-cache", old_layout)

    grown = Trainer(config(tmp_path, "toy+emotion", 60), registry(emotion=True), clips=data, progress=False)
    # Old ids unchanged: the layout is the saved one with the emotion vocabulary appended.
    assert grown.layout.ranges[: len(old_layout.ranges)] == old_layout.ranges
    assert grown.layout.names[-1] == "emotion" and grown.layout.total_size == old_layout.total_size + 8
    # The token cache was extended: old entries kept, emotion entries added under the new layout.
    assert grown.cache.keys == old_cache.keys | {("emotion", "full")}
    for i in range(len(data)):
        for m, k in old_cache.keys:
            assert np.array_equal(grown.cache.get(i, m, k), old_cache.get(i, m, k))
        assert np.all(grown.layout.range("emotion").contains(grown.cache.get(i, "emotion", "full")))
    index = json.loads((tmp_path / "token-cache" / "token-cache.json").read_text())
    assert index["layout"]["ranges"][-1]["vocabulary"]["name"] == "emotion"

    # Right after the grow: old rows and their Adam moments bit-identical, new moments zero.
    fresh = grown.init_model()
    step, model, opt, _ = grown._restore(fresh, grown.init_opt_state(fresh))
    old_rows = old_layout.total_size
    assert step == old_step == 30
    assert np.array_equal(np.asarray(model.embedding[:old_rows]), np.asarray(old_model.embedding))
    assert np.array_equal(np.asarray(model.embedding[old_rows:]), np.asarray(fresh.embedding[old_rows:]))
    for a, b in zip(arrays(model)[1:], arrays(old_model)[1:]):
        assert np.array_equal(a, b)  # every other parameter as trained
    for new, old in zip(arrays(opt), arrays(old_opt)):
        if new.shape == old.shape:
            assert np.array_equal(new, old)
        else:  # the embedding's moments
            assert np.array_equal(new[:old_rows], old) and not np.any(new[old_rows:])
    # The grown model scores old-task tokens as the trained one did (the loss is per modality range).
    batch = next(first.batches())
    mask = np.asarray(batch["loss_mask"], bool)
    grown_ce = batch_losses(model, batch, first.modality_ranges).ce
    old_ce = batch_losses(old_model, batch, first.modality_ranges).ce
    np.testing.assert_allclose(np.asarray(grown_ce)[mask], np.asarray(old_ce)[mask], rtol=1e-6, atol=1e-6)

    after: list[dict] = []
    grown.train(on_step=lambda step, rec: after.append(rec))
    assert after[0]["step"] == 31
    old_names = [t.name for t in OLD_TASKS]
    last_before, first_after = task_ce(before[-5:], old_names), task_ce(after[:5], old_names)
    start = task_ce(before[:5], old_names)
    # No jump: the old tasks resume near their last losses, far below where training began.
    assert abs(np.mean(first_after) - np.mean(last_before)) < 0.25 * (np.mean(start) - np.mean(last_before)), \
        (start, last_before, first_after)
    emotion = task_ce(after, [NEW_TASK.name])
    assert len(emotion) >= 12 and np.mean(emotion[-5:]) < 0.7 * np.mean(emotion[:5]), emotion

    # Removing the plugin now is refused, naming it and saying how to go on.
    with pytest.raises(CheckpointError, match=r"vocabulary 'emotion' of plugin emotion \(modalities: emotion\).*"
                                              r"Install the plugin again.*or train into a new out_dir"):
        Trainer(config(tmp_path, "toy", 80), registry(emotion=False), clips=data, progress=False)


def test_a_suite_may_gain_tasks_but_not_lose_them(tmp_path):
    data = clips(3)
    Trainer(config(tmp_path, "toy", 1), registry(emotion=False), clips=data, progress=False)
    assert Trainer(config(tmp_path, "toy+emotion", 1), registry(emotion=True), clips=data,
                   progress=False).suite.tasks == GROWN.tasks
    with pytest.raises(ConfigError, match=r"without task\(s\) speech\(c\)->emotion\(c\).*train into a new out_dir"):
        Trainer(config(tmp_path, "toy", 1), registry(emotion=True), clips=data, progress=False)


def test_a_grown_run_refused_at_start_up_leaves_the_run_directory_as_it_was(tmp_path):
    data = clips(3)
    Trainer(config(tmp_path, "toy", 1), registry(emotion=False), clips=data, progress=False)
    files = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    index = (tmp_path / "token-cache" / "token-cache.json").read_bytes()
    without = [Clip(c.meta, {k: v for k, v in c.values.items() if k != "emotion"}) for c in data]
    with pytest.raises(TaskError, match=r"no clip holds every modality of task\(s\) speech\(c\)->emotion\(c\)"):
        Trainer(config(tmp_path, "toy+emotion", 1), registry(emotion=True), clips=without, progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.json")} == files  # layout, plugins, suite
    assert (tmp_path / "token-cache" / "token-cache.json").read_bytes() == index
    Trainer(config(tmp_path, "toy", 1), registry(emotion=False), clips=data, progress=False)  # still the old run


def test_extending_a_cache_tokenizes_only_what_it_lacks(tmp_path):
    small, big = registry(emotion=False), registry(emotion=True)
    old_ser = PromptSerializer(small.layout(), small.modalities, small.text_codec())
    cache = TokenCache.build(clips(3), old_ser, {m: small.tokenizer(m) for m in ("speech", "expression")},
                             needed_keys(OLD, small.modalities))
    cache.save(tmp_path / "cache")
    layout = big.layout(small.layout())
    reopened = TokenCache.load(tmp_path / "cache", layout)  # an extended layout opens: no id moved
    new_ser = PromptSerializer(layout, big.modalities, big.text_codec())
    # Only the emotion tokenizer is given: touching an old modality would fail with a KeyError.
    grown = reopened.extend(clips(3), new_ser, {"emotion": big.tokenizer("emotion")}, needed_keys(GROWN, big.modalities))
    assert grown.keys - cache.keys == {("emotion", "full")} and grown.layout == layout
    assert np.array_equal(grown.get(2, "speech", "full"), cache.get(2, "speech", "full"))
    with pytest.raises(LayoutMismatchError, match="rebuild the cache"):
        TokenCache.load(tmp_path / "cache", VocabLayout.allocate(v for v in big.vocabularies() if v.name != "speech"))
    with pytest.raises(DataError, match=r"built from 3 clips \(c0, c1, c2\), the dataset now holds 2"):
        reopened.extend(clips(2), new_ser, {"emotion": big.tokenizer("emotion")}, needed_keys(GROWN, big.modalities))
