"""Run a table row's chain on held-out clips, with the unified model or with per-modality experts.

The unified model runs a chain with `archon_framework.infer.generate`. Experts run it step by
step: each planned step is a one-step chain given to the expert of its output modality, whose
conditions are the row's conditions and the earlier steps' outputs, passed exactly as the
unified chain passes them to its later steps (generated ids for token modalities, the parsed
value for valid text, which is tokenized again canonically); a rendered step gets the raw
values of its inputs, valid or not, as `generate` gives them to the renderer. Every step uses the
same sampling key as in the unified run (it derives from the seed and the output slot), so the
two runs differ only in the model behind each step.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from archon_framework._clip import Clip
from archon_framework._errors import ArchonError, TaskError
from archon_framework._plugins import Registry
from archon_framework._tasks import Slot
from archon_framework.eval._score import Prediction
from archon_framework._chains import Chain, ChainStep, PlannedStep, plan_chain
from archon_framework.infer._generate import GenerationResult, Ids, generate
from archon_framework.infer._model import LoadedModel, load_checkpoint
from archon_framework.model import Sampling
from archon_framework.train._experts import ExpertPlan, read_expert_plan

__all__ = ["ExpertModels", "load_experts", "ChainRun", "prepare_chain", "run_chain", "ground_truth_run"]


class ExpertModels:
    """Per-modality expert LMs (`archon_framework.train.train_experts`) loaded for generation.

    Args:
        plan: the plan they were trained by.
        models: output modality -> its expert.
        folder: where they live.
    """

    def __init__(self, plan: ExpertPlan, models: Mapping[str, LoadedModel], folder: Path) -> None:
        self.plan, self.models, self.folder = plan, dict(models), Path(folder)

    def model(self, modality: str) -> LoadedModel:
        if modality not in self.models:
            raise TaskError(
                f"no trained expert generates {modality!r} in {self.folder} (trained: "
                f"{', '.join(sorted(self.models)) or 'none'}); train it with archon eval --train-experts"
            )
        return self.models[modality]

    def __repr__(self) -> str:
        return f"ExpertModels({self.folder}, {', '.join(sorted(self.models))})"


def load_experts(folder: str | Path, registry: Registry, *, artifacts: str | Path | None = None) -> ExpertModels:
    """Load the trained experts of ``folder`` (each with its own suite added to the registry).

    Raises:
        ConfigError: no experts manifest in the folder.
        CheckpointError: an expert listed as trained has no readable checkpoint.
    """
    folder = Path(folder)
    plan = read_expert_plan(folder)
    models = {}
    for modality in plan.trained:
        spec = plan.expert(modality)
        reg = attrs.evolve(registry, suites={**registry.suites, spec.suite.name: spec.suite})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models[modality] = load_checkpoint(folder / spec.folder, reg, artifacts=artifacts)
    return ExpertModels(plan, models, folder)


@attrs.frozen(eq=False)
class ChainRun:
    """A chain run on every held-out clip.

    Attributes:
        chain: the chain as run (outputs of modalities that are not installed dropped).
        plan: its planned steps.
        predictions: one per clip; None where the clip could not be run (see notes).
        seconds: wall time of the generation.
        notes: what went wrong or was left out: (clip id or "", where, text), e.g.
            ``("clip0", "description(t)", "invalid value: ...")``.
    """

    chain: Chain
    plan: tuple[PlannedStep, ...]
    predictions: tuple[Prediction | None, ...]
    seconds: float
    notes: tuple[tuple[str, str, str], ...] = ()


def prepare_chain(chain: Chain, model: LoadedModel, *, skip: Sequence[str] = (),
                  experts: ExpertModels | None = None) -> tuple[Chain, tuple[PlannedStep, ...], list[str]]:
    """Restrict a chain to what is installed (and not skipped), plan it, check its experts.

    Returns the chain, its plan and notes. Raises TaskError (the row is skipped) when a step's
    task is not in the trained suite or has no trained expert.
    """
    notes = []
    keep = set(model.registry.modalities) - set(skip)
    chain, dropped = chain.restricted_to(keep)
    if dropped:
        notes.append(f"left out (not installed or skipped): {', '.join(map(str, dropped))}")
    if not chain.steps:
        raise TaskError(f"chain {chain.name!r}: no step is left")
    plan = plan_chain(chain, modalities=model.registry.modalities, suite=model.suite, given=list(chain.conditions))
    if experts is not None:
        for step in plan:
            if step.kind == "generate":
                expert = experts.model(step.output.modality)
                if step.task not in expert.suite.tasks:
                    raise TaskError(f"the {step.output.modality} expert was not trained on task {step.task.name}")  # type: ignore[union-attr]
    return chain, plan, notes


def _conditions(chain: Chain, clip: Clip) -> dict[Slot, Any]:
    missing = [s.modality for s in chain.conditions if s.modality not in clip]
    if missing:
        raise TaskError(f"clip {clip.meta.clip_id!r} has no {', '.join(missing)} value")
    return {s: clip[s.modality] for s in chain.conditions}


def _prediction(result: GenerationResult, given: Mapping[Slot, Any]) -> Prediction:
    produced, invalid = {}, []
    for step in result.steps:
        if step.kind not in ("generated", "rendered", "kept"):
            if step.kind == "failed":
                invalid.append(step.output.modality)
            continue
        if step.value is not None:
            produced[step.output.modality] = step.value
        if not step.valid or step.value is None:
            invalid.append(step.output.modality)
    return Prediction(produced=produced, given={s.modality: v for s, v in given.items()}, invalid=tuple(invalid))


def _render(model: LoadedModel, step: PlannedStep, inputs: Mapping[str, Any], clip: Clip, seed: int
            ) -> tuple[Any, bool, str]:
    """A rendered step as `generate` runs it: the renderer gets the inputs' raw values, valid or not."""
    mod = model.registry.modality(step.output.modality)
    try:
        value = model.renderer(step.output.modality).render(dict(inputs), meta=clip.meta, seed=seed)
    except Exception as err:  # a plugin's renderer: report, as generate does
        return None, False, f"the renderer failed: {type(err).__name__}: {err}"
    try:
        return mod.check_raw(value, clip.meta), True, ""
    except ArchonError as err:
        return value, False, f"invalid value: {err}"


def _expert_chain(experts: ExpertModels, chain: Chain, plan: Sequence[PlannedStep], given: Mapping[Slot, Any],
                  clip: Clip, sampling: Sampling, seed: int, max_text_tokens: int | None
                  ) -> tuple[Prediction, list[tuple[str, str]]]:
    feed: dict[Slot, Any] = {}  # how later LM steps read each output (as the unified chain's board does)
    raw: dict[Slot, Any] = {}  # each output's raw value, valid or not (what a renderer reads)
    produced, invalid, notes = {}, [], []
    if not experts.models:
        raise TaskError(f"no trained expert in {experts.folder}")
    for step in plan:
        if step.kind == "given":
            continue
        if step.kind == "render":
            inputs = {s.modality: given[s] if s in given else raw.get(s) for s in step.inputs}
            if any(v is None for v in inputs.values()):
                value, valid, note = None, False, "not run: an input has no value"
            else:
                value, valid, note = _render(next(iter(experts.models.values())), step, inputs, clip, seed)
            raw[step.output] = value
            if value is not None:
                produced[step.output.modality] = value
            if not valid:
                invalid.append(step.output.modality)
                notes.append((str(step.output), note))
            continue
        model = experts.model(step.output.modality)
        conds = {s: given[s] if s in given else feed.get(s) for s in step.inputs}
        if any(v is None for v in conds.values()):
            invalid.append(step.output.modality)
            notes.append((str(step.output), "not run: an input has no value"))
            continue
        single = Chain(f"{chain.name}[{step.output}]", step.inputs, (ChainStep(step.output, step.inputs),))
        res = generate(model, conds, single, meta=clip.meta, sampling=sampling, seed=seed,
                       max_text_tokens=max_text_tokens).steps[-1]
        raw[step.output] = res.value
        if res.value is not None:
            produced[step.output.modality] = res.value
        if res.valid and res.value is not None and model.serializer.is_text(step.output.modality):
            feed[step.output] = res.value  # valid text: tokenized again canonically
        elif res.global_ids is not None:
            feed[step.output] = Ids(res.global_ids, local=False)  # the ids as generated
        if not res.valid or res.value is None:
            invalid.append(step.output.modality)
            if res.note:
                notes.append((str(step.output), res.note))
    return Prediction(produced=produced, given={s.modality: v for s, v in given.items()}, invalid=tuple(invalid)), notes


def run_chain(
    chain: Chain,
    plan: Sequence[PlannedStep],
    clips: Sequence[Clip],
    *,
    model: LoadedModel,
    experts: ExpertModels | None = None,
    sampling: Sampling = Sampling(),
    seed: int = 0,
    max_text_tokens: int | None = None,
    on_clip: Callable[[int, int, float], None] | None = None,
) -> ChainRun:
    """Run a prepared chain (`prepare_chain`) on each clip; clip ``i`` samples with ``seed + i``.

    With ``experts``, each LM step runs on the expert of its output modality (module doc).
    A clip that cannot be run (a condition missing, a value of the wrong length) gets no
    prediction and a note; other clips go on.
    """
    preds: list[Prediction | None] = []
    notes: list[tuple[str, str, str]] = []
    start = time.perf_counter()
    for i, clip in enumerate(clips):
        t0 = time.perf_counter()
        try:
            given = _conditions(chain, clip)
            if experts is None:
                result = generate(model, given, chain, meta=clip.meta, sampling=sampling, seed=seed + i,
                                  max_text_tokens=max_text_tokens)
                preds.append(_prediction(result, given))
                notes += [(clip.meta.clip_id, str(s.output), s.note) for s in result.steps
                          if (not s.valid or s.kind == "failed") and s.note]
            else:
                pred, why = _expert_chain(experts, chain, plan, given, clip, sampling, seed + i, max_text_tokens)
                preds.append(pred)
                notes += [(clip.meta.clip_id, where, text) for where, text in why]
        except ArchonError as err:
            preds.append(None)
            notes.append((clip.meta.clip_id, "clip", f"not run: {err}"))
        if on_clip is not None:
            on_clip(i, len(clips), time.perf_counter() - t0)
    return ChainRun(chain=chain, plan=tuple(plan), predictions=tuple(preds), seconds=time.perf_counter() - start,
                    notes=tuple(notes))


def ground_truth_run(chain: Chain, clips: Sequence[Clip], *, installed: Sequence[str], skip: Sequence[str] = ()) -> ChainRun:
    """The held-out clips' own values as a chain's outputs: the metrics' best attainable scores.

    Lip sync, for one, has no fixed scale: this row says what real, in-sync data scores.
    """
    chain, dropped = chain.restricted_to(set(installed) - set(skip))
    outputs = [s.output.modality for s in chain.steps]
    preds = tuple(Prediction(produced={m: c[m] for m in outputs if m in c},
                             given={s.modality: c[s.modality] for s in chain.conditions if s.modality in c})
                  for c in clips)
    plan = tuple(PlannedStep(s.output, "given") for s in chain.steps)
    notes = (("", "chain", f"left out (not installed or skipped): {', '.join(map(str, dropped))}"),) if dropped else ()
    return ChainRun(chain=chain, plan=plan, predictions=preds, seconds=0.0, notes=notes)
