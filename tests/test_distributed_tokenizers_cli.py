"""`archon train-tokenizer` (issue 23): one modality's tokenizer trained by its plugin's trainer,
joining a multi-process run by the same options as `archon train` (one declaration of them);
bad settings are refused before anything runs."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import archon_framework.cli as cli

CLUSTER_FLAGS = ("--coordinator", "--num-processes", "--process-id", "--heartbeat-timeout", "--distributed")


def _invoke(*args: str):
    return CliRunner().invoke(cli.app, list(args))


def _option_lines(command: str) -> dict[str, str]:
    """Each cluster flag's help text in `archon COMMAND --help` (whitespace folded)."""
    text = re.sub(r"[│╭╮╰╯─]", " ", _invoke(command, "--help").output)
    text = " ".join(text.split())
    found = {}
    for flag in CLUSTER_FLAGS:
        at = text.find(flag + " ")
        assert at >= 0, (flag, text)
        found[flag] = text[at: at + 60]
    return found


def test_train_tokenizer_takes_the_cluster_options_of_train():
    assert _option_lines("train-tokenizer") == _option_lines("train")


@pytest.mark.parametrize("flags, message", [
    (["--coordinator", "h:1", "--process-id", "0"], "missing --num-processes"),
    (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"], "--process-id 2: must lie in 0..1"),
])
def test_train_tokenizer_refuses_bad_cluster_flags(tmp_path, flags, message):
    result = _invoke("train-tokenizer", "--modality", "expression", "--data", str(tmp_path), "--out",
                     str(tmp_path / "out"), *flags)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_train_tokenizer_names_a_modality_it_cannot_train(tmp_path):
    result = _invoke("train-tokenizer", "--modality", "smell", "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "--modality 'smell': not installed" in result.output, result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_archon_launch_trains_a_tokenizer_on_2_processes(tmp_path):
    """`archon launch --local 2 -- train-tokenizer ...`: both processes join one run, train the
    identity tokenizer data-parallel, and process 0 writes it."""
    from archon_flame_rvq import FlameTokenizer, synthetic_flame_clips

    from archon_framework.data import write_dataset
    from archon_framework.train import LocalLaunch
    from archon_framework.train._launch import archon_command

    data = write_dataset(tmp_path / "data", synthetic_flame_clips(3, seconds=0.5, seed=0), name="flame",
                         static={"identity": True})
    out = tmp_path / "identity"
    command = archon_command(["train-tokenizer", "--modality", "identity", "--data", str(data), "--out", str(out),
                              "--steps", "2", "--no-progress"])
    launch = LocalLaunch(command, 2, devices_per_process=1, env={"JAX_PLATFORMS": "cpu"}, output=None)
    result = launch.wait(grace_s=60, timeout_s=900)
    assert result.ok, launch.output(0)[-3000:] + launch.output(1)[-3000:]
    assert "trained the identity tokenizer on 2 processes" in " ".join(launch.output(0).split())
    assert "trained the identity tokenizer" not in launch.output(1)  # process 0 alone reports and writes
    assert FlameTokenizer.load(out).config.modality == "identity"
