"""The paper's task suite `archon72`: Table G of the supplementary, exactly."""

from __future__ import annotations

from archon_framework import Slot, Task, TaskSuite

__all__ = ["archon72", "TABLE_G"]

# Table G of the supplementary, row by row: output slot, then its input combinations, in the
# paper's order and with its abbreviations (desc, id, expr) expanded.
TABLE_G: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("script(c)", (
        "description(t)", "script(p)", "speech(c)", "expression(c)", "semantic(c)",
    )),
    ("speech(c)", (
        "description(t)", "description(t)+script(c)", "script(c)", "script(c)+speech(p)", "speech(p)",
        "script(c)+image(t)", "script(c)+semantic(c)", "script(c)+speech(p)+semantic(c)",
        "identity(t)+expression(c)", "semantic(c)", "script(c)+identity(t)",
    )),
    ("image(t)", (
        "description(t)", "speech(c)", "identity(t)", "identity(t)+expression(t)+pose(t)",
        "description(t)+identity(t)+expression(t)+pose(t)",
    )),
    ("identity(t)", (
        "description(t)", "description(t)+script(c)+speech(c)", "speech(c)", "image(t)",
    )),
    ("expression(c)", (
        "description(t)", "description(t)+script(c)+speech(c)+image(t)+identity(t)", "script(c)",
        "script(c)+speech(c)+identity(t)", "speech(c)", "speech(c)+identity(t)",
        "speech(c)+identity(t)+image(t)", "speech(c)+image(t)", "semantic(c)", "expression(p)+speech(c)",
    )),
    ("pose(c)", (
        "description(t)", "speech(c)", "speech(c)+identity(t)+expression(c)",
        "speech(c)+expression(c)+image(t)", "speech(c)+identity(t)+expression(c)+image(t)",
        "image(t)+identity(t)+expression(c)", "image(t)+expression(c)", "identity(t)+expression(c)",
        "semantic(c)",
    )),
    ("semantic(c)", (
        "description(t)", "description(t)+script(c)", "description(t)+script(c)+speech(c)",
        "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)",
        "description(t)+image(t)",
        "description(t)+script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)",
        "script(c)", "script(c)+image(t)",
        "script(c)+speech(c)+identity(t)+expression(c)+pose(c)+image(t)",
        "speech(c)", "speech(c)+identity(t)+expression(c)+pose(c)",
        "speech(c)+identity(t)+expression(c)+pose(c)+image(t)", "speech(c)+image(t)",
        "speech(c)+expression(c)+pose(c)+image(t)", "image(t)", "image(t)+identity(t)+expression(c)+pose(c)",
        "image(t)+expression(c)+pose(c)", "image(t)+expression(c)", "identity(t)+expression(c)+pose(c)",
        "semantic(p)", "semantic(p)+speech(c)", "semantic(p)+expression(c)+pose(c)",
    )),
    ("description(t)", (
        "speech(c)", "image(t)+semantic(c)+speech(c)", "image(t)+semantic(c)+speech(c)+script(c)",
        "image(t)", "image(t)+semantic(c)", "identity(t)+expression(c)+pose(c)",
    )),
)


def _slot(text: str) -> Slot:
    name, state = text.rstrip(")").split("(")
    return Slot(name, state)


def archon72() -> TaskSuite:
    """The 72 tasks of the paper's Table G, in its order, with uniform weights."""
    tasks = []
    for output, combos in TABLE_G:
        out = _slot(output)
        for combo in combos:
            tasks.append(Task(tuple(_slot(s) for s in combo.split("+")), out))
    return TaskSuite("archon72", tuple(tasks))
