"""Hook implementations: the entry point `paper` in group `archon` points here.

The paper's content, entering the framework the way any third party's does: the task suite
`archon72` (Table G), the named and editing chains, Tables 1-3 with their evaluation defaults,
the demo and the `cpu-reference` recipe.
"""

from __future__ import annotations

from archon_framework import hookimpl

from archon_paper._chains import CHAINS, EDITING_CHAINS
from archon_paper._demo import DEMO, RECIPES
from archon_paper._suites import archon72
from archon_paper._tables import EVAL_DEFAULTS, TABLES


@hookimpl
def archon_task_suites():
    return [archon72()]


@hookimpl
def archon_chains():
    return [*CHAINS, *EDITING_CHAINS]


@hookimpl
def archon_eval_tables():
    return list(TABLES)


@hookimpl
def archon_eval_defaults():
    return [EVAL_DEFAULTS]


@hookimpl
def archon_demos():
    return [DEMO]


@hookimpl
def archon_recipes():
    return list(RECIPES)
