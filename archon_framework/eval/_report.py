"""The evaluation report: a Markdown page, a JSON file and a PNG of the metrics per chain (matplotlib is
optional: without it the report has no plot and says so)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from archon_framework._errors import ConfigError
from archon_framework._registry import Metric
from archon_framework._showcase import EvalTable
from archon_framework.config import atomic_write_text
from archon_framework.eval._evaluate import EvalResult, RowResult, TableResult
from archon_framework.eval._score import MetricScores, definition_id, metric_definition

__all__ = ["PLOT_EXTRA", "REUSED_SETTINGS", "chain_label", "compare_reports", "plot_metrics", "report_json",
           "report_markdown", "rows_from_report", "write_report"]

_CAVEAT = (
    "The main columns are scored by real pretrained models that ship inside PyPI wheels (MediaPipe "
    "FaceMesh landmarks, pocketsphinx speech recognition, DNSMOS, the GE2E speaker encoder), each with "
    "the versioned definition listed under Metrics: two reports' scores compare only where the "
    "definition ids match. Columns marked (proxy) are documented, weight-free formulas over hand-made "
    "features. No SyncNet, Inception, I3D or the paper's speaker network is used, so no number equals "
    "the paper's Sync-C/D, FID, FVD or C-SIM. Frechet distances are set-level over the held-out clips "
    "and biased upwards on small sets."
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
        "seeds": r.seeds,
    })
    if r.per_seed:
        out["per_seed"] = [{k: _num(v) for k, v in s.items()} for s in r.per_seed]
    return out


def report_json(result: EvalResult, *, command: str = "") -> dict[str, Any]:
    """Everything in the report as JSON-able data (NaN and inf as null)."""
    used = sorted({k.split(".", 1)[0] for t in result.tables for k in t.keys()})
    definitions = {name: metric_definition(result.metrics[name]) for name in used if name in result.metrics}
    return {
        "command": command,
        **{k: v for k, v in result.info.items()},
        "tables": [{"name": t.table.name, "title": t.table.title, "paper": t.table.paper, "columns": t.keys(),
                    "rows": [_row_json(r) for r in t.rows],
                    **({"comparisons": [_finite(c.to_dict()) for c in t.comparisons]} if t.comparisons else {})}
                   for t in result.tables],
        "controls": [_finite(c.to_dict()) for c in result.controls],
        "metrics": {name: {"modalities": list(result.metrics[name].modalities),
                           "higher_is_better": result.metrics[name].higher_is_better,
                           "description": result.metrics[name].description,
                           **({"definition": definitions[name], "definition_id": definition_id(definitions[name])}
                              if definitions[name] is not None else {})}
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
            proxy = " (proxy)" if key in t.table.proxies else ""
            lines.append(f"| `{key}`{proxy} | {_arrow(result, key)} | " + " | ".join(cells) + " |")
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
            runs = r.clips * r.seeds
            valid = ", ".join(f"{m} {n}/{runs}" for m, n in r.valid.items())
            each = f" x {r.seeds} sampling seeds" if r.seeds > 1 else ""
            lines.append(f"  - steps: {'; '.join(r.steps)}")
            lines.append(f"  - valid outputs: {valid}; generation {r.seconds:.0f} s for {r.clips} clips{each}")
            lines += _per_seed_lines(t, r, keys)
        lines += _note_lines(r)
    lines.append("")
    if t.comparisons:
        lines += _comparisons_md(t)
    return lines


def _per_seed_lines(t: TableResult, r: RowResult, keys: Sequence[str]) -> list[str]:
    """Each sampling seed's mean over the clips, for the table's main (non-proxy) columns."""
    main = [k for k in keys if k in t.table.columns and k not in t.table.proxies]
    if not r.per_seed or not main:
        return []
    cells = "; ".join(f"`{k}` " + " / ".join(_fmt(s.get(k)) for s in r.per_seed) for k in main)
    return [f"  - per sampling seed (mean over clips; a clip's score in the table is its mean over the seeds): {cells}"]


def _comparisons_md(t: TableResult) -> list[str]:
    """The table's reference row against each other row, clip by clip, with 95% intervals."""
    against = t.comparisons[0].against
    seeds = max((r.seeds for r in t.rows if r.row.label == against), default=1)
    lines = [f"### {against} against each other row, clip by clip", "",
             f"The difference is {against} minus the other row (each clip's score"
             + (f" averaged over its {seeds} sampling seeds" if seeds > 1 else "")
             + f"), signed so that positive favours {against}; the interval is a 95% bootstrap over the clips "
             "where both rows have a score.", "",
             "| metric | | against | n | difference [95% CI] | favours |", "|---|:-:|---|--:|---|---|"]
    for c in t.comparisons:
        proxy = " (proxy)" if c.metric in t.table.proxies else ""
        arrow = "↑" if c.higher_is_better else "↓"
        lines.append(f"| `{c.metric}`{proxy} | {arrow} | {_md(c.row)} | {c.n} | {_fmt(c.difference)} "
                     f"[{_fmt(c.ci95[0])}, {_fmt(c.ci95[1])}] | {_md(c.favours or 'neither (the interval includes 0)')} |")
    return lines + [""]


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
    if result.controls:
        lines += _controls_md(result.controls)
    if plot:
        lines += [f"![metrics per chain]({plot})", ""]
    used = sorted({k.split(".", 1)[0] for t in result.tables for k in t.keys()})
    if used:
        lines += ["## Metrics", "", "| metric | better | what it is | definition |", "|---|:-:|---|---|"]
        for name in used:
            m = result.metrics.get(name)
            if m is not None:
                lines.append(f"| `{name}` | {'higher' if m.higher_is_better else 'lower'} | {_md(m.description)} | "
                             f"{_md(_definition_md(metric_definition(m)))} |")
        lines += ["", "A definition id is the sha256 (12 hex digits) of the metric's definition in the JSON "
                  "report: the model packages and versions, the sha256 of each model file and every setting.", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    return "\n".join(lines)


def _controls_md(controls: Sequence[Any]) -> list[str]:
    """Each chain step against its shuffled-condition control and the trivial baseline."""
    def num(x: Any) -> str:
        return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.4g}"

    lines = ["## Shuffled-condition controls", "",
             "Each step teacher-forced from its own clip's ground-truth conditions (real) and from another "
             "held-out clip's (control), scored against its own clip's ground truth; the baseline is the mean / "
             "majority / most frequent ground truth of the other clips. The difference is real minus control, "
             "signed so that positive is better; the interval is a 95% bootstrap over clips. The NLL gain is the "
             "LM's teacher-forced likelihood of the clip's own output under the real conditions against the "
             "control's (control NLL minus real NLL, nats per target token, 95% bootstrap): above zero, the "
             "model's distribution follows the conditions, whatever sampling then makes of it.", "",
             "| chain | step | metric | n | real | control | baseline | difference [95% CI] | beats control "
             "| NLL gain [95% CI] |",
             "|---|---|---|--:|--:|--:|--:|---|:-:|---|"]
    for c in controls:
        d = c.to_dict()
        lo, hi = d["ci95"]
        lines.append(f"| {d['chain']} | `{d['step']}` | `{d['metric']}` ({'higher' if d['higher_is_better'] else 'lower'} "
                     f"is better) | {d['n']} | {num(d['real'])} | {num(d['control'])} | {num(d['baseline'])} | "
                     f"{num(d['difference'])} [{num(lo)}, {num(hi)}] | {'yes' if d['beats_control'] else 'no'} | "
                     + (f"{num(d['nll_gain'])} [{num(d['nll_ci95'][0])}, {num(d['nll_ci95'][1])}] |"
                        if d.get("nll_ci95") else "- |"))
    notes = [f"- {c.chain} `{c.step}`: {n}" for c in controls for n in c.notes]
    return lines + [""] + (notes + [""] if notes else [])


#: The settings of a report a row can be reused from only when they are this run's (`rows_from_report`).
REUSED_SETTINGS = ("checkpoint", "step", "heldout", "sampling", "seed", "seeds", "skipped_modalities")


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def rows_from_report(path: str | Path, tables: Sequence[EvalTable], info: dict[str, Any],
                     metrics: dict[str, Metric]) -> dict[tuple[str, str], RowResult]:
    """The scored rows of an earlier report (`NAME.json`) that this run would run again, by their
    key (chain, models), so that a row added later (Table 3's experts) is compared with rows
    already measured instead of running them again.

    Raises:
        ConfigError: the file is not a readable report, a setting of `REUSED_SETTINGS` differs
            from this run's (named, with both values), or a metric it scored has another
            definition than the installed one (its scores would not compare).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        earlier = {k: data.get(k, 1 if k == "seeds" else None) for k in REUSED_SETTINGS if k in info}  # seeds: 1 before --seeds
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"--reuse {path}: not a readable archon eval report ({type(err).__name__}: {err})") from err
    for key, value in earlier.items():
        now = json.loads(json.dumps(info[key], default=str))
        if key == "heldout" and isinstance(value, dict) and isinstance(now, dict) and "digest" in now:
            if "digest" not in value:
                raise ConfigError(f"--reuse {path}: its held-out record has no digest of its clips (written before "
                                  "archon eval recorded one), so they cannot be checked against this run's: "
                                  "score its rows again")
            if value["digest"] != now["digest"]:
                raise ConfigError(f"--reuse {path}: its held-out clips differ from this run's (digest "
                                  f"{value['digest'][:12]} against {now['digest'][:12]}; {now.get('source')} may have "
                                  "been written again): its rows are not this run's")
        if value != now:
            raise ConfigError(f"--reuse {path}: its {key} is {json.dumps(value)[:200]}, this run's is "
                              f"{json.dumps(now)[:200]}: its rows are not this run's")
    for name, entry in data.get("metrics", {}).items():
        if "definition_id" in entry and name in metrics:
            now = definition_id(metric_definition(metrics[name]))
            if now != entry["definition_id"]:
                raise ConfigError(f"--reuse {path}: metric {name} was scored under definition {entry['definition_id']}, "
                                  f"the installed one is {now}: its scores do not compare")
    wanted = {r.key: r for t in tables for r in t.rows}
    out: dict[tuple[str, str], RowResult] = {}
    for table in data.get("tables", []):
        for r in table.get("rows", []):
            row_key = (str(r.get("chain")), str(r.get("models")))
            if row_key not in wanted or row_key in out or r.get("status") != "ok":
                continue
            try:
                values = {k: _nan(v) for k, v in r["metrics"].items()}
                set_keys = set(r["set_level"])
                counts = {k: int(v) for k, v in r["counts"].items()}
                scores = MetricScores(
                    mean={k: v for k, v in values.items() if k not in set_keys},
                    stderr={k: _nan(v) for k, v in r["stderr"].items()},
                    count={k: v for k, v in counts.items() if k not in set_keys},
                    set_level={k: v for k, v in values.items() if k in set_keys},
                    set_count={k: v for k, v in counts.items() if k in set_keys},
                    per_clip=tuple({k: _nan(v) for k, v in c.items()} for c in r["per_clip"]),
                    errors={},
                )
                out[row_key] = RowResult(
                    row=wanted[row_key], status="ok", signature=r["signature"], steps=tuple(r["steps"]), scores=scores,
                    clips=int(r["clips"]), valid={k: int(v) for k, v in r["valid_outputs"].items()},
                    seconds=float(r["seconds"]),
                    notes=tuple((n["clip"], n["where"], n["text"]) for n in r["notes"]) + (("", "reused", f"read from {path}"),),
                    seeds=int(r.get("seeds", 1)),
                    per_seed=tuple({k: _nan(v) for k, v in s.items()} for s in r.get("per_seed", ())),
                )
            except (KeyError, TypeError, ValueError) as err:
                raise ConfigError(f"--reuse {path}: row {r.get('label')!r} is not readable "
                                  f"({type(err).__name__}: {err})") from err
    return out


def _finite(value: Any) -> Any:
    """NaN and inf as None, recursively (the JSON report allows no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _definition_md(definition: dict[str, Any] | None) -> str:
    """One cell: the definition id and the models (package version, file hash prefixes)."""
    if definition is None:
        return "formula (no model)"
    if "unavailable" in definition:
        return f"unavailable: {definition['unavailable']}"
    models = "; ".join(
        f"{m.get('package')} {m.get('version')} ({', '.join(h[:8] for h in m.get('files', {}).values())})"
        for m in definition.get("models", []))
    return f"`{definition_id(definition)}` {models}".strip()


def compare_reports(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Where two JSON reports' metric definitions differ (empty: every shared score is comparable).

    Args:
        previous, current: two ``report_json`` dicts (e.g. read from two ``eval.json`` files).

    Returns:
        One line per metric whose definition differs, naming what differs (model version, file
        hash, a setting), one per metric that has a definition in only one report, and one per
        metric with a definition that the other report does not score at all.
    """
    def flat(value: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(value, dict):
            return {k: v for key, item in value.items() for k, v in flat(item, f"{prefix}{key}.").items()}
        if isinstance(value, list):
            return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{prefix}{i}.").items()}
        return {prefix.rstrip("."): value}

    old, new = previous.get("metrics", {}), current.get("metrics", {})
    lines = []
    for name in sorted(set(old) ^ set(new)):
        if (old.get(name) or new.get(name) or {}).get("definition") is not None:
            lines.append(f"{name}: scored in only {'the previous' if name in old else 'the current'} report")
    for name in sorted(set(old) & set(new)):
        a, b = old[name].get("definition"), new[name].get("definition")
        if a == b:
            continue
        if a is None or b is None:
            lines.append(f"{name}: a definition in only {'the current' if a is None else 'the previous'} report")
            continue
        fa, fb = flat(a), flat(b)
        diffs = [f"{k}: {fa.get(k, '<absent>')!r} -> {fb.get(k, '<absent>')!r}" for k in sorted(set(fa) | set(fb))
                 if fa.get(k) != fb.get(k)]
        lines.append(f"{name}: definition {definition_id(a)} -> {definition_id(b)} ({'; '.join(diffs[:4])}"
                     f"{'; ...' if len(diffs) > 4 else ''})")
    return lines


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
def _previous(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_report(result: EvalResult, out_dir: str | Path, *, name: str = "eval", command: str = "",
                 title: str = "archon eval", setup: list[str] | None = None,
                 plot: bool = True, compare_to: str | Path | None = None) -> dict[str, Path]:
    """Write ``NAME.md``, ``NAME.json`` and (with matplotlib) ``NAME.png`` to ``out_dir``.

    The metric definitions are compared with those of an earlier report, ``compare_to`` or else
    the ``NAME.json`` this call replaces, and every difference becomes a note: scores whose
    definitions differ are not comparable.

    Returns the paths written. Without matplotlib the plot is left out and the report says so.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    notes = list(result.notes)
    earlier_path = Path(compare_to) if compare_to is not None else out / f"{name}.json"
    earlier = _previous(earlier_path)
    if earlier is not None:
        current = report_json(result, command=command)
        differ = compare_reports(earlier, current)
        notes += [f"not comparable with {earlier_path}: {d}" for d in differ]
        if not differ and any("definition" in m for m in current["metrics"].values()):
            notes.append(f"metric definitions are the same as in {earlier_path}")
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
