"""Growth acceptance with the real example plugin (examples/emotion, issue 25): train a tiny
model, add archon-emotion and its suite (`toy+emotion`, as `archon train --suite` composes it),
resume. Old ids unchanged; the old tasks' losses go on as in a control run that resumes from
the same checkpoint without the plugin (same seeds), within the step-to-step noise; the new
tasks train. Also the suite composition and its bad input (unknown task, uninstalled modality).
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from archon_framework import Clip, ClipMeta, Slot, Task, TaskError, TaskSuite
from archon_framework.testing import make_registry
from archon_framework.train import DataConfig, OptimConfig, TrainConfig, Trainer
from archon_framework.train._growth import compose_suite, resolve_train_suite
from archon_framework.train._step import batch_losses

from core_toys import SuitePlugin, ToyPlugin, array_modality

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "emotion"
OLD = TaskSuite("toy", (
    Task((Slot("speech", "c"),), Slot("expression", "c")),
    Task((Slot("expression", "c"),), Slot("speech", "c")),
))
SPEECH = array_modality("speech", 16, phrase="speech audio")
EXPRESSION = array_modality("expression", 32, phrase="facial expression")


@pytest.fixture(scope="module")
def emotion_plugin():
    """The example's hook module, imported from the repository (its entry point names it)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        from archon_emotion import _plugin
        yield _plugin
    finally:
        sys.path.remove(str(EXAMPLE))


def registry(emotion_plugin=None):
    plugins = [("toy", ToyPlugin(SPEECH, EXPRESSION)), ("suite", SuitePlugin(OLD))]
    if emotion_plugin is not None:
        plugins.append(("emotion", emotion_plugin))
    return make_registry(*plugins, with_byte_text=True)


def clips(n: int) -> list[Clip]:
    """Clips with every modality the grown suite reads; the emotion label follows the speech."""
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        meta = ClipMeta(clip_id=f"c{i}", duration=0.4, frame_rate=10, sample_rate=100)
        speech = rng.uniform(0, 1, (4, 2)).astype(np.float32)
        out.append(Clip(meta, {
            "speech": speech,
            "expression": np.sqrt(speech),  # learnable from speech: the old tasks' losses fall
            "script": f"clip {i} talks",
            "emotion": "happy" if speech.mean() > 0.5 else "sad",
        }))
    return out


def config(out, suite: str, steps: int) -> TrainConfig:
    return TrainConfig(out_dir=str(out), steps=steps, log_every=1,
                       optim=OptimConfig(peak_lr=3e-3, warmup_fraction=0.1),
                       data=DataConfig(suite=suite, seq_len=384, batch_size=2, packing_bins=2))


def task_ce(records: list[dict], names: list[str]) -> np.ndarray:
    """Each record's mean cross-entropy over the given tasks that had target tokens."""
    out = []
    for r in records:
        values = [r["task_ce"][n] for n in names if n in r["task_ce"]]
        if values:
            out.append(float(np.mean(values)))
    return np.asarray(out)


@pytest.mark.slow
def test_adding_the_emotion_plugin_keeps_old_ids_and_losses_and_trains_its_tasks(tmp_path, emotion_plugin):
    data, base, resumed = clips(6), 30, 50
    before: list[dict] = []
    first = Trainer(config(tmp_path / "base", "toy", base), registry(), clips=data, progress=False)
    first.train(on_step=lambda step, rec: before.append(rec))
    old_layout = first.layout
    _, old_model = first.latest_model()
    shutil.copytree(tmp_path / "base", tmp_path / "grown")
    shutil.copytree(tmp_path / "base", tmp_path / "control")

    # The control resumes without the plugin: the old tasks' losses as they go on by themselves.
    control_log: list[dict] = []
    control = Trainer(config(tmp_path / "control", "toy", resumed), registry(), clips=data, progress=False)
    control.train(on_step=lambda step, rec: control_log.append(rec))

    # The grown run: the plugin installed, its suite added to the old one as `archon train --suite toy+emotion`.
    cfg, grown_registry = resolve_train_suite(config(tmp_path / "grown", "toy", resumed), registry(emotion_plugin),
                                              suite="toy+emotion")
    with pytest.warns(UserWarning, match=r"description\(t\)->emotion\(t\) \(missing description\)"):
        grown = Trainer(cfg, grown_registry, clips=data, progress=False)
    new_tasks = [t.name for t in grown.suite.tasks if t not in OLD.tasks]
    assert new_tasks == ["speech(c)->emotion(t)", "expression(c)->emotion(t)", "script(c)+emotion(t)->speech(c)",
                         "speech(c)+emotion(t)->expression(c)"]
    # Old ids unchanged: the saved layout with the emotion vocabulary appended, old cache entries as they were.
    assert grown.layout.ranges[: len(old_layout.ranges)] == old_layout.ranges
    assert grown.layout.names[-1] == "emotion" and grown.layout.range("emotion").size == 8
    for i in range(len(data)):
        for m, k in first.cache.keys:
            assert np.array_equal(grown.cache.get(i, m, k), first.cache.get(i, m, k))
    fresh = grown.init_model()
    step, model, _, _ = grown._restore(fresh, grown.init_opt_state(fresh))
    assert step == base
    assert np.array_equal(np.asarray(model.embedding[: old_layout.total_size]), np.asarray(old_model.embedding))

    grown_log: list[dict] = []
    grown.train(on_step=lambda step, rec: grown_log.append(rec))
    assert grown_log[0]["step"] == control_log[0]["step"] == base + 1 and len(grown_log) == resumed - base

    old_names = [t.name for t in OLD.tasks]
    start, last = task_ce(before[:5], old_names), task_ce(before[-5:], old_names)
    ctrl, grow = task_ce(control_log[:10], old_names), task_ce(grown_log[:10], old_names)
    # No jump beyond noise: the first steps after the resume score the old tasks as the control's
    # do, within three standard errors of the difference of the two means (step-to-step noise).
    noise = np.sqrt(ctrl.var(ddof=1) / len(ctrl) + grow.var(ddof=1) / len(grow))
    print(f"old tasks: start {start.mean():.3f}, before resume {last.mean():.3f}, control {ctrl.mean():.3f}, "
          f"grown {grow.mean():.3f}, noise (s.e. of the difference) {noise:.3f}")
    assert abs(grow.mean() - ctrl.mean()) < 3 * noise + 0.02, (ctrl, grow)
    assert grow.mean() < last.mean() + 0.25 * (start.mean() - last.mean())  # where they were, not reset
    # On the same old-task batches, the two resumed models score alike (the grown one saw fewer
    # old-task examples since: half its batches went to the new tasks).
    _, control_model = control.latest_model()
    _, grown_model = grown.latest_model()
    c_ce, g_ce = [], []
    for _, batch in zip(range(4), control.batches()):
        mask = np.asarray(batch["loss_mask"], bool)
        c_ce.append(float(np.asarray(batch_losses(control_model, batch, control.modality_ranges).ce)[mask].mean()))
        g_ce.append(float(np.asarray(batch_losses(grown_model, batch, control.modality_ranges).ce)[mask].mean()))
    print(f"old-task CE on 4 batches after {resumed - base} resumed steps: control {np.mean(c_ce):.3f}, "
          f"grown {np.mean(g_ce):.3f}")
    assert abs(np.mean(g_ce) - np.mean(c_ce)) < 0.25 * (start.mean() - last.mean())

    # The new tasks train: the emotion label's loss falls from the fresh rows' level.
    emotion = task_ce(grown_log, [n for n in new_tasks if n.endswith("->emotion(t)")])
    print(f"emotion tasks: first 5 {emotion[:5].mean():.3f}, last 5 {emotion[-5:].mean():.3f}")
    assert len(emotion) >= 10 and emotion[-5:].mean() < 0.8 * emotion[:5].mean(), emotion
    for name in new_tasks:
        assert any(name in r["task_ce"] for r in grown_log), name


def test_compose_suite_appends_the_new_tasks_weighted_like_an_average_old_task(emotion_plugin):
    reg = registry(emotion_plugin)
    base = TaskSuite("weighted", OLD.tasks, (1.0, 3.0))
    with_base = make_registry(("toy", ToyPlugin(SPEECH, EXPRESSION)), ("suite", SuitePlugin(base)), ("emotion", emotion_plugin),
                              with_byte_text=True)
    composed = compose_suite(with_base, "weighted+emotion")
    assert composed.name == "weighted+emotion" and composed.tasks[:2] == OLD.tasks
    assert composed.weights[:2] == (1.0, 3.0) and set(composed.weights[2:]) == {2.0}  # the old mean
    added = compose_suite(reg, "toy", ["speech(c)->emotion(t)", " expression(c)->emotion(t) "])
    assert added.name == "toy+2 tasks" and [t.name for t in added.tasks[2:]] == ["speech(c)->emotion(t)",
                                                                                 "expression(c)->emotion(t)"]
    # A suite the run composed earlier (recorded in suite.json) is a base too.
    again = compose_suite(reg, "toy+2 tasks", ["script(c)+emotion(t)->speech(c)"], recorded=added)
    assert again.tasks[:4] == added.tasks and again.name == "toy+2 tasks+1 task"


@pytest.mark.parametrize(("suite", "tasks", "message"), [
    ("toy+emotoin", [], r"--suite 'toy\+emotoin': task suite 'emotoin' is not installed \(installed: emotion, toy\)"),
    ("toy+", [], "no empty name"),
    ("toy", ["speech(c)->emotion(c)x"], r"--add-tasks: cannot parse|--add-tasks: .*slot"),
    ("toy", ["speech(c)->mood(t)"], r"--add-tasks: task speech\(c\)->mood\(t\): modality 'mood' is not installed"),
    ("toy", ["script(c)->emotion(t)"], r"--add-tasks: unknown task script\(c\)->emotion\(t\): no installed suite "
                                       r"declares it \(did you mean .*speech\(c\)->emotion\(t\)"),
    ("toy", ["speech(c)->expression(c)"], r"task speech\(c\)->expression\(c\) is already in suite 'toy'"),
    ("toy+emotion", ["speech(c)->emotion(t)"], r"task speech\(c\)->emotion\(t\) is already in suite 'toy\+emotion'"),
])
def test_bad_suites_and_tasks_are_refused_naming_them(emotion_plugin, tmp_path, suite, tasks, message):
    with pytest.raises(TaskError, match=message):
        resolve_train_suite(config(tmp_path, "toy", 1), registry(emotion_plugin), suite=suite, add_tasks=tasks)


def test_resolving_a_plain_suite_changes_nothing_but_the_name(emotion_plugin, tmp_path):
    reg = registry(emotion_plugin)
    cfg, same = resolve_train_suite(config(tmp_path, "toy", 1), reg)
    assert cfg.data.suite == "toy" and same is reg
    cfg, same = resolve_train_suite(config(tmp_path, "toy", 1), reg, suite="emotion", add_tasks=["", " "])
    assert cfg.data.suite == "emotion" and same is reg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg, grown = resolve_train_suite(config(tmp_path, "toy+emotion", 1), reg)  # data.suite composes too
    assert cfg.data.suite == "toy+emotion" and grown.suites["toy+emotion"].tasks[:2] == OLD.tasks


def test_archon_train_resumes_with_the_plugin_suite_added(emotion_plugin, tmp_path, monkeypatch):
    """`archon train --suite toy+emotion` resumes a run with the plugin's tasks; bad tasks are named."""
    import json

    from typer.testing import CliRunner

    import archon_framework.cli as cli
    from archon_framework.data import write_dataset

    write_dataset(tmp_path / "data", clips(3), static={"emotion": True})
    (tmp_path / "train.toml").write_text(
        f'out_dir = "{tmp_path / "run"}"\nsteps = 1\n[data]\ndataset = "{tmp_path / "data"}"\nsuite = "toy"\n'
        "seq_len = 384\nbatch_size = 1\npacking_bins = 1\n[checkpoint]\nevery = 1\nkeep = 1\n")
    runner = CliRunner()
    monkeypatch.setattr(cli._common, "loaded", [])
    monkeypatch.setattr(cli._common, "load_registry", registry)
    assert runner.invoke(cli.app, ["train", "--config", str(tmp_path / "train.toml"), "--no-progress"]).exit_code == 0
    layout = (tmp_path / "run" / "layout.json").read_bytes()

    monkeypatch.setattr(cli._common, "load_registry", lambda: registry(emotion_plugin))
    train = ["train", "--config", str(tmp_path / "train.toml"), "--no-progress"]  # step 1 again: no compile
    for more, message in (
        (["--suite", "toy", "--add-tasks", "speech(c)->emotion(t),speech(c)->mood(t)"],
         "task speech(c)->mood(t): modality 'mood' is not installed"),
        (["--add-tasks", "script(c)->emotion(t)"], "unknown task script(c)->emotion(t): no installed suite declares it"),
        (["--suite", "toy+emotoin"], "task suite 'emotoin' is not installed"),
    ):
        bad = runner.invoke(cli.app, [*train, *more])
        assert bad.exit_code == 2 and message in " ".join(bad.stderr.split()), bad.output
        assert (tmp_path / "run" / "layout.json").read_bytes() == layout  # refused before anything is written

    good = runner.invoke(cli.app, [*train, "--suite", "toy", "--add-tasks", "speech(c)->emotion(t), expression(c)->emotion(t)"])
    assert good.exit_code == 0, good.output
    assert "from its checkpoint at step 1 (training to step 1)" in " ".join(good.stderr.split())
    record = json.loads((tmp_path / "run" / "suite.json").read_text())
    assert record["name"] == "toy+2 tasks"
    assert record["tasks"][2:] == ["speech(c)->emotion(t)", "expression(c)->emotion(t)"]
    assert json.loads((tmp_path / "run" / "layout.json").read_text())["ranges"][-1]["vocabulary"]["name"] == "emotion"
