"""archon-paper's content is consistent: every chain step it names is a Table G task, its tables,
evaluation defaults, demo and recipe refer to what it provides, and it loads through its hooks."""

from __future__ import annotations

import pytest

from archon_framework import Chain, EditingChain, load_registry
from archon_framework.infer import load_recipe, plan_chain
from archon_framework.testing import make_registry

from archon_paper import (
    CHAINS,
    DEMO,
    EDITING_CHAINS,
    EVAL_DEFAULTS,
    EVAL_TASKS,
    RECIPES,
    TABLES,
    _plugin,
    archon72,
)

TABLE_G = archon72()
#: Every modality the paper names, and the one it renders (video, from semantic + image + description).
PAPER_MODALITIES = {"script", "description", "speech", "image", "identity", "expression", "pose", "semantic", "video"}


def _lm_steps(chain: Chain):
    return [step for step in chain.steps if step.inputs is not None]


def test_the_plugin_alone_loads_every_kind_of_content_without_failures():
    reg = make_registry(("paper", _plugin))
    assert not reg.failures
    assert list(reg.suites) == ["archon72"] and len(reg.suites["archon72"]) == 72
    assert tuple(reg.chains.values()) == CHAINS and tuple(reg.editing_chains.values()) == EDITING_CHAINS
    assert tuple(reg.eval_tables.values()) == TABLES
    assert reg.eval_default() == EVAL_DEFAULTS and reg.demo() == DEMO
    assert tuple(reg.recipes.values()) == RECIPES


@pytest.mark.parametrize("chain", [*CHAINS, *(e.chain for e in EDITING_CHAINS),
                                   *(row.chain for t in TABLES for row in t.rows)], ids=lambda c: c.name)
def test_every_spelled_out_step_is_a_table_g_task_and_only_video_is_rendered(chain):
    tasks = {(frozenset(t.inputs), t.output) for t in TABLE_G.tasks}
    for step in _lm_steps(chain):
        assert (frozenset(step.inputs), step.output) in tasks, f"{chain.name}: {step} is not in Table G"
    assert {s.output.modality for s in chain.steps if s.inputs is None} <= {"video"}
    assert {s.modality for s in (*chain.conditions, *chain.outputs)} <= PAPER_MODALITIES


def test_the_tables_defaults_and_demo_name_what_the_plugin_provides():
    names = {c.name for c in CHAINS}
    assert set(EVAL_DEFAULTS.control_chains) <= names and EVAL_DEFAULTS.guidance_chain in names
    assert EVAL_DEFAULTS.guidance_table in {t.name for t in TABLES}
    assert {c for c, _, _ in DEMO.chains} <= names and DEMO.suite == TABLE_G.name
    assert set(EVAL_TASKS) <= {t.name for t in TABLE_G.tasks}
    for chain_name, conditions, _ in DEMO.chains:
        chain = next(c for c in CHAINS if c.name == chain_name)
        assert {s.modality for s in chain.conditions} <= set(conditions)
    for table in TABLES:
        assert table.columns and set(table.proxies) <= set(table.columns) and table.install


def test_the_editing_chains_edit_what_they_do_not_regenerate():
    for echain in EDITING_CHAINS:
        assert isinstance(echain, EditingChain) and echain.edits
        assert not set(echain.edits) & set(echain.regenerates)
        assert {s.modality for s in echain.chain.conditions} >= set(echain.edits)


def test_the_named_chains_plan_against_table_g_with_the_built_in_modalities():
    registry = load_registry()
    if not PAPER_MODALITIES <= set(registry.modalities):
        pytest.skip(f"built-in plugins not all installed: {sorted(PAPER_MODALITIES - set(registry.modalities))}")
    for chain in CHAINS:
        plan = plan_chain(chain, modalities=registry.modalities, suite=TABLE_G, given=chain.conditions)
        assert [p.output for p in plan] == list(chain.outputs)


def test_the_cpu_reference_recipe_is_packaged_and_names_the_paper_chains():
    reg = make_registry(("paper", _plugin))
    (recipe_file,) = RECIPES
    assert recipe_file.path.read_text().startswith("# The CPU reference recipe")
    recipe = load_recipe(recipe_file.name, reg)
    assert set(recipe.demo["chains"]) == {c.name for c in CHAINS}


def test_the_demo_decodes_only_text_outputs_greedily():
    assert set(DEMO.greedy_for) <= {"description", "script"}
