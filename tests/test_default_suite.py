"""Defaults come from what is installed (issue 24): the suite a run trains on when its config
names none, and the modality a bare transcript file beside a video is given for."""

from __future__ import annotations

import attrs
import pytest

from archon_framework import ConfigError, DemoSpec, Slot, Task, TaskError, TaskSuite
from archon_framework.data import find_videos
from archon_framework.data._prepare import transcript_modality
from archon_framework.testing import make_registry
from archon_framework.train import DataConfig, TrainConfig, check_train_config
from archon_framework.train._config import with_default_suite

from core_toys import SuitePlugin, ToyPlugin, array_modality

A = TaskSuite("a", (Task((Slot("speech", "c"),), Slot("expression", "c")),))
B = TaskSuite("b", (Task((Slot("expression", "c"),), Slot("speech", "c")),))


def _registry(*suites: TaskSuite, with_byte_text: bool = True):
    return make_registry(("toy", ToyPlugin(array_modality("speech", 16), array_modality("expression", 32))),
                         ("suites", SuitePlugin(*suites)), with_byte_text=with_byte_text)


def _demo(suite: str) -> DemoSpec:
    return DemoSpec(name="d", chains=(), suite=suite, dataset="x", heldout_dataset="y")


def test_the_trainers_config_names_no_suite_by_default():
    assert DataConfig().suite == ""


def test_the_default_suite_is_the_first_demos_else_the_only_one():
    assert _registry(A).default_suite() == "a"
    both = _registry(A, B)
    assert attrs.evolve(both, demos={"d": _demo("b")}).default_suite() == "b"
    with pytest.raises(TaskError, match=r"2 suites are installed \(a, b\).*data\.suite"):
        both.default_suite()
    with pytest.raises(TaskError, match=r"0 suites are installed \(none\)"):
        _registry().default_suite()


def test_an_empty_data_suite_becomes_the_default_and_a_named_one_stays(tmp_path):
    config = TrainConfig(out_dir=str(tmp_path / "run"), data=DataConfig(seq_len=64))
    assert with_default_suite(config, _registry(A)).data.suite == "a"
    named = attrs.evolve(config, data=attrs.evolve(config.data, suite="b"))
    assert with_default_suite(named, _registry(A)) is named


def test_an_empty_data_suite_without_a_default_is_named_among_the_config_problems(tmp_path):
    config = TrainConfig(out_dir=str(tmp_path / "run"), data=DataConfig(seq_len=64))
    with pytest.raises(ConfigError, match=r"data\.suite is empty: .*\(a, b\)") as err:
        check_train_config(config, _registry(A, B), dataset_needed=False)
    assert "data.suite = ''" not in str(err.value)  # one problem, said once
    assert check_train_config(config, _registry(A), dataset_needed=False).max_seq_len >= 64


def test_a_bare_transcript_goes_to_the_only_installed_time_varying_text_modality(tmp_path):
    with_text, without = _registry(A), _registry(A, with_byte_text=False)
    assert transcript_modality(with_text) == "script"  # the test kit's byte-level text modality
    assert transcript_modality(without) is None
    for name in ("talk.mp4", "talk.srt"):
        (tmp_path / name).write_text("x")
    assert find_videos(tmp_path, transcript=transcript_modality(with_text))[0].sidecars == {"script": tmp_path / "talk.srt"}
    assert find_videos(tmp_path, transcript=transcript_modality(without))[0].sidecars == {}
