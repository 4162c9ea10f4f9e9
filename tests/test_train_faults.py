"""Training faults: a NaN loss, a trainer killed while saving, data made under another layout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import attrs
import numpy as np
import pytest

from archon_framework import LayoutMismatchError, Vocabulary, VocabError
from archon_framework.data import TokenCache, needed_keys
from archon_framework.testing import make_registry
from archon_framework.train import CheckpointConfig, Trainer, TrainingError

from core_toys import ArrayTokenizer, SuitePlugin, ToyPlugin, array_modality
from test_examples import clips
from test_train import SUITE, config, params

HERE = Path(__file__).parent


def toy_registry(speech_size: int = 16, *extra):
    return make_registry(("toy", ToyPlugin(array_modality("speech", speech_size, phrase="speech audio"),
                                           array_modality("expression", 32, phrase="facial expression"),
                                           array_modality("image", 64, temporal=False, phrase="reference image"),
                                           *extra)),
                         ("suite", SuitePlugin(SUITE)), with_byte_text=True)


@pytest.fixture(scope="module")
def registry():
    return toy_registry()


def run_config(out, *, steps=6, every=2, keep=3):
    return attrs.evolve(config(out, steps=steps), checkpoint=CheckpointConfig(every=every, keep=keep))


def committed_steps(out) -> list[int]:
    return sorted(int(p.name) for p in (Path(out) / "checkpoints").iterdir() if p.name.isdigit())


# ---------------------------------------------------------------------- NaN loss
@pytest.mark.slow
def test_a_nan_loss_stops_the_run_naming_step_and_tasks_and_keeps_the_last_good_checkpoint(tmp_path, registry):
    data = clips(6)
    good = run_config(tmp_path, steps=6, every=2)
    first = Trainer(good, registry, clips=data, progress=False)
    at_two = params(first.train(steps=2))
    # Resume with a poisoned learning rate: step 3's update (inf x 0 where Adam's moment is 0)
    # puts NaN into the parameters, so the next forward pass gives a NaN loss.
    poisoned = attrs.evolve(good, optim=attrs.evolve(good.optim, peak_lr=float("inf")))
    trainer = Trainer(poisoned, registry, clips=data, progress=False)
    with pytest.raises(TrainingError) as caught:
        trainer.train()
    message = str(caught.value)
    found = re.match(r"step (\d+): the loss is nan ", message)
    assert found and int(found.group(1)) > 2, message
    step = int(found.group(1))
    assert f"the last good checkpoint is step 2 in {tmp_path / 'checkpoints'}" in message
    # The tasks named are exactly those with target tokens in the failing step's batch.
    it = trainer.batches()
    batch = [next(it) for _ in range(step)][-1]
    in_batch = {SUITE.tasks[i].name for i in np.unique(batch["task_ids"][batch["loss_mask"]])}
    named = set(re.search(r"task\(s\): ([^;]*)\)", message).group(1).split(", "))
    assert named == in_batch, message
    # Nothing of the bad steps was saved or logged; the last good checkpoint restores intact.
    assert committed_steps(tmp_path) == [2]
    logged = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert max(logged) < step
    restored_step, model = Trainer(good, registry, clips=data, progress=False).latest_model()
    assert restored_step == 2
    for a, b in zip(at_two, params(model)):
        assert np.array_equal(a, b) and np.all(np.isfinite(b))


# ---------------------------------------------------------------------- killed while saving
KILLED_RUN = """
import asyncio, sys
from pathlib import Path
sys.path[:0] = [{here!r}]
from orbax.checkpoint._src.path import atomicity

out = Path({out!r})
commit = atomicity.AtomicRenameTemporaryPath.finalize

async def finalize_slowly(self):
    # Orbax has written step {stop}'s arrays into its tmp dir and is about to rename it: stop here.
    if self.get_final().name == "{stop}":
        (out / "paused-in-save").write_text(str(self.get()))
        await asyncio.sleep(3600)
    return await commit(self)

atomicity.AtomicRenameTemporaryPath.finalize = finalize_slowly
from archon_framework.train import Trainer
from test_examples import clips
from test_train_faults import run_config, toy_registry

cfg = run_config(out, steps=4, every=2, keep=1)
Trainer(cfg, toy_registry(), clips=clips(6), progress=False).train()
print("the save was never interrupted")
"""


@pytest.mark.slow
def test_a_trainer_killed_while_saving_resumes_from_the_previous_checkpoint(tmp_path):
    out = tmp_path / "killed"
    out.mkdir()
    script = tmp_path / "killed_run.py"
    script.write_text(KILLED_RUN.format(here=str(HERE), out=str(out), stop=4))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marker = out / "paused-in-save"
    try:
        while not marker.exists() and proc.poll() is None:
            time.sleep(0.2)
        assert marker.exists(), f"the trainer ended before saving step 4:\n{proc.communicate()[0][-3000:]}"
        tmp_dir = Path(marker.read_text())
        assert tmp_dir.name.startswith("4.orbax-checkpoint-tmp") and any(tmp_dir.rglob("*")), tmp_dir
        proc.kill()  # SIGKILL: no cleanup, no finally blocks
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    # What the kill left: the committed step 2 (keep=1 deletes it only after step 4 commits)
    # and an uncommitted tmp dir of step 4.
    assert committed_steps(out) == [2]
    assert tmp_dir.exists()

    registry = toy_registry()
    resumed = Trainer(run_config(out, steps=4, every=2, keep=1), registry, clips=clips(6), progress=False)
    restored_step, _ = resumed.latest_model()
    assert restored_step == 2
    model = resumed.train()
    assert committed_steps(out) == [4] and not tmp_dir.exists()
    logged = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 3, 4]
    # Nothing was corrupt: the resumed run equals one that was never interrupted.
    straight = Trainer(run_config(tmp_path / "straight", steps=4, every=2, keep=1), registry, clips=clips(6),
                       progress=False).train()
    for a, b in zip(params(straight), params(model)):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------------- data and layouts that disagree
def test_a_token_cache_made_under_another_layout_is_refused(tmp_path, registry):
    # The run directory holds ids tokenized under the layout of other plugins ("audio" sorts
    # before "expression", so every id after text moves).
    other = toy_registry(16, array_modality("audio", 8))
    layout = other.layout()
    from archon_framework import PromptSerializer

    serializer = PromptSerializer(layout, other.modalities, other.text_codec())
    toks = {m: other.tokenizer(m) for m in ("speech", "expression")}
    TokenCache.build(clips(2), serializer, toks, needed_keys(SUITE, other.modalities)).save(tmp_path / "token-cache")
    with pytest.raises(LayoutMismatchError, match=rf"{tmp_path / 'token-cache'}: the cached tokens were made under another vocabulary layout"):
        Trainer(config(tmp_path), registry, clips=clips(2), progress=False)


def test_resuming_under_plugins_that_resized_a_vocabulary_names_it(tmp_path, registry):
    Trainer(config(tmp_path), registry, clips=clips(2), progress=False)  # writes layout.json
    with pytest.raises(LayoutMismatchError, match="speech"):
        Trainer(config(tmp_path), toy_registry(20), clips=clips(2), progress=False)


def test_a_tokenizer_giving_ids_outside_its_vocabulary_is_refused(tmp_path):
    class OffByOne(ArrayTokenizer):
        def encode(self, raw, *, meta):
            return super().encode(raw, meta=meta) + 1  # the top bin becomes id 16 of 0..15

    vocab = Vocabulary("speech", 16)
    speech = attrs.evolve(array_modality("speech", 16, phrase="speech audio"), tokenizer=lambda path: OffByOne(vocab))
    registry = make_registry(("toy", ToyPlugin(speech, array_modality("expression", 32, phrase="facial expression"))),
                             ("suite", SuitePlugin(SUITE)), with_byte_text=True)
    data = []
    for c in clips(4):
        speech = c["speech"].copy()
        speech[0] = 0.999  # a top-bin value in every clip
        data.append(c.with_values(speech=speech))
    with pytest.raises(VocabError, match=r"vocabulary 'speech': local id 16 is outside 0..15"):
        Trainer(config(tmp_path), registry, clips=data, progress=False)
