"""`evaluate`: run the rows of the paper's tables on held-out clips and score them."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs

from archon_framework._clip import Clip
from archon_framework._errors import ConfigError, PluginError, TaskError
from archon_framework._registry import Metric
from archon_framework._stats import paired_interval
from archon_framework.eval._run import ChainRun, ExpertModels, ground_truth_run, prepare_chain, run_chain
from archon_framework.eval._score import MetricScores, combine_seeds, score_predictions
from archon_framework._showcase import EvalRow, EvalTable
from archon_framework.infer._model import LoadedModel
from archon_framework.model import Sampling

__all__ = ["RowResult", "RowComparison", "TableResult", "EvalResult", "check_metrics", "compare_rows", "evaluate"]


@attrs.frozen(eq=False)
class RowResult:
    """One row of a table, scored (or skipped).

    Attributes:
        row: the row.
        status: "ok" or "skipped" (see reason).
        reason: why it was skipped.
        signature: the chain as run, e.g. ``{speech(c), image(t)} -> [identity(t), ...]``.
        steps: the planned steps (task names, rendered and given steps).
        scores: its metric scores (None when skipped); over several sampling seeds, a clip's
            score is its mean over them (`combine_seeds`).
        clips: clips run; valid: output modality -> runs (clips x seeds) with a valid value.
        seconds: generation wall time, every seed together.
        notes: what went wrong or was left out, as (clip id or "", where, text).
        seeds: sampling seeds each clip ran with (1 for the ground truth).
        per_seed: with several seeds, each seed's means over the clips (its spread).
    """

    row: EvalRow
    status: Literal["ok", "skipped"]
    reason: str = ""
    signature: str = ""
    steps: tuple[str, ...] = ()
    scores: MetricScores | None = None
    clips: int = 0
    valid: Mapping[str, int] = attrs.field(factory=dict)
    seconds: float = 0.0
    notes: tuple[tuple[str, str, str], ...] = ()
    seeds: int = 1
    per_seed: tuple[Mapping[str, float], ...] = ()


@attrs.frozen
class RowComparison:
    """A table's reference row (``EvalTable.compare_to``) against another row on one metric,
    clip by clip: the mean difference, signed so that positive favours the reference row,
    and its 95% paired bootstrap interval over the clips where both rows have a score."""

    row: str
    against: str
    metric: str
    higher_is_better: bool
    n: int
    difference: float
    ci95: tuple[float, float]

    @property
    def favours(self) -> str | None:
        """The row the interval favours, or None when it includes zero."""
        lo, hi = self.ci95
        return self.against if lo > 0 else self.row if hi < 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "ci95": list(self.ci95), "favours": self.favours}


@attrs.frozen(eq=False)
class TableResult:
    table: EvalTable
    rows: tuple[RowResult, ...]
    comparisons: tuple[RowComparison, ...] = ()

    def keys(self) -> list[str]:
        """Every metric key of its rows: the table's columns first, then the rest by name."""
        have = {k for r in self.rows if r.scores is not None for k in r.scores.values()}
        return [c for c in self.table.columns if c in have] + sorted(have - set(self.table.columns))

    def shown_keys(self) -> list[str]:
        """`keys` less the other parts of a column's metric (``description_attribute_f1.recall``
        when the column is its ``.f1``): what the Markdown table and the plot show."""
        keys = self.keys()
        chosen = {k.split(".", 1)[0] for k in keys if k in self.table.columns and "." in k}
        return [k for k in keys if k in self.table.columns or k.split(".", 1)[0] not in chosen]


@attrs.frozen(eq=False)
class EvalResult:
    """Every table's rows, the metrics that scored them, and the run's settings (for reports)."""

    tables: tuple[TableResult, ...]
    metrics: Mapping[str, Metric]
    info: Mapping[str, Any] = attrs.field(factory=dict)
    notes: tuple[str, ...] = ()
    controls: tuple[Any, ...] = ()  # eval._controls.StepControl: each chain step against its shuffled control


def check_metrics(tables: Sequence[EvalTable], metrics: Mapping[str, Metric]) -> list[str]:
    """Refuse to evaluate without metrics; name the ones that are missing.

    Raises:
        PluginError: no installed metric scores any output of a table's chains (the message
            names the metrics it expects and the distributions to install).

    Returns:
        Notes naming each table's columns that are not installed.
    """
    notes = []
    for table in tables:
        outputs = {s.output.modality for r in table.rows for s in r.chain.steps}
        if not any(set(m.modalities) & outputs for m in metrics.values()):
            raise PluginError(
                f"{table.name}: no installed metric scores {', '.join(sorted(outputs))} "
                f"(installed metrics: {', '.join(sorted(metrics)) or 'none'}); it expects "
                f"{', '.join(table.columns)}: install {table.install}"
            )
        missing = [c for c in table.columns if c.split(".", 1)[0] not in metrics]
        if missing:
            notes.append(f"{table.name}: not installed, so not reported: {', '.join(missing)} (install {table.install})")
    return notes


def _row_result(row: EvalRow, runs: Sequence[ChainRun], clips: Sequence[Clip], metrics: Mapping[str, Metric],
                notes: list[str]) -> RowResult:
    """One row from its run on each sampling seed (the same chain and clips)."""
    each = [score_predictions(metrics, run.predictions, clips) for run in runs]
    scores = combine_seeds(each)
    outputs = [s.output.modality for s in runs[0].chain.steps]
    valid = {m: sum(1 for run in runs for p in run.predictions if p is not None and m in p.produced and m not in p.invalid)
             for m in outputs}
    errors = [("", "metric", f"{k} (on {n} clip(s))") for k, n in scores.errors.items()]
    run_notes = tuple(dict.fromkeys(n for run in runs for n in run.notes))
    return RowResult(row=row, status="ok", signature=runs[0].chain.signature(), steps=tuple(map(str, runs[0].plan)),
                     scores=scores, clips=len(clips), valid=valid, seconds=sum(run.seconds for run in runs),
                     notes=tuple(("", "chain", n) for n in notes) + run_notes + tuple(errors), seeds=len(runs),
                     per_seed=tuple(s.values() for s in each) if len(each) > 1 else ())


def _run_row(row: EvalRow, model: LoadedModel, clips: Sequence[Clip], metrics: Mapping[str, Metric], *,
             experts: ExpertModels | None, sampling: Sampling, seed: int, seeds: int, max_text_tokens: int | None,
             skip: Sequence[str], on_clip: Callable[[int, int, float], None] | None) -> RowResult:
    use = experts if row.models == "experts" else None
    try:
        if row.models == "experts" and experts is None:
            raise TaskError("no experts were given (archon eval --experts DIR, or --train-experts)")
        chain, plan, why = prepare_chain(row.chain, model, skip=skip, experts=use)
    except TaskError as err:
        return RowResult(row=row, status="skipped", reason=str(err), signature=row.chain.signature())
    runs = [run_chain(chain, plan, clips, model=model, experts=use, sampling=sampling, seed=seed + k * len(clips),
                      max_text_tokens=max_text_tokens, on_clip=on_clip) for k in range(seeds)]
    return _row_result(row, runs, clips, metrics, why)


def compare_rows(table: EvalTable, rows: Sequence[RowResult], metrics: Mapping[str, Metric]) -> tuple[RowComparison, ...]:
    """``table.compare_to``'s row against every other scored model row, on each per-clip metric
    both have (`RowComparison`); nothing when the table names no reference or it was skipped."""
    by_label = {r.row.label: r for r in rows if r.status == "ok" and r.scores is not None}
    ref = by_label.get(table.compare_to or "")
    if ref is None or ref.scores is None:
        return ()
    shown = TableResult(table=table, rows=tuple(rows)).shown_keys()  # the report's columns, in its order
    out = []
    for label, other in by_label.items():
        if label == ref.row.label or other.row.models == "ground-truth" or other.scores is None:
            continue
        for key in [k for k in shown if k in ref.scores.mean and k in other.scores.mean]:
            metric = metrics.get(key.split(".", 1)[0])
            if metric is None:
                continue
            sign = 1.0 if metric.higher_is_better else -1.0
            diffs = [sign * (a[key] - b[key]) for a, b in zip(ref.scores.per_clip, other.scores.per_clip, strict=True)
                     if key in a and key in b and math.isfinite(a[key]) and math.isfinite(b[key])]
            if not diffs:
                continue
            mean, lo, hi = paired_interval(diffs)
            out.append(RowComparison(row=label, against=ref.row.label, metric=key, higher_is_better=metric.higher_is_better,
                                     n=len(diffs), difference=mean, ci95=(lo, hi)))
    return tuple(out)


def evaluate(
    model: LoadedModel,
    clips: Sequence[Clip],
    tables: Sequence[EvalTable],
    *,
    experts: ExpertModels | None = None,
    sampling: Sampling = Sampling(),
    seed: int = 0,
    seeds: int = 1,
    max_text_tokens: int | None = None,
    skip: Sequence[str] = (),
    metrics: Mapping[str, Metric] | None = None,
    info: Mapping[str, Any] | None = None,
    on_row: Callable[[EvalTable, EvalRow], None] | None = None,
    on_clip: Callable[[int, int, float], None] | None = None,
    reuse: Mapping[tuple[str, str], RowResult] | None = None,
) -> EvalResult:
    """Run every row of `tables` on `clips` and score it.

    Rows that run the same chain with the same kind of model (Table 1's row and Table 3's full
    model) are run once. A row whose chain cannot be planned (a task outside the trained
    suite, no trained expert, experts not given) is skipped with the reason.

    Args:
        model: the unified model (`load_checkpoint`).
        clips: the held-out clips (references; conditions are taken from them).
        tables: the tables (`select_tables`).
        experts: per-modality experts for rows with ``models="experts"``.
        sampling, seed: how tokens are drawn; clip ``i`` uses ``seed + i`` in every row.
        seeds: sampling seeds per clip: every model row runs ``seeds`` times, clip ``i`` with
            ``seed + k * len(clips) + i`` on its ``k``-th run (the first is the one-seed run),
            and a clip's score is its mean over them (the paper's Tab. 3 samples 3 seeds).
        max_text_tokens: a tighter budget for free-length text.
        skip: modalities to leave out of every chain (e.g. ``video`` to skip rendering).
        metrics: the metrics (default: the registry's).
        info: settings recorded in the report.
        reuse: rows already measured, by key (`rows_from_report`): taken as they are, not run.

    Raises:
        PluginError: no metric is installed for a table (`check_metrics`).
        ConfigError: ``seeds`` below 1.
    """
    if seeds < 1:
        raise ConfigError(f"evaluate: seeds must be >= 1, got {seeds}")
    metrics = dict(model.registry.metrics if metrics is None else metrics)
    notes = check_metrics(tables, metrics)
    done: dict[tuple[str, str], RowResult] = dict(reuse or {})
    out = []
    for table in tables:
        rows = []
        for row in table.rows:
            if row.key not in done:
                if on_row is not None:
                    on_row(table, row)
                if row.models == "ground-truth":
                    run = ground_truth_run(row.chain, clips, installed=list(model.registry.modalities), skip=skip)
                    done[row.key] = _row_result(row, [run], clips, metrics, [])
                else:
                    done[row.key] = _run_row(row, model, clips, metrics, experts=experts, sampling=sampling, seed=seed,
                                             seeds=seeds, max_text_tokens=max_text_tokens, skip=skip, on_clip=on_clip)
            rows.append(attrs.evolve(done[row.key], row=row))
        out.append(TableResult(table=table, rows=tuple(rows), comparisons=compare_rows(table, rows, metrics)))
    return EvalResult(tables=tuple(out), metrics=metrics, info=dict(info or {}), notes=tuple(notes))
