"""What plugins provide for evaluation, the demo and recipes: tables, defaults, demo specs, recipes.

The framework runs `archon eval`, `archon demo` and `archon pretrain`; which chains they run, from
which datasets, scored by which metrics, comes from the installed plugins through the hooks
`archon_eval_tables()`, `archon_eval_defaults()`, `archon_demos()` and `archon_recipes()` (the
paper's Tables 1-3, its demo and its CPU recipe are archon-paper's). The core names none of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from archon_framework._chains import Chain
from archon_framework._errors import ConfigError

__all__ = ["DemoSpec", "EvalDefaults", "EvalRow", "EvalTable", "RecipeFile", "guidance_table", "merge_defaults",
           "select_tables"]

Models = Literal["unified", "experts", "ground-truth"]


@attrs.frozen
class EvalRow:
    """One row of a table: a chain run on every held-out clip by one kind of model.

    Attributes:
        label: the row's name in the report.
        chain: the chain; its conditions are taken from the held-out clip.
        models: "unified" (the checkpoint), "experts" (each step by the expert of its output),
            or "ground-truth" (the held-out clip's own values: the best the metrics can give).
        note: a caveat printed with the row.
    """

    label: str
    chain: Chain
    models: Models = "unified"
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """Rows with the same key are one run (Table 1's row is Table 3's full model)."""
        return (self.chain.name, self.models)


def _to_rows(value: Iterable[EvalRow]) -> tuple[EvalRow, ...]:
    return tuple(value)


def _to_strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class EvalTable:
    """A report table (``archon eval --suite NAME``), provided by a plugin's `archon_eval_tables()`.

    Attributes:
        name: the ``--suite`` name (``table1``).
        title: its heading.
        paper: what it is the analogue of in the paper.
        rows: its rows.
        columns: the metric keys shown first, in this order (every other metric the rows
            produce follows); also what the missing-metrics check looks for.
        install: the distributions that provide ``columns``, for error messages.
        proxies: the columns that are hand-made proxies (secondary; the others are main).
        compare_to: the label of the row every other model row is compared with clip by clip
            (paired differences with 95% intervals; Table 3's "full model"), or None.
    """

    name: str
    title: str
    paper: str
    rows: tuple[EvalRow, ...] = attrs.field(converter=_to_rows)
    columns: tuple[str, ...] = attrs.field(converter=_to_strs)
    install: str = ""
    proxies: tuple[str, ...] = attrs.field(default=(), converter=_to_strs)
    compare_to: str | None = None

    def __attrs_post_init__(self) -> None:
        labels = [r.label for r in self.rows]
        if self.compare_to is not None and self.compare_to not in labels:
            raise ConfigError(f"eval table {self.name!r}: compare_to {self.compare_to!r} is not one of its rows "
                              f"({', '.join(map(repr, labels))})")


@attrs.frozen(kw_only=True)
class EvalDefaults:
    """What `archon eval` does when its options are left out, provided by `archon_eval_defaults()`.

    Attributes:
        name: unique name (the duplicate rule of every hook applies).
        control_chains: the chains whose every step is compared with its shuffled-condition
            control (``--control-chain`` overrides).
        main_metrics: output modality -> the metric key (``metric`` or ``metric.key``) its
            controls and the demo's "vs ground truth" line use.
        heldout_dataset: the dataset that generates held-out clips (``--dataset``).
        guidance_chain: the chain ``--guidance-scale`` runs at each scale.
        guidance_table: the table whose columns the guidance table shows.
    """

    name: str
    control_chains: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    main_metrics: Mapping[str, str] = attrs.field(factory=dict, converter=dict)
    heldout_dataset: str | None = None
    guidance_chain: str | None = None
    guidance_table: str | None = None


@attrs.frozen(kw_only=True)
class DemoSpec:
    """A demo `archon demo` and `archon pretrain` can run, provided by `archon_demos()`.

    Attributes:
        name: unique name.
        chains: ``(chain name, condition modalities read from the held-out clip, column title)``
            per page column, in order.
        suite: the task suite the demo's LM tasks are drawn from (each chain step's task and
            `eval_tasks` must be in it; a recipe's ``extra_tasks`` may also name others).
        eval_tasks: tasks trained besides the chains' steps (so ``archon eval`` can run).
        dataset, heldout_dataset: the datasets of the training and held-out clips.
        rows: the page's row order (modality names; empty: every installed modality by name).
        sheet: the modalities of the contact sheet's rows (outputs written as images or GIFs).
        model: the shipped model ``archon demo`` runs by default (``archon list-models``).
        greedy_for: output modalities the demo's chains decode greedily (`Sampling.greedy_for`;
            e.g. a JSON description that one sampled token can break).
    """

    name: str
    chains: tuple[tuple[str, tuple[str, ...], str], ...] = attrs.field(
        converter=lambda v: tuple((str(c), tuple(conds), str(t)) for c, conds, t in v))
    suite: str
    eval_tasks: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    dataset: str
    heldout_dataset: str
    rows: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    sheet: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    model: str | None = None
    greedy_for: tuple[str, ...] = attrs.field(default=(), converter=_to_strs)


@attrs.frozen(kw_only=True)
class RecipeFile:
    """A recipe's TOML (``archon pretrain --recipe NAME``), provided by `archon_recipes()`.

    Attributes:
        name: the recipe's name.
        path: the file (``importlib.resources.files(...) / "NAME.toml"`` works too).
        description: one line for listings.
    """

    name: str
    path: Any = attrs.field(converter=lambda p: p if hasattr(p, "read_text") else Path(p))
    description: str = ""


def merge_defaults(defaults: Iterable[EvalDefaults]) -> EvalDefaults:
    """The installed defaults as one: each field from the first that sets it (in load order);
    ``main_metrics`` merged, the first plugin's choice for a modality winning."""
    merged: dict[str, Any] = {"name": "+".join(d.name for d in defaults) or "none", "main_metrics": {}}
    for d in defaults:
        for field in ("control_chains", "heldout_dataset", "guidance_chain", "guidance_table"):
            if not merged.get(field) and getattr(d, field):
                merged[field] = getattr(d, field)
        for modality, metric in d.main_metrics.items():
            merged["main_metrics"].setdefault(modality, metric)
    return EvalDefaults(**merged)


def select_tables(suite: str, tables: Sequence[EvalTable]) -> tuple[EvalTable, ...]:
    """The tables of ``--suite``: one name, several joined by ``,``, or ``all``.

    Raises:
        ConfigError: an unknown name, or no table installed (the message lists the known ones).
    """
    by_name = {t.name: t for t in tables}
    if not by_name:
        raise ConfigError("no evaluation table is installed: install archon-paper or a plugin whose "
                          "archon_eval_tables() provides one")
    names = [n.strip() for n in suite.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"--suite is empty; choose {', '.join(by_name)} or all")
    if "all" in names:
        return tuple(tables)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(f"unknown --suite {', '.join(map(repr, unknown))}; choose {', '.join(by_name)} or all")
    return tuple(by_name[n] for n in dict.fromkeys(names))


def guidance_table(scales: Sequence[float], chain: Chain, like: EvalTable | None = None) -> EvalTable:
    """``chain`` with every LM step guided at each scale ``w`` (classifier-free guidance,
    ``logits = cond + w (cond - uncond)``; 0 is unguided decoding, exactly), one row per scale,
    with the columns of the table ``like``."""
    rows = []
    for w in scales:
        steps = tuple(attrs.evolve(s, guidance=float(w)) if s.inputs is not None else s for s in chain.steps)
        guided = Chain(f"{chain.name}@guidance={float(w):g}", chain.conditions, steps, chain.optional,
                       f"{chain.description} (guidance {float(w):g})")
        rows.append(EvalRow(f"guidance w = {float(w):g}", guided))
    return EvalTable(name="guidance", title=f"Classifier-free guidance: {chain.name} at each scale",
                     paper="the guided decoding of Chameleon / Emu3 / Janus (not a table of the paper)",
                     rows=tuple(rows), columns=like.columns if like else (), install=like.install if like else "",
                     proxies=like.proxies if like else ())
