"""Per-modality expert LMs: the "w/o unified model" baseline of the paper's Tab. 3 (Sec. 4.4).

"A baseline composed of multiple expert models, with each producing a single modality trained
with identical data, architecture, and training settings. The total parameter count across all
experts is set to match that of our unified model." Here that reads:

* **One expert per output modality** of the unified run's suite; expert ``m`` is trained on the
  suite's tasks whose output is ``m``, with their unified sampling weights (renormalized).
* **Parameters, by rule.** Every expert has the unified config's architecture (layers, heads,
  key/value heads, ``d_ff / d_model`` ratio, the same tied embedding over the whole vocabulary
  layout, so global ids mean the same in every model) and one common width ``d_model``: the
  widest multiple of ``2 * n_heads`` (rotary heads need an even size) such that
  ``K * params(expert) <= params(unified)``, ``K`` the number of output modalities (every one is
  counted, trained or not). ``params`` counts everything, the embedding included
  (:func:`param_count`). When no width fits, the heads are halved until one does.
* **Same data and budget.** The same dataset, tokenizers (artifacts), token cache, vocabulary
  layout, context window, batch, packing, optimizer and schedule shape. The unified run's
  optimizer steps are split between the experts in proportion to the probability mass of their
  tasks in the unified suite, so together they see as many packed windows (tokens) as the
  unified model did, and each output modality about as many target tokens.

A tiny config over a large vocabulary is almost all embedding (e.g. ``tiny`` over the 292,816
ids of the default plugins: 99 % of its parameters), so its matched experts are very narrow.
That is the rule working as specified, not a bug; the report states both counts.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import attrs

from archon_framework._errors import ConfigError, TaskError
from archon_framework._plugins import Registry
from archon_framework._tasks import TaskSuite, parse_task
from archon_framework._vocab import VocabLayout
from archon_framework.config import atomic_write_text, from_dict, to_dict
from archon_framework.model import PrefixLMConfig, load_model_config
from archon_framework.train._config import CheckpointConfig, TrainConfig
from archon_framework.train._trainer import Trainer

__all__ = ["EXPERTS_MANIFEST", "ExpertSpec", "ExpertPlan", "param_count", "expert_model_config",
           "plan_experts", "train_experts", "read_expert_plan"]

#: The file in an experts folder that describes the plan and which experts were trained.
EXPERTS_MANIFEST = "experts.json"


def param_count(config: PrefixLMConfig) -> int:
    """Every parameter of a prefix LM of this config: the tied embedding plus the blocks."""
    return config.vocab_size * config.d_model + config.non_embedding_params


def _fits(unified: PrefixLMConfig, n_experts: int, heads: int, kv: int, width: int) -> PrefixLMConfig | None:
    ratio = unified.d_ff / unified.d_model
    cfg = unified.replace(d_model=width, n_heads=heads, n_kv_heads=kv, d_ff=max(1, int(round(ratio * width))))
    return cfg if n_experts * param_count(cfg) <= param_count(unified) else None


def expert_model_config(unified: PrefixLMConfig, n_experts: int) -> PrefixLMConfig:
    """The config of each of `n_experts` experts whose parameters together match `unified`'s.

    See the module doc for the rule. One expert gets the unified config itself.

    Raises:
        ConfigError: `n_experts` < 1, or not even a one-head width-2 model fits the budget.
    """
    if n_experts < 1:
        raise ConfigError(f"expert_model_config: n_experts must be >= 1, got {n_experts}")
    if n_experts == 1:
        return unified
    heads = unified.n_heads
    while heads >= 1:
        kv = unified.n_kv_heads if heads % unified.n_kv_heads == 0 else 1
        step = 2 * heads
        best = None
        for width in range(step, unified.d_model + 1, step):
            cfg = _fits(unified, n_experts, heads, kv, width)
            if cfg is None:
                break
            best = cfg
        if best is not None:
            return best
        heads //= 2
    raise ConfigError(
        f"expert_model_config: {n_experts} experts cannot share {param_count(unified):,} parameters "
        f"(one expert of width 2 over {unified.vocab_size:,} ids already takes more than 1/{n_experts})"
    )


@attrs.frozen(kw_only=True)
class ExpertSpec:
    """One expert of a plan.

    Attributes:
        modality: the output modality it generates.
        suite: its tasks (those of the unified suite with this output), unified weights.
        steps: its optimizer steps.
        model: its model config (vocab_size = the layout's size).
    """

    modality: str
    suite: TaskSuite
    steps: int
    model: PrefixLMConfig

    @property
    def params(self) -> int:
        return param_count(self.model)

    @property
    def folder(self) -> str:
        """Its run folder, inside the experts folder."""
        return self.modality


@attrs.frozen(kw_only=True)
class ExpertPlan:
    """Experts matched to a unified run (see the module doc for the rules).

    Attributes:
        unified_params: the unified model's parameter count.
        unified_steps: the unified run's optimizer steps (the budget shared out).
        experts: one per output modality of the unified suite, in suite order.
        trained: the modalities whose experts were trained (a subset may be enough for the
            chains being evaluated; the others still count in the parameter match).
        seconds: trained modality -> wall time of its training.
    """

    unified_params: int
    unified_steps: int
    experts: tuple[ExpertSpec, ...]
    trained: tuple[str, ...] = ()
    seconds: Mapping[str, float] = attrs.field(factory=dict)

    @property
    def total_params(self) -> int:
        return sum(e.params for e in self.experts)

    @property
    def total_steps(self) -> int:
        return sum(e.steps for e in self.experts)

    def check_matches(self, params: int, steps: int, where: str) -> None:
        """Refuse experts planned for another unified model (other parameters or steps)."""
        if (self.unified_params, self.unified_steps) != (params, steps):
            raise ConfigError(
                f"{where}: these experts were matched to a unified model of {self.unified_params:,} parameters "
                f"trained {self.unified_steps} steps, not to this one ({params:,} parameters, {steps} steps); "
                "train them again into another folder"
            )

    def expert(self, modality: str) -> ExpertSpec:
        for e in self.experts:
            if e.modality == modality:
                return e
        raise TaskError(f"no expert generates {modality!r} (experts: {', '.join(e.modality for e in self.experts)})")

    def to_json(self) -> dict[str, Any]:
        return {
            "unified_params": self.unified_params, "unified_steps": self.unified_steps,
            "total_params": self.total_params, "total_steps": self.total_steps, "trained": list(self.trained),
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "rule": "K experts of one width: the widest d_model (multiple of 2*n_heads) with K*params <= unified params; "
                    "steps split by the unified suite's probability mass of each expert's tasks",
            "experts": [{"modality": e.modality, "suite": e.suite.name, "tasks": [t.name for t in e.suite.tasks],
                         "weights": list(e.suite.weights), "steps": e.steps, "params": e.params,
                         "model": to_dict(e.model)} for e in self.experts],
        }


def plan_experts(suite: TaskSuite, model: PrefixLMConfig, steps: int, *, expert_steps: int | None = None) -> ExpertPlan:
    """Split a unified run (its weighted suite, model config, steps) into matched experts.

    Args:
        suite: the unified suite with the weights it was trained with (`weighted_suite`).
        model: the unified model config (vocab_size set to the layout's size).
        steps: the unified run's optimizer steps.
        expert_steps: train each expert this many steps instead (a smaller budget than the
            unified model's; the report says so).
    """
    outputs = list(dict.fromkeys(t.output.modality for t in suite.tasks))
    cfg = expert_model_config(model, len(outputs))
    probs = suite.probabilities
    experts = []
    for m in outputs:
        keep = [(t, w) for t, w in zip(suite.tasks, suite.weights) if t.output.modality == m]
        mass = sum(p for t, p in zip(suite.tasks, probs) if t.output.modality == m)
        n = expert_steps if expert_steps is not None else max(1, int(round(steps * mass)))
        experts.append(ExpertSpec(modality=m, suite=TaskSuite(f"{suite.name}/expert-{m}", tuple(t for t, _ in keep),
                                                              tuple(w for _, w in keep)),
                                  steps=n, model=cfg))
    return ExpertPlan(unified_params=param_count(model), unified_steps=steps, experts=tuple(experts))


def _resolve(path: str, run: Path) -> str:
    """A path from the unified run's config: as is, or beside the run when that is where it is."""
    p = Path(path).expanduser()
    if not path or p.is_absolute() or p.exists():
        return path
    for root in (run, run.parent):
        if (root / p).exists():
            return str((root / p).absolute())
    return path


def train_experts(
    config: TrainConfig,
    registry: Registry,
    out_dir: str | Path,
    *,
    suite: TaskSuite,
    steps: int,
    run_dir: str | Path,
    modalities: Collection[str] | None = None,
    expert_steps: int | None = None,
    progress: bool = True,
    on_expert: Callable[[ExpertSpec], None] | None = None,
) -> ExpertPlan:
    """Train the experts matched to a unified run, each in ``out_dir/<modality>/``.

    Each expert is an ordinary training run (`Trainer`) whose config is the unified run's with
    another out_dir, suite, step count and model config (``model.json`` beside its run). The
    unified run's vocabulary layout and token cache are copied in first, so ids match and
    nothing is tokenized again. An expert already trained to its steps is skipped; a partial
    one resumes. ``out_dir/experts.json`` (`read_expert_plan`) records the plan.

    Args:
        config: the unified run's training config.
        registry: the installed plugins.
        out_dir: the experts folder.
        suite: the unified run's suite as trained (`weighted_suite`).
        steps: the unified run's optimizer steps (its checkpoint's step).
        run_dir: the unified run's folder (layout, token cache, relative paths).
        modalities: train only these experts (default: all).
        expert_steps: a per-expert step count instead of the matched budget.
    """
    run, out = Path(run_dir), Path(out_dir)
    layout_file = run / "layout.json"
    if not layout_file.exists():
        raise ConfigError(f"{run}: no layout.json; pass the out_dir of a unified training run")
    registry = registry.for_artifacts(_resolve(config.data.artifacts, run) or None)  # as the unified run did
    layout = registry.layout(VocabLayout.load(layout_file))
    name = config.model.config
    if Path(name).suffix in (".toml", ".json"):
        name = _resolve(name, run)
    base = load_model_config(name)
    model = base.for_layout(layout).replace(max_seq_len=max(base.max_seq_len, config.data.seq_len))
    plan = plan_experts(suite, model, steps, expert_steps=expert_steps)
    wanted = [e.modality for e in plan.experts] if modalities is None else list(modalities)
    unknown = sorted(set(wanted) - {e.modality for e in plan.experts})
    if unknown:
        raise TaskError(f"no task of suite {suite.name!r} outputs {', '.join(unknown)}, so there is no such expert")
    data = attrs.evolve(config.data, dataset=_resolve(config.data.dataset, run),
                        artifacts=_resolve(config.data.artifacts, run), weights="suite")
    done: list[str] = []
    seconds: dict[str, float] = {}
    if (out / EXPERTS_MANIFEST).exists():
        before = read_expert_plan(out)
        before.check_matches(plan.unified_params, plan.unified_steps, str(out))
        done = [m for m in before.trained if m not in wanted]
        seconds = dict(before.seconds)
    out.mkdir(parents=True, exist_ok=True)
    for spec in plan.experts:
        if spec.modality not in wanted:
            continue
        folder = out / spec.folder
        folder.mkdir(parents=True, exist_ok=True)
        model_file = folder / "model.json"
        atomic_write_text(model_file, json.dumps({"model": to_dict(spec.model)}, indent=2) + "\n")
        if not (folder / "layout.json").exists():
            shutil.copyfile(layout_file, folder / "layout.json")
        if (run / "token-cache").is_dir() and not (folder / "token-cache").exists():
            shutil.copytree(run / "token-cache", folder / "token-cache")
        cfg = attrs.evolve(
            config, out_dir=str(folder), steps=spec.steps, log_every=max(1, spec.steps // 10),
            model=attrs.evolve(config.model, config=str(model_file.absolute())),
            data=attrs.evolve(data, suite=spec.suite.name),
            checkpoint=CheckpointConfig(every=max(spec.steps, 1), keep=1),
        )
        reg = attrs.evolve(registry, suites={**registry.suites, spec.suite.name: spec.suite})
        if on_expert is not None:
            on_expert(spec)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = Trainer(cfg, reg, progress=progress)
        latest = trainer.manager.latest_step()
        if latest is not None and latest > spec.steps:
            raise ConfigError(f"{folder}: this expert was trained {latest} steps, more than the {spec.steps} asked for; "
                              "use another experts folder")
        if latest != spec.steps:
            start = time.perf_counter()
            trainer.train(spec.steps)
            seconds[spec.modality] = seconds.get(spec.modality, 0.0) + time.perf_counter() - start
        done.append(spec.modality)
        plan = attrs.evolve(plan, trained=tuple(e.modality for e in plan.experts if e.modality in done), seconds=seconds)
        atomic_write_text(out / EXPERTS_MANIFEST, json.dumps(plan.to_json(), indent=2) + "\n")
    return plan


def read_expert_plan(out_dir: str | Path) -> ExpertPlan:
    """The plan `train_experts` recorded in ``out_dir/experts.json``.

    Raises:
        ConfigError: no manifest, or one that cannot be read.
    """
    path = Path(out_dir) / EXPERTS_MANIFEST
    try:
        raw = json.loads(path.read_text())
        experts = tuple(
            ExpertSpec(modality=e["modality"], steps=int(e["steps"]),
                       suite=TaskSuite(e["suite"], tuple(parse_task(t) for t in e["tasks"]), tuple(e["weights"])),
                       model=from_dict(PrefixLMConfig, e["model"], source=str(path)))
            for e in raw["experts"]
        )
        return ExpertPlan(unified_params=int(raw["unified_params"]), unified_steps=int(raw["unified_steps"]),
                          experts=experts, trained=tuple(raw.get("trained", ())),
                          seconds={k: float(v) for k, v in raw.get("seconds", {}).items()})
    except FileNotFoundError:
        raise ConfigError(f"{path}: no experts here; train them first (archon eval --train-experts)") from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{path}: not a readable experts manifest ({err})") from err
