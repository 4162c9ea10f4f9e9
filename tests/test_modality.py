"""RawSpec validation, Modality declarations, clips and their windows, configs."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import (
    Clip, ClipMeta, ConfigError, Modality, PluginError, RawSpec, RawValueError, Slot, Task, TaskError,
    State, clip_windows, cut_clip, slot_value, static_frame, task_windows, window_clip,
)
from archon_framework.config import from_dict, load_config, save_config

from core_toys import array_modality

META = ClipMeta(clip_id="clip7", duration=2.0, frame_rate=30, sample_rate=16_000)


def test_meta_counts_and_windows():
    assert META.frames == 60 and META.samples == 32_000
    w = META.window(1.0, 1.0, suffix="current")
    assert w.start == 1.0 and w.frames == 30 and w.clip_id == "clip7:current"
    with pytest.raises(RawValueError, match="outside 0..2.0"):
        META.window(1.5, 1.0, suffix="x")


def test_rawspec_array_checks_name_clip_and_modality():
    spec = RawSpec(kind="array", dtype="float32", shape=("samples",), value_range=(-1.0, 1.0))
    speech = Modality(name="speech", vocabulary=None, temporal=True, phrase="speech", raw=spec,
                      num_tokens=lambda m: 0, tokenizer=lambda p: None, derived_from=("x",))
    ok = np.zeros(32_000, dtype=np.float64)
    assert speech.check_raw(ok, META).dtype == np.float32
    with pytest.raises(RawValueError, match=r"clip 'clip7', modality 'speech': expected shape \(32000,\)"):
        speech.check_raw(np.zeros((32_000, 2), np.float32), META)
    with pytest.raises(RawValueError, match="NaN"):
        speech.check_raw(np.full(32_000, np.nan, np.float32), META)
    with pytest.raises(RawValueError, match=r"in \[-1.0, 1.0\]"):
        speech.check_raw(np.full(32_000, 2.0, np.float32), META)
    labels = RawSpec(kind="array", dtype="uint8", shape=("frames", 4, 4), value_range=(0, 20))
    with pytest.raises(RawValueError, match="expected dtype uint8, got float32"):
        labels.check(np.zeros((60, 4, 4), np.float32), META, where="w")
    assert labels.check(np.zeros((60, 4, 4), np.int64), META, where="w").dtype == np.uint8
    with pytest.raises(RawValueError, match="expected text"):
        RawSpec(kind="text").check(b"bytes", META, where="w")
    with pytest.raises(RawValueError, match="JSON object"):
        RawSpec(kind="json").check([1], META, where="w")


def test_modality_declaration_errors():
    with pytest.raises(PluginError, match="identifier"):
        array_modality("9lives", 3)
    with pytest.raises(PluginError, match="derived_from"):
        Modality(name="video", vocabulary=None, temporal=True, phrase="video", raw=RawSpec(kind="text"),
                 num_tokens=lambda m: None, tokenizer=lambda p: None)
    with pytest.raises(PluginError, match="shape entries"):
        RawSpec(kind="array", shape=("seconds",))


def test_domain_validator_errors_are_prefixed():
    def no_empty(value, meta):
        if not value:
            raise RawValueError("empty text")
        return value

    m = attrs.evolve(array_modality("x", 3), raw=RawSpec(kind="text"), validate=no_empty)
    with pytest.raises(RawValueError, match="clip 'clip7', modality 'x': empty text"):
        m.check_raw("", META)


def test_task_windows_split_past_and_current():
    task = Task((Slot("speech", "p"), Slot("image", "t")), Slot("speech", "c"))
    w = task_windows(META, task)
    assert w[Slot("speech", "p").state].duration == 1.0 and w[Slot("speech", "c").state].start == 1.0
    assert w[Slot("image", "t").state].frames == 1
    assert task_windows(META, Task((Slot("speech", "c"),), Slot("script", "c")))[Slot("x", "c").state] == META
    short = ClipMeta(clip_id="s", duration=0.2, frame_rate=30, sample_rate=16_000)
    with pytest.raises(TaskError, match="too short"):
        task_windows(short, task)


def test_slot_value_cuts_arrays_on_their_time_axis():
    m = array_modality("expression", 8)
    values = np.linspace(0, 0.99, 60 * 2, dtype=np.float32).reshape(60, 2)
    clip = Clip(META, {"expression": values})
    task = Task((Slot("expression", "p"),), Slot("expression", "c"))
    w = task_windows(META, task)
    past, wp = slot_value(clip, m, Slot("e", "p").state, w)
    cur, wc = slot_value(clip, m, Slot("e", "c").state, w)
    assert np.array_equal(np.concatenate([past, cur]), values) and wp.frames == 30
    frame, wf = slot_value(clip, m, Slot("e", "t").state, w)
    assert np.array_equal(frame, values[30:31]) and wf.frames == 1
    with pytest.raises(KeyError, match="has no 'speech' value"):
        clip["speech"]


def test_a_clip_cut_to_a_window_is_a_clip_of_that_window():
    mods = {"expression": array_modality("expression", 8), "identity": array_modality("identity", 8, temporal=False)}
    values = np.linspace(0, 0.99, 60 * 2, dtype=np.float32).reshape(60, 2)
    ident = np.full((1, 2), 0.5, np.float32)
    clip = Clip(META, {"expression": values, "identity": ident, "not_installed": 3})
    past, cur = cut_clip(clip, State.PAST, mods), cut_clip(clip, State.CURRENT, mods)
    assert (past.meta.start, past.meta.duration, cur.meta.start, cur.meta.duration) == (0.0, 1.0, 1.0, 1.0)
    assert set(past) == set(cur) == {"expression", "identity"}  # what no installed modality reads is left out
    assert np.array_equal(np.concatenate([past["expression"], cur["expression"]]), values)
    assert cur["identity"] is ident and cur.meta.frames == cur["expression"].shape[0] == 30
    assert cut_clip(clip, State.CURRENT, mods, past_fraction=0.4).meta.duration == pytest.approx(1.2)
    with pytest.raises(TaskError, match="not to one frame"):
        cut_clip(clip, State.STATIC, mods)


@settings(max_examples=40, deadline=None)
@given(start=st.integers(0, 59), length=st.integers(1, 60))
def test_a_clip_cut_to_any_window_holds_that_window_and_copies(start, length):
    mods = {"expression": array_modality("expression", 8), "identity": array_modality("identity", 8, temporal=False)}
    values = np.arange(60 * 2, dtype=np.float32).reshape(60, 2)
    ident = np.full((1, 2), 0.5, np.float32)
    clip = Clip(META, {"expression": values, "identity": ident, "not_installed": 3})
    length = min(length, 60 - start)
    window = META.window(start / 30, length / 30, suffix="w")
    cut = window_clip(clip, window, mods)
    assert cut.meta == window and set(cut) == {"expression", "identity"}
    assert np.array_equal(cut["expression"], values[start:start + length])
    assert not np.shares_memory(cut["expression"], values)  # a cut clip does not hold the whole clip's array
    assert cut["identity"] is ident
    only = window_clip(clip, window, mods, keep={"identity"})
    assert set(only) == {"identity"}
    with pytest.raises(TaskError, match="clip7.*'speech'"):
        window_clip(clip, window, mods, keep={"speech"})


def test_the_static_frame_of_a_whole_clip_is_its_first_frame():
    m = array_modality("expression", 8)
    values = np.arange(60 * 2, dtype=np.float32).reshape(60, 2)
    frame, meta = static_frame(Clip(META, {"expression": values}), m)
    assert np.array_equal(frame, values[:1]) and meta.frames == 1 and meta.start == META.start
    # the frame the no-past task windows give a time-invariant slot
    expected, _ = slot_value(Clip(META, {"expression": values}), m, State.STATIC, clip_windows(META, has_past=False))
    assert np.array_equal(frame, expected)


@attrs.frozen
class _Optim:
    lr: float = 1e-3
    warmup: int = 10


@attrs.frozen
class _Cfg:
    name: str
    optim: _Optim = _Optim()


def test_config_round_trip_and_unknown_keys(tmp_path):
    cfg = _Cfg("tiny", _Optim(3e-4, 5))
    save_config(cfg, tmp_path / "c.json")
    assert load_config(tmp_path / "c.json", _Cfg) == cfg
    (tmp_path / "plain.json").write_text("{}")  # the atomic write gives what a plain write gives
    assert (tmp_path / "c.json").stat().st_mode & 0o777 == (tmp_path / "plain.json").stat().st_mode & 0o777
    assert not list(tmp_path.glob(".c.json.*"))
    (tmp_path / "c.toml").write_text('name = "x"\n[optim]\nlr = 0.1\nwarmpu = 3\n')
    with pytest.raises(ConfigError, match=r"c.toml: invalid _Cfg: unknown key\(s\) warmpu in optim"):
        load_config(tmp_path / "c.toml", _Cfg)
    with pytest.raises(ConfigError, match="missing section"):
        load_config(tmp_path / "c.toml", _Cfg, section="model")
    (tmp_path / "bad.toml").write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml", _Cfg)
    with pytest.raises(ConfigError, match="lr"):
        from_dict(_Cfg, {"name": "x", "optim": {"lr": "fast"}})
