"""Trainer metrics: per-RVQ-level losses from `token_ranges`, perplexities, TensorBoard (optional)."""

from __future__ import annotations

import json
import logging
import math
import struct
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import Modality, PluginError, RawSpec, Slot, Task, TaskSuite, Vocabulary, VocabLayout
from archon_framework.testing import make_registry
from archon_framework.train import DataConfig, OptimConfig, TrainConfig, Trainer
from archon_framework.train._levels import LevelTable, level_blocks, level_index
from archon_framework.train._logging import open_tensorboard, scalars, tag_name

from core_toys import SuitePlugin, ToyPlugin, array_modality
from test_examples import clips

LEVELS, CODES = 3, 8


class DigitRVQTokenizer:
    """A real residual quantizer of one scalar per frame (the mean of the frame's two values).

    Level l quantizes the residual left by levels 0..l-1 into 8 codes (base-8 digits of the
    value), so each level refines the previous one. Local id = level * 8 + code, frame-major,
    like the speech tokenizer; `token_ranges` says which level's block each position uses.
    """

    vocabulary = Vocabulary("speech", LEVELS * CODES)

    def encode(self, raw, *, meta):
        residual = np.asarray(raw, np.float64).mean(axis=1)
        out = np.empty((residual.shape[0], LEVELS), np.int32)
        for level in range(LEVELS):
            code = np.clip(np.floor(residual * CODES), 0, CODES - 1)
            out[:, level] = level * CODES + code
            residual = residual * CODES - code
        return out.reshape(-1)

    def decode(self, local_ids, *, meta):
        codes = np.asarray(local_ids).reshape(-1, LEVELS) % CODES
        value = (codes * CODES ** -np.arange(1.0, LEVELS + 1)).sum(axis=1) + 0.5 * CODES ** -LEVELS
        return np.repeat(value[:, None], 2, axis=1).astype(np.float32)

    def token_ranges(self, num_tokens: int) -> np.ndarray:
        lo = (np.arange(num_tokens) % LEVELS) * CODES
        return np.stack([lo, lo + CODES], axis=1).astype(np.int64)


def rvq_speech() -> Modality:
    return Modality(
        name="speech", vocabulary=DigitRVQTokenizer.vocabulary, temporal=True, phrase="speech audio",
        raw=RawSpec(kind="array", dtype="float32", shape=("frames", 2), value_range=(0.0, 1.0)),
        num_tokens=lambda meta: LEVELS * meta.frames, tokenizer=lambda path: DigitRVQTokenizer(),
    )


SUITE = TaskSuite("rvq", (
    Task((Slot("expression", "c"),), Slot("speech", "c")),
    Task((Slot("speech", "p"),), Slot("speech", "c")),
    Task((Slot("speech", "c"),), Slot("expression", "c")),
))


@pytest.fixture(scope="module")
def registry():
    return make_registry(("toy", ToyPlugin(rvq_speech(), array_modality("expression", 32, phrase="facial expression"))),
                         ("suite", SuitePlugin(SUITE)), with_byte_text=True)


# ---------------------------------------------------------------------- the level tables
def test_the_digit_tokenizer_is_a_residual_quantizer(meta):
    tok = DigitRVQTokenizer()
    raw = np.random.default_rng(0).uniform(0, 1, (4, 2)).astype(np.float32)
    ids = tok.encode(raw, meta=meta)
    ranges = tok.token_ranges(ids.shape[0])
    assert np.all((ranges[:, 0] <= ids) & (ids < ranges[:, 1]))
    err = np.abs(tok.decode(ids, meta=meta)[:, 0] - raw.mean(axis=1))
    assert err.max() <= 0.5 * CODES ** -LEVELS + 1e-6  # three levels: 1/512 resolution


@settings(max_examples=40, deadline=None)
@given(levels=st.integers(2, 5), width=st.integers(1, 9), start=st.integers(0, 40), other=st.integers(1, 30),
       seed=st.integers(0, 2**31 - 1))
def test_level_index_matches_the_block_of_each_local_id(levels, width, start, other, seed):
    rng = np.random.default_rng(seed)
    blocks = np.arange(levels) * width
    table = {"start": np.array([start, 0], np.int32),
             "lo": np.stack([blocks, np.full(levels, np.iinfo(np.int32).max)]).astype(np.int32),
             "width": np.array([width, 1], np.int32), "levels": np.array([levels, 0], np.int32),
             "offset": np.array([0, 0], np.int32)}
    n = 64
    mods = rng.integers(-1, 2, n).astype(np.int32)  # -1: no modality, 1: a modality without levels
    local = rng.integers(-3, levels * width + 3, n)  # some ids fall outside the modality's blocks
    tokens = np.where(mods == 0, start + local, rng.integers(0, 100, n)).astype(np.int32)
    mask = rng.random(n) < 0.8
    got = np.asarray(level_index(tokens, mods, mask, table, levels))
    inside = (mods == 0) & mask & (local >= 0) & (local < levels * width)
    assert np.array_equal(got, np.where(inside, local // width, levels))


def test_level_table_from_token_ranges(registry):
    layout = registry.layout()
    names = ("expression", "script", "speech")
    table = LevelTable.build(names, layout, {"speech": "speech", "expression": "expression"},
                             {"speech": DigitRVQTokenizer(), "expression": registry.tokenizer("expression")},
                             {"speech": 12, "expression": 8})
    assert table.names == ("speech/level0", "speech/level1", "speech/level2")
    assert table.levels.tolist() == [0, 0, 3] and table.width[2] == CODES
    assert table.start[2] == layout.range("speech").start and table.lo[2].tolist() == [0, 8, 16]
    # A token whose local id is 13 is a level-1 code; the same id in expression has no level.
    ids = np.array([layout.range("speech").start + 13, layout.range("expression").start + 13])
    assert np.asarray(level_index(ids, np.array([2, 0]), np.array([True, True]), table.arrays(), table.size)).tolist() == [1, 3]


@pytest.mark.parametrize("ranges, match", [
    (lambda n: np.array([[0, 8], [8, 20]] * (n // 2)), "one positive width"),
    (lambda n: np.array([[0, 8], [4, 12]] * (n // 2)), "overlap"),
    (lambda n: np.array([[0, 8], [24, 32]] * (n // 2)), "exceed the vocabulary"),
    (lambda n: np.zeros((n, 3), np.int64), r"\[num_tokens, 2\]"),
])
def test_token_ranges_that_break_the_protocol_name_the_modality(ranges, match):
    tok = types.SimpleNamespace(token_ranges=ranges)
    with pytest.raises(PluginError, match=rf"modality 'speech': token_ranges\(4\).*{match}"):
        level_blocks("speech", tok, 4, 24)


def test_a_tokenizer_without_token_ranges_or_with_one_block_has_no_levels():
    assert level_blocks("image", object(), 4, 24) is None
    whole = types.SimpleNamespace(token_ranges=lambda n: np.tile([[0, 24]], (n, 1)))
    assert level_blocks("image", whole, 4, 24) is None


# ---------------------------------------------------------------------- a run's metrics
class RecordingWriter:
    """Stands in for tensorboardX.SummaryWriter to see what the trainer hands TensorBoard."""

    instances: list[RecordingWriter] = []

    def __init__(self, logdir, purge_step=None):
        self.logdir, self.purge_step, self.scalars, self.closed = logdir, purge_step, [], False
        RecordingWriter.instances.append(self)

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


@pytest.fixture(scope="module")
def run(tmp_path_factory, registry):
    """Three steps of a run whose target modalities include a three-level RVQ one."""
    out = tmp_path_factory.mktemp("rvq-run")
    fake = types.ModuleType("tensorboardX")
    fake.SummaryWriter = RecordingWriter
    saved = sys.modules.get("tensorboardX")
    sys.modules["tensorboardX"] = fake
    try:
        cfg = TrainConfig(out_dir=str(out), steps=3, log_every=1, optim=OptimConfig(peak_lr=3e-3),
                          data=DataConfig(suite="rvq", seq_len=512, batch_size=2, packing_bins=2))
        trainer = Trainer(cfg, registry, clips=clips(6), progress=False)
        trainer.train()
    finally:
        if saved is None:
            del sys.modules["tensorboardX"]
        else:
            sys.modules["tensorboardX"] = saved
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return out, trainer, records, RecordingWriter.instances[-1]


def test_per_level_losses_add_up_to_the_modality_loss(run):
    _, trainer, records, _ = run
    assert trainer.levels.names == ("speech/level0", "speech/level1", "speech/level2")
    assert [r["step"] for r in records] == [1, 2, 3]
    saw_speech = False
    for r in records:
        if "speech" not in r["modality_ce"]:
            continue
        saw_speech = True
        counts = [r["level_tokens"][f"speech/level{k}"] for k in range(LEVELS)]
        assert len(set(counts)) == 1  # every frame has one token per level
        assert sum(counts) == r["modality_tokens"]["speech"]  # every speech target has a level
        mean = sum(r["level_ce"][f"speech/level{k}"] * counts[k] for k in range(LEVELS)) / sum(counts)
        assert mean == pytest.approx(r["modality_ce"]["speech"], rel=1e-5)
        for group in ("task", "modality", "level"):
            for name, ce in r[f"{group}_ce"].items():
                assert ce > 0 and r[f"{group}_ppl"][name] == pytest.approx(math.exp(ce))
        assert sum(r["task_tokens"].values()) == r["target_tokens"]
    assert saw_speech


def test_tensorboard_gets_every_scalar_of_each_record(run):
    out, _, records, writer = run
    assert writer.logdir == str(out / "tensorboard") and writer.closed
    for r in records:
        logged = {tag: value for tag, value, step in writer.scalars if step == r["step"]}
        assert logged == dict(scalars(r))
        assert logged["loss"] == r["loss"] and logged["lr"] == r["lr"]
        for name, ce in r["level_ce"].items():
            assert logged[f"loss/{name}"] == ce and logged[f"ppl/{name}"] == pytest.approx(math.exp(ce))
        for name, ce in r["task_ce"].items():
            assert logged[f"loss/task/{tag_name(name)}"] == ce
    assert any(tag == "loss/speech/level0" for tag, _, _ in writer.scalars)


def test_without_tensorboard_packages_logging_is_skipped_with_one_info_line(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # None in sys.modules: ImportError on import
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with caplog.at_level(logging.INFO, logger="archon_framework.train"):
        assert open_tensorboard(tmp_path / "tb") is None
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "neither tensorboardX nor tensorboard is installed" in caplog.records[0].getMessage()
    assert not (tmp_path / "tb").exists()


def _read_events(logdir):
    """Scalars of every event file under logdir (TFRecord framing: length, crc, data, crc)."""
    try:
        from tensorboardX.proto.event_pb2 import Event
    except ImportError:
        from tensorboard.compat.proto.event_pb2 import Event
    found = []
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        data, pos = path.read_bytes(), 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            found += [(v.tag, v.simple_value, event.step) for v in event.summary.value]
    return found


def test_a_real_tensorboard_writer_writes_readable_event_files(tmp_path):
    if importlib_missing("tensorboardX") and importlib_missing("tensorboard"):
        pytest.skip("neither tensorboardX nor tensorboard is installed (both optional)")
    writer = open_tensorboard(tmp_path / "tb")
    record = {"step": 7, "loss": 2.5, "ce": 2.25, "lr": 1e-3, "task_ce": {"speech(c)->speech(c)": 1.5},
              "modality_ce": {"speech": 1.5}, "level_ce": {"speech/level0": 0.5, "speech/level1": 2.5}}
    for tag, value in scalars(record):
        writer.add_scalar(tag, value, record["step"])
    writer.close()
    events = _read_events(tmp_path / "tb")
    assert {(t, s) for t, _, s in events} == {(t, 7) for t, _ in scalars(record)}
    assert dict((t, v) for t, v, _ in events)["loss/speech/level1"] == pytest.approx(2.5)
    assert dict((t, v) for t, v, _ in events)["ppl/speech/level0"] == pytest.approx(math.exp(0.5))
    assert dict((t, v) for t, v, _ in events)["loss/task/speech.c_to_speech.c"] == pytest.approx(1.5)


def test_task_names_become_legal_tensorboard_tags():
    assert tag_name("description(t)+script(c)->speech(c)") == "description.t_and_script.c_to_speech.c"
    assert tag_name("speech/level0") == "speech/level0"


def importlib_missing(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is None


def test_the_layout_places_levels_after_text():
    """The level table reads global starts from the layout (text first, then by name)."""
    layout = VocabLayout.allocate([Vocabulary("text", 10), Vocabulary("speech", LEVELS * CODES)])
    table = LevelTable.build(("speech",), layout, {"speech": "speech"}, {"speech": DigitRVQTokenizer()}, {"speech": 6})
    assert table.start.tolist() == [10]
    ids = 10 + np.arange(LEVELS * CODES)
    got = np.asarray(level_index(ids, np.zeros_like(ids), np.ones(ids.shape, bool), table.arrays(), table.size))
    assert got.tolist() == (np.arange(LEVELS * CODES) // CODES).tolist()


def test_a_resumed_run_drops_the_records_logged_after_its_checkpoint(tmp_path):
    from archon_framework.train._logging import MetricsLog

    lines = [json.dumps({"step": s, "loss": 1.0}) + "\n" for s in range(1, 6)]
    (tmp_path / "metrics.jsonl").write_text("".join(lines) + '{"step": 6, "lo')  # a crash cut the last line
    log = MetricsLog(tmp_path, tensorboard=False, start=3)
    log.write({"step": 4, "loss": 0.5})
    log.close()
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
