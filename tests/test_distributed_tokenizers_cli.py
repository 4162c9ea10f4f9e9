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
