"""Reference recipes: `archon pretrain --recipe NAME`, a deterministic training run from scratch.

A recipe is a TOML file (one a plugin provides through ``archon_recipes()``, such as
archon-paper's ``cpu-reference``, or any path): the
settings of the demo's stages (`DemoConfig`: data, tokenizers, LM, samples) given as step counts
and seeds instead of a time budget, so two runs of one recipe train the same models, and the
evaluation run afterwards. Every stage resumes where it stopped (the data shards, each
tokenizer's "done" mark, the LM's checkpoints every ``checkpoint_every`` steps).

Outputs in ``--out``: the demo's folders and page, ``curves.png`` (the LM's cross-entropy per
target modality against the step), ``eval/`` (`archon eval` on the held-out clips) and
``recipe.json`` (the recipe, the commit, the command, wall time and the compile/train split of
every stage).
"""

from __future__ import annotations

import json
import subprocess
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console

from archon_framework._errors import ArchonError, ConfigError
from archon_framework._plugins import Registry, load_registry
from archon_framework.config import atomic_write_text, to_dict
from archon_framework.infer._demo import DemoConfig, run_demo

__all__ = ["Recipe", "export_recipe_model", "list_recipes", "load_recipe", "plot_learning_curves", "run_recipe"]


@attrs.frozen(kw_only=True)
class Recipe:
    """A named, deterministic training recipe.

    Attributes:
        name: the recipe's name.
        description: one line.
        demo: the stages' settings (`DemoConfig` fields other than ``out``, ``minutes``, ``progress``).
        eval: `archon eval` settings: ``suite``, ``heldout``, ``seed`` (empty: no evaluation).
        export: how the trained model is exported (``dtype``: ``bfloat16`` or ``float32``).
        source: where it was read from.
    """

    name: str
    description: str = ""
    demo: Mapping[str, Any] = attrs.field(factory=dict)
    eval: Mapping[str, Any] = attrs.field(factory=dict)
    export: Mapping[str, Any] = attrs.field(factory=dict)
    source: str = ""

    def demo_config(self, out: str | Path, *, progress: bool = True) -> DemoConfig:
        """The stages' `DemoConfig` writing into `out` (ConfigError names a bad field)."""
        fields = {f.name for f in attrs.fields(DemoConfig)}
        unknown = sorted(set(self.demo) - fields)
        if unknown:
            raise ConfigError(f"{self.source}: [demo] has unknown key(s) {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(fields - {'out', 'progress'}))})")
        if self.demo.get("lm_steps") is None:
            raise ConfigError(f"{self.source}: [demo] lm_steps is required (a recipe trains by steps, not time)")
        try:
            return DemoConfig(out=str(out), progress=progress, **dict(self.demo))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{self.source}: [demo]: {err}") from err


def list_recipes(registry: Registry | None = None) -> list[str]:
    """The names of the installed recipes (``archon_recipes()``; `registry` defaults to the
    installed plugins')."""
    return sorted((registry or load_registry()).recipes)


def load_recipe(name_or_path: str | Path, registry: Registry | None = None) -> Recipe:
    """An installed recipe by name (``archon_recipes()``), or a recipe TOML file; ConfigError
    names what is wrong. With a `registry` (default: the installed plugins') its
    ``extra_tasks`` are checked against the suite of the demo it runs."""
    registry = registry or load_registry()
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ConfigError(f"recipe file {path} does not exist")
        text, source = path.read_text(), str(path)
    else:
        found = registry.recipe(str(name_or_path))  # ConfigError listing the installed ones
        text, source = found.path.read_text(), f"recipe {name_or_path}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML ({err})") from err
    unknown = sorted(set(data) - {"name", "description", "demo", "eval", "export"})
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)} (known: name, description, demo, eval, export)")
    export = data.get("export", {})
    if not isinstance(export, dict) or set(export) - {"dtype"} or export.get("dtype", "bfloat16") not in ("bfloat16", "float32"):
        raise ConfigError(f"{source}: [export] takes only dtype = \"bfloat16\" or \"float32\", got {export!r}")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise ConfigError(f"{source}: name must be a non-empty string")
    recipe = Recipe(name=data["name"], description=str(data.get("description", "")), demo=data.get("demo", {}),
                    eval=data.get("eval", {}), export=export, source=source)
    cfg = recipe.demo_config("check")  # every field checked before any work
    cfg.check_stage_steps(registry, where=f"{source}: [demo.tokenizer_steps]")
    if (cfg.extra_tasks or cfg.chain_weights) and registry.demos:
        try:
            spec = registry.demo(cfg.demo)
            suite = registry.suite(spec.suite)
        except ArchonError as err:
            raise ConfigError(f"{source}: [demo]: {err}") from err
        cfg.check_tasks(suite, registry.modalities, where=f"{source}: [demo]")
        cfg.check_chain_weights(spec, where=f"{source}: [demo]")
    return recipe


def plot_learning_curves(metrics: Path, png: Path) -> Path | None:
    """The LM's cross-entropy per target modality against the step (from its metrics.jsonl), as a
    PNG; None (nothing written) when matplotlib is not installed or nothing was logged."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    records = [json.loads(line) for line in Path(metrics).read_text().splitlines() if line.strip()]
    if not records:
        return None
    series: dict[str, tuple[list[int], list[float]]] = {}
    for rec in records:
        for mod, ce in (rec.get("modality_ce") or {}).items():
            xs, ys = series.setdefault(mod, ([], []))
            xs.append(rec["step"])
            ys.append(ce)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot([r["step"] for r in records], [r["ce"] for r in records], color="black", lw=2, label="all targets")
    for mod, (xs, ys) in sorted(series.items()):
        ax.plot(xs, ys, lw=1, label=mod)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per target token)")
    ax.set_title("LM learning curves per target modality")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return png


def _commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def run_recipe(recipe: Recipe, registry: Registry, out: str | Path, *, progress: bool = True,
               evaluate: bool = True, command: str = "", console: Console | None = None) -> Path:
    """Run a recipe's stages into `out` (resuming whatever a previous run finished); returns the
    path of ``recipe.json``."""
    console = console or Console(stderr=True)
    out = Path(out)
    command = command or _default_command(recipe, out)  # what the model, the report and recipe.json name
    cfg = recipe.demo_config(out, progress=progress)
    t0 = time.perf_counter()
    run_demo(cfg, registry, console=console)
    timings = {"stages": round(time.perf_counter() - t0, 1)}
    curves = plot_learning_curves(out / "lm" / "metrics.jsonl", out / "curves.png")
    model = export_recipe_model(recipe, registry, out, command=command)
    console.print(f"exported the trained model to {model.parent} (archon ship-model {model.parent} ships it)")
    report = None
    if evaluate and recipe.eval:
        report = _evaluate(recipe, registry, out, progress=progress, console=console, command=command)
        timings["eval"] = round(time.perf_counter() - t0 - timings["stages"], 1)
    demo = json.loads((out / "demo.json").read_text())
    timings["total"] = round(time.perf_counter() - t0, 1)
    record = {
        "recipe": recipe.name, "source": recipe.source, "settings": {"demo": dict(recipe.demo), "eval": dict(recipe.eval)},
        "commit": _commit(), "command": command, "timings_s": timings, "demo_timings_s": demo.get("timings_s"),
        "stages": demo.get("stages", []), "undertrained": demo.get("undertrained", []),
        "curves": str(curves.relative_to(out)) if curves else None, "eval": report, "model": str(model.parent),
        "config": to_dict(cfg),
    }
    path = out / "recipe.json"
    atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")
    console.print(f"recipe {recipe.name} done in {timings['total'] / 60:.1f} min: {path}")
    return path


def _default_command(recipe: Recipe, out: Path) -> str:
    """The command that runs `recipe` into `out`, for a caller that did not give its own."""
    return f"archon pretrain --recipe {recipe.name} --out {out}"


def export_recipe_model(recipe: Recipe, registry: Registry, out: Path, *, command: str = "") -> Path:
    """Export the recipe's LM and tokenizers into ``out/model`` (`export_model`, parameters in the
    recipe's ``[export] dtype``, bfloat16 by default); returns its ``model.json``. The registry
    gets the demo's suite, which the run recorded."""
    from archon_framework.infer._export import export_model

    cfg = recipe.demo_config(out)
    cfg = cfg.resolved(registry.demo(cfg.demo))
    dtype = str(dict(recipe.export).get("dtype", "bfloat16"))
    extra: dict[str, Any] = {"clip_seconds": cfg.seconds, "heldout_dataset": cfg.heldout_dataset,
                             "lm_config": cfg.lm_config}
    copied = {}
    for mark in sorted((out / "tokenizers").glob("*.json")):
        origin = json.loads(mark.read_text()).get("from")
        if origin:
            copied[mark.stem] = origin
    if copied:  # tokenizers this run did not train (tokenizers_from): where they came from
        extra["tokenizers_from"] = copied
    return export_model(out / "lm", out / "model", registry, tokenizers=out / "tokenizers", name=recipe.name,
                        recipe=recipe.name, command=command or _default_command(recipe, out),
                        commit=_commit(), dtype=dtype, extra=extra)


def _evaluate(recipe: Recipe, registry: Registry, out: Path, *, progress: bool, console: Console,
              command: str) -> dict[str, str]:
    from archon_framework.eval import run_eval

    e = dict(recipe.eval)
    cfg = recipe.demo_config(out)
    cfg = cfg.resolved(registry.demo(cfg.demo))
    paths, _ = run_eval(  # the exported model: what ships is what is evaluated
        registry=registry, checkpoint=out / "model", suite=str(e.get("suite", "all")), out_dir=out / "eval",
        name=str(e.get("name", "reference")), heldout=int(e.get("heldout", cfg.heldout)), data=out / "heldout",
        dataset=cfg.heldout_dataset, seconds=None, data_seed=cfg.seed, experts=None,
        train_experts_=bool(e.get("train_experts", False)), expert_steps=e.get("expert_steps"),
        seed=int(e.get("seed", cfg.seed)), sampling=cfg.sampling(),
        max_text_tokens=e.get("max_text_tokens"), skip=tuple(e.get("skip", ())), artifacts=None, step=None,
        plot=True, progress=progress, command=command, console=console,
        controls=tuple(e.get("control_chains", registry.eval_default().control_chains)),
    )
    return {k: str(v) for k, v in paths.items()}


def recipe_stage_rows(record: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The compile/train split of every stage of a recipe.json (for the benchmark)."""
    return list(record.get("stages", []))
