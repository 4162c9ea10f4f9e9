"""Plugin loading: guarded imports, blocking, provenance, conflicts, hook errors."""

from __future__ import annotations

import types
import warnings

import attrs
import pytest

from archon_framework import (
    Modality, PluginError, RawSpec, UntrainedDefaultWarning, Vocabulary, hookimpl, load_registry,
)
from archon_framework.testing import make_registry

from archon_paper import _plugin as paper

from core_toys import ToyPlugin, array_modality


def test_the_core_ships_no_content_the_paper_comes_through_its_hooks():
    empty = make_registry()
    assert not (empty.plugins or empty.suites or empty.chains or empty.editing_chains or empty.eval_tables
                or empty.demos or empty.recipes)
    reg = make_registry(("paper", paper))
    assert "archon72" in reg.suites and len(reg.suites["archon72"]) == 72
    assert {"speech-to-video", "text-to-all"} <= set(reg.chains) and "edit-script" in reg.editing_chains
    assert list(reg.eval_tables) == ["table1", "table2", "table3"] and "cpu-reference" in reg.recipes
    assert reg.demo().suite == "archon72" and reg.providers.get("speech-to-video") is None


def test_plugins_register_through_pluggy_with_provenance(toy_registry):
    assert set(toy_registry.modalities) == {"speech", "expression", "image", "script"}
    assert toy_registry.providers["speech"].name == "toy"
    layout = toy_registry.layout()
    assert layout.range("text").start == 0


def test_failing_import_is_reported_not_raised():
    def boom():
        raise ImportError("no module named torch_magic")

    # An object whose hook raises at call time, and one whose module fails at load time.
    class Broken:
        @hookimpl
        def archon_modalities(self):
            raise RuntimeError("checkpoint missing")

    reg = load_registry(plugins=[("paper", paper), ("broken", Broken())], entry_points=False, blocked=())
    assert [(f.plugin.name, f.stage) for f in reg.failures] == [("broken", "archon_modalities")]
    assert "checkpoint missing" in reg.failures[0].error
    assert "archon72" in reg.suites  # the rest still loads


def test_wrong_return_type_is_reported():
    class Wrong:
        @hookimpl
        def archon_modalities(self):
            return ["speech"]

    reg = load_registry(plugins=[("wrong", Wrong())], entry_points=False, blocked=())
    assert reg.failures and "expected Modality" in reg.failures[0].error


def test_misspelled_hook_is_reported_by_name():
    mod = types.ModuleType("misspelled")
    mod.archon_modalitys = hookimpl(lambda: [])
    reg = load_registry(plugins=[("misspelled", mod)], entry_points=False, blocked=())
    assert reg.failures[0].stage == "register" and "archon_modalitys" in reg.failures[0].error


def test_duplicate_modality_leaves_both_out_and_reports_both():
    a = ToyPlugin(array_modality("speech", 4))
    b = ToyPlugin(array_modality("speech", 4, phrase="other"))
    c = ToyPlugin(array_modality("expression", 4))
    reg = make_registry(("paper", paper), ("a", a), ("b", b), ("c", c))  # no exception: issue 28, defect 4
    assert "speech" not in reg.modalities and "expression" in reg.modalities
    assert sorted(f.plugin.name for f in reg.conflicts) == ["a", "b"]
    for f in reg.conflicts:
        assert "modality 'speech' is declared twice" in f.error and "(a)" in f.error and "(b)" in f.error
    assert [p.name for p in reg.plugins if p.name in "abc"] == ["c"]
    assert "archon72" in reg.suites  # the rest still loads


def test_duplicate_phrase_or_vocabulary_size_conflicts():
    reg = make_registry(("a", ToyPlugin(array_modality("x", 4, phrase="p"))), ("b", ToyPlugin(array_modality("y", 4, phrase="p"))))
    assert {"x", "y"}.isdisjoint(reg.modalities)
    assert len(reg.conflicts) == 2 and "same prompt phrase 'p'" in reg.conflicts[0].error
    m1 = array_modality("x", 4)
    m2 = Modality(name="y", vocabulary=Vocabulary("x", 5), temporal=True, phrase="y", raw=RawSpec(kind="text"),
                  num_tokens=lambda meta: 1, tokenizer=lambda p: None)
    reg = make_registry(("a", ToyPlugin(m1)), ("b", ToyPlugin(m2)))
    assert {"x", "y"}.isdisjoint(reg.modalities)
    assert "vocabulary 'x' has size 4 for modality 'x' but 5 for 'y'" in reg.conflicts[1].error


def test_a_suite_claimed_twice_leaves_both_plugins_out_naming_both():
    from archon_framework import TaskSuite

    from core_toys import SuitePlugin

    archon72 = make_registry(("paper", paper)).suites["archon72"]
    reg = make_registry(("paper", paper), ("copycat", SuitePlugin(TaskSuite("archon72", archon72.tasks[:3]))))
    assert "archon72" not in reg.suites and not reg.chains  # the paper's chains go with it
    assert sorted(f.plugin.name for f in reg.conflicts) == ["copycat", "paper"]
    assert all("task suite 'archon72' is declared twice" in f.error and "(paper)" in f.error and "(copycat)" in f.error
               for f in reg.conflicts)


_ROGUE = """
from archon_framework import Modality, RawSpec, Vocabulary, hookimpl

@hookimpl
def archon_modalities():
    vocab = Vocabulary("rogue", 8)
    return [Modality(name="speech", vocabulary=vocab, temporal=True, phrase="rogue speech",
                     raw=RawSpec(kind="text"), num_tokens=lambda meta: 1, tokenizer=lambda path: None)]
"""

_RUN_CLI = """
import importlib.metadata as md, json
from typer.testing import CliRunner
from archon_framework import _plugins
real = _plugins._entry_points
_plugins._entry_points = lambda: real() + [md.EntryPoint(name="rogue", value="rogue_speech", group="archon")]
import archon_framework.cli as cli
out = {}
for args in (["list-modalities", "--json"], ["list-tasks", "--json"]):
    result = CliRunner().invoke(cli.app, args)
    out[args[0]] = {"code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}
print(json.dumps(out))
"""


def test_a_conflicting_package_does_not_take_the_cli_down(tmp_path):
    """Issue 28, defect 4: the real CLI with the real plugins plus one claiming "speech"."""
    import json
    import os
    import subprocess
    import sys

    (tmp_path / "rogue_speech.py").write_text(_ROGUE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("ARCHON_DISABLE_PLUGINS", None)
    proc = subprocess.run([sys.executable, "-c", _RUN_CLI], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout.splitlines()[-1])
    listed, tasks = runs["list-modalities"], runs["list-tasks"]
    assert listed["code"] == 0, listed["stderr"]
    data = json.loads(listed["stdout"])
    conflicts = [f for f in data["failures"] if f["stage"] == "conflict"]
    assert "rogue" in {f["plugin"] for f in conflicts} and len(conflicts) == 2
    assert all("modality 'speech' is declared twice" in f["error"] for f in conflicts)
    names = {r["modality"] for r in data["modalities"]}
    assert "speech" not in names and "script" in names  # both left out, the rest listed
    assert tasks["code"] == 0, tasks["stderr"]
    assert "speech" in json.loads(tasks["stdout"])["missing_modalities"]


def test_blocking_by_name_and_by_environment(monkeypatch):
    plugin = ToyPlugin(array_modality("speech", 4))
    reg = load_registry(plugins=[("toy", plugin)], entry_points=False, blocked=["toy"])
    assert "speech" not in reg.modalities and reg.blocked == ("toy",)
    monkeypatch.setenv("ARCHON_DISABLE_PLUGINS", "toy, other")
    reg = load_registry(plugins=[("toy", plugin)], entry_points=False)
    assert "speech" not in reg.modalities


def test_installed_entry_points_load_without_crashing():
    reg = load_registry()  # whatever is installed: failures are data, never exceptions
    for f in reg.failures:
        assert f.plugin.name and f.error


def test_malformed_entry_point_is_reported(monkeypatch):
    import importlib.metadata as md

    from archon_framework import _plugins

    bad = md.EntryPoint(name="bad", value="not a module path::", group="archon")
    monkeypatch.setattr(_plugins, "_entry_points", lambda: [bad])
    reg = load_registry(blocked=())
    assert [f.plugin.name for f in reg.failures] == ["bad"] and reg.failures[0].stage == "import"


def test_text_codec_and_tokenizer_lookup(toy_registry, tmp_path):
    codec = toy_registry.text_codec()
    assert codec.decode_text(codec.encode_text("héllo")) == "héllo"
    assert toy_registry.tokenizer("speech", tmp_path).vocabulary.size == 16
    with pytest.raises(Exception, match="'lidar' is not installed"):
        toy_registry.modality("lidar")


def test_a_dangling_tokenizer_link_is_refused_not_replaced_by_an_untrained_tokenizer(toy_registry, tmp_path):
    """A trained tokenizer linked into a run folder that moved: the link names it, nothing falls back."""
    (tmp_path / "speech").symlink_to(tmp_path / "moved" / "speech", target_is_directory=True)
    with pytest.raises(PluginError, match=r"modality 'speech'.*is a link to .*moved.*does not exist"):
        toy_registry.tokenizer("speech", tmp_path)
    assert toy_registry.tokenizer("image", tmp_path) is not None  # an absent entry still means "the default"


def test_an_artifacts_folder_without_a_trainable_tokenizer_says_the_default_is_untrained(tmp_path):
    """A folder that lacks the tokenizer of a modality with a trainer: the untrained default, said once."""
    trainable = attrs.evolve(array_modality("speech", 16, phrase="speech audio"), trainer=lambda *a, **k: {})
    reg = make_registry(("toy", ToyPlugin(trainable)), with_byte_text=True)
    with pytest.warns(UntrainedDefaultWarning, match=r"modality 'speech' \(plugin toy.*holds no trained tokenizer"):
        reg.tokenizer("speech", tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.tokenizer("speech", tmp_path)  # said once per folder
        reg.tokenizer("speech")  # no folder given: the default is what was asked for


def test_a_hook_returning_a_string_is_one_failure_not_one_per_character():
    """Issue 28, defect 6."""
    class Stringy:
        @hookimpl
        def archon_modalities(self):
            return "speech"

    reg = load_registry(plugins=[("stringy", Stringy())], entry_points=False, blocked=())
    assert len(reg.failures) == 1
    assert reg.failures[0].stage == "archon_modalities" and "returned str 'speech', expected a list" in reg.failures[0].error
