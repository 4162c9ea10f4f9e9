"""The evaluation report: a Markdown page, a JSON file and a PNG of the metrics per chain (matplotlib is
optional: without it the report has no plot and says so)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs

from archon_framework.config import atomic_write_text
from archon_framework.eval._evaluate import EvalResult, RowResult, TableResult

__all__ = ["PLOT_EXTRA", "chain_label", "plot_metrics", "report_json", "report_markdown", "write_report"]

_CAVEAT = (
    "Every metric here is a documented, weight-free formula over hand-made features (no Inception, "
    "I3D, SyncNet or speaker-verification network is downloaded), so no number is comparable to the "
    "paper's FID, FVD, Sync-C/D or C-SIM; they compare runs of this framework with each other. "
    "Frechet distances are set-level over the held-out clips and biased upwards on small sets."
)


def _num(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _fmt(x: float | None) -> str:
    if x is None:
        return "–"
    if not math.isfinite(x):
        return "nan"
    return f"{x:.4g}"


def _row_json(r: RowResult) -> dict[str, Any]:
    out: dict[str, Any] = {"label": r.row.label, "chain": r.row.chain.name, "models": r.row.models,
                           "signature": r.signature, "status": r.status}
    if r.row.note:
        out["note"] = r.row.note
    if r.status == "skipped":
        out["reason"] = r.reason
        return out
    assert r.scores is not None
    out.update({
        "steps": list(r.steps), "clips": r.clips, "valid_outputs": dict(r.valid), "seconds": round(r.seconds, 2),
        "metrics": {k: _num(v) for k, v in r.scores.values().items()},
        "stderr": {k: _num(v) for k, v in sorted(r.scores.stderr.items())},
        "counts": r.scores.counts(),
        "set_level": sorted(r.scores.set_level),
        "per_clip": [{k: _num(v) for k, v in s.items()} for s in r.scores.per_clip],
        "notes": [{"clip": c, "where": w, "text": t} for c, w, t in r.notes],
    })
    return out


def report_json(result: EvalResult, *, command: str = "") -> dict[str, Any]:
    """Everything in the report as JSON-able data (NaN and inf as null)."""
    used = sorted({k.split(".", 1)[0] for t in result.tables for k in t.keys()})
    return {
        "command": command,
        **{k: v for k, v in result.info.items()},
        "tables": [{"name": t.table.name, "title": t.table.title, "paper": t.table.paper, "columns": t.keys(),
                    "rows": [_row_json(r) for r in t.rows]} for t in result.tables],
        "metrics": {name: {"modalities": list(result.metrics[name].modalities),
                           "higher_is_better": result.metrics[name].higher_is_better,
                           "description": result.metrics[name].description}
                    for name in used if name in result.metrics},
        "notes": list(result.notes),
    }


def _arrow(result: EvalResult, key: str) -> str:
    metric = result.metrics.get(key.split(".", 1)[0])
    return "" if metric is None else ("↑" if metric.higher_is_better else "↓")


def _note_lines(r: RowResult) -> list[str]:
    """One line per place that went wrong: how many clips, and the first clip's message."""
    by_where: dict[str, list[tuple[str, str]]] = {}
    for clip, where, text in r.notes:
        by_where.setdefault(where, []).append((clip, text))
    lines = []
    for where, items in by_where.items():
        clips = list(dict.fromkeys(c for c, _ in items if c))
        if clips:
            first = next((c, t) for c, t in items if c)
            lines.append(f"  - {where}: {len(clips)} of {r.clips} clips, e.g. `{first[0]}`: {_md(first[1][:280])}")
        else:
            lines += [f"  - {where}: {_md(t[:280])}" for t in dict.fromkeys(t for _, t in items)]
    return lines


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or list item (no pipes, no line breaks)."""
    return text.replace("|", "\\|").replace("\n", " ")


def _table_md(result: EvalResult, t: TableResult) -> list[str]:
    lines = [f"## {t.table.title}", "", f"Analogue of the paper's {t.table.paper}.", ""]
    ok = [r for r in t.rows if r.status == "ok"]
    keys = t.shown_keys()
    if ok and keys:
        lines.append("| metric | | " + " | ".join(r.row.label for r in ok) + " |")
        lines.append("|---|:-:|" + "---:|" * len(ok))
        marked = False
        for key in keys:
            cells = []
            for r in ok:
                assert r.scores is not None
                values, counts = r.scores.values(), r.scores.counts()
                cell = _fmt(values.get(key))
                err = r.scores.stderr.get(key, math.nan)
                if math.isfinite(err):
                    cell += f" ± {err:.2g}"
                if key in r.scores.set_level:
                    cell, marked = cell + " †", True
                if key in counts and counts[key] < r.clips:
                    cell, marked = cell + f" ({counts[key]}/{r.clips})", True
                cells.append(cell)
            lines.append(f"| `{key}` | {_arrow(result, key)} | " + " | ".join(cells) + " |")
        lines.append("")
        if marked:
            lines += ["± standard error of the mean over clips; † set-level (one value over the clips); "
                      "(k/n): only k of the n clips gave a value.", ""]
    elif ok:
        lines += ["No installed metric applies to these outputs.", ""]
    for r in t.rows:
        who = {"experts": "per-modality experts", "unified": "unified model"}.get(r.row.models, r.row.models)
        lines.append(f"- **{r.row.label}** ({who}): "
                     f"`{r.signature}`" + (f". {r.row.note}" if r.row.note else ""))
        if r.status == "skipped":
            lines.append(f"  - skipped: {r.reason}")
            continue
        if r.row.models != "ground-truth":
            valid = ", ".join(f"{m} {n}/{r.clips}" for m, n in r.valid.items())
            lines.append(f"  - steps: {'; '.join(r.steps)}")
            lines.append(f"  - valid outputs: {valid}; generation {r.seconds:.0f} s for {r.clips} clips")
        lines += _note_lines(r)
    lines.append("")
    return lines


def report_markdown(result: EvalResult, *, command: str = "", title: str = "archon eval",
                    plot: str | None = None, setup: list[str] | None = None) -> str:
    """The report as Markdown: the command, the setup, each table, the metrics, the notes."""
    lines = [f"# {title}", ""]
    if command:
        lines += ["Produced by:", "", "```bash", command, "```", ""]
    if setup:
        lines += [f"- {s}" for s in setup] + [""]
    lines += [f"> {_CAVEAT}", ""]
    for t in result.tables:
        lines += _table_md(result, t)
    if plot:
        lines += [f"![metrics per chain]({plot})", ""]
    used = sorted({k.split(".", 1)[0] for t in result.tables for k in t.keys()})
    if used:
        lines += ["## Metrics", "", "| metric | better | what it is |", "|---|:-:|---|"]
        for name in used:
            m = result.metrics.get(name)
            if m is not None:
                lines.append(f"| `{name}` | {'higher' if m.higher_is_better else 'lower'} | {_md(m.description)} |")
        lines.append("")
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------- the plot
#: The extra that installs matplotlib.
PLOT_EXTRA = "pip install 'archon-framework[plot]' (matplotlib)"


def chain_label(chain: str, models: str) -> str:
    """How a run is named in the plot: the chain, marked ``(experts)`` or ``(ground truth)``."""
    return chain + {"experts": " (experts)", "ground-truth": " (ground truth)"}.get(models, "")


def _series(result: EvalResult) -> tuple[list[str], dict[str, dict[str, tuple[float, float]]]]:
    """Metric keys in report order, and key -> run label -> (value, standard error), each run
    once; a metric only the ground truth has a value for is left out (nothing to compare)."""
    keys: list[str] = []
    values: dict[str, dict[str, tuple[float, float]]] = {}
    generated: set[str] = set()
    for t in result.tables:
        for key in t.shown_keys():
            for r in t.rows:
                if r.scores is None:
                    continue
                v = r.scores.values().get(key)
                if v is not None and math.isfinite(v):
                    err = r.scores.stderr.get(key, math.nan)
                    values.setdefault(key, {})[chain_label(r.row.chain.name, r.row.models)] = (v, err)
                    if r.row.models != "ground-truth":
                        generated.add(key)
            if key in generated and key not in keys:
                keys.append(key)
    return keys, values


def plot_metrics(result: EvalResult, path: str | Path, *, columns: int = 4) -> tuple[Path | None, str]:
    """One bar chart per metric, one bar per chain run (with the standard error of per-clip
    metrics); returns (path, "") or (None, why not)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
    except ImportError:
        return None, f"matplotlib is not installed; {PLOT_EXTRA}"
    keys, values = _series(result)
    if not keys:
        return None, "no metric has a finite value to plot"
    labels = list(dict.fromkeys(label for k in keys for label in values[k]))
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    cols = min(columns, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(3.6 * cols, 0.6 + 2.3 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(rows, cols, i + 1)
        names = [label for label in labels if label in values[key]]
        errs = [values[key][n][1] for n in names]
        bars = ax.barh(range(len(names)), [values[key][n][0] for n in names], color=[colours[n] for n in names],
                       xerr=[e if math.isfinite(e) else 0.0 for e in errs], error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.bar_label(bars, fmt="%.4g", fontsize=7, padding=2)
        ax.margins(x=0.25)
        ax.set_yticks(range(len(names)), [""] * len(names))
        ax.invert_yaxis()
        metric = result.metrics.get(key.split(".", 1)[0])
        arrow = "" if metric is None else (" (higher is better)" if metric.higher_is_better else " (lower is better)")
        ax.set_title(key + "\n" + arrow.strip(), fontsize=8)
        ax.tick_params(labelsize=7)
    handles = [Patch(color=colours[label], label=label) for label in labels]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(labels)), fontsize=8)
    fig.suptitle("archon eval: metrics per chain", fontsize=10)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out, ""


# ---------------------------------------------------------------------- files
def write_report(result: EvalResult, out_dir: str | Path, *, name: str = "eval", command: str = "",
                 title: str = "archon eval", setup: list[str] | None = None,
                 plot: bool = True) -> dict[str, Path]:
    """Write ``NAME.md``, ``NAME.json`` and (with matplotlib) ``NAME.png`` to ``out_dir``.

    Returns the paths written. Without matplotlib the plot is left out and the report says so.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    notes = list(result.notes)
    if plot:
        png, why = plot_metrics(result, out / f"{name}.png")
        if png is not None:
            paths["png"] = png
        else:
            notes.append(f"no plot: {why}")
    result = attrs.evolve(result, notes=tuple(notes))
    data = report_json(result, command=command)
    if "png" in paths:
        data["plot"] = paths["png"].name
    paths["json"] = out / f"{name}.json"
    atomic_write_text(paths["json"], json.dumps(data, indent=2, allow_nan=False) + "\n")
    paths["md"] = out / f"{name}.md"
    atomic_write_text(paths["md"], report_markdown(result, command=command, title=title, setup=setup,
                                                   plot=paths["png"].name if "png" in paths else None))
    return {k: paths[k] for k in ("md", "json", "png") if k in paths}
