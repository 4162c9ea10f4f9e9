"""The jitted train step and its optimizer (paper Sec. 4.1: AdamW, warm-up then cosine)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from archon_framework.model import PrefixLM, rope_positions, target_loss, token_losses
from archon_framework.optim import warmup_cosine_schedule
from archon_framework.train._config import OptimConfig, TrainConfig
from archon_framework.train._levels import LevelTable, level_index

__all__ = ["make_schedule", "make_optimizer", "make_train_step", "batch_losses", "batch_objective", "range_arguments",
           "level_ranges"]


def make_schedule(config: TrainConfig) -> optax.Schedule:
    """Linear warm-up to `peak_lr`, then cosine decay to `end_lr` at the last step."""
    return _schedule(config.optim, config.steps)


def _schedule(o: OptimConfig, steps: int) -> optax.Schedule:
    warmup = max(1, int(round(o.warmup_fraction * steps)))  # TrainConfig.warmup_steps
    return warmup_cosine_schedule(o.peak_lr, warmup_steps=warmup, steps=steps, end_value=o.end_lr)


_tree_norm = getattr(getattr(optax, "tree", None), "norm", None) or optax.global_norm  # optax < 0.2.5


def _unit_rate(count: jax.Array) -> jax.Array:
    """The optimizer's own learning rate: 1 (the step scales its updates by the schedule's rate)."""
    return jnp.ones((), jnp.float32)


def _adam_key(o: OptimConfig) -> tuple[float, float, float, float]:
    """What the compiled step depends on of an `OptimConfig`: not the schedule (an argument)."""
    return (o.b1, o.b2, o.weight_decay, o.clip_norm)


@functools.lru_cache(maxsize=16)
def _optimizer(key: tuple[float, float, float, float]) -> optax.GradientTransformation:
    """AdamW after global-norm clipping at a unit learning rate (one object per key, so compiled
    steps are shared). The rate is a schedule so that the state keeps optax's step count."""
    b1, b2, weight_decay, clip_norm = key
    return optax.chain(optax.clip_by_global_norm(clip_norm),
                       optax.adamw(_unit_rate, b1=b1, b2=b2, weight_decay=weight_decay))


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """AdamW (the run's betas and weight decay) after global-norm gradient clipping, at a unit
    learning rate: the train step multiplies its updates by the rate it is given
    (`make_schedule(config)(k)` for the k-th update), so neither the schedule nor the step count
    is a constant of the compiled step. Its state is that of `optax.adamw` with a schedule."""
    return _optimizer(_adam_key(config.optim))


def make_train_step(config: TrainConfig, *, n_tasks: int, n_modalities: int,
                    levels: LevelTable | None = None,
                    modality_ranges: tuple[tuple[int, int], ...] | None = None) -> Callable:
    """The trainer's jitted step: `step(batch, model, opt_state, lr) -> (model, opt_state, loss, stats)`.

    `batch` holds the packed features (`archon_framework.data.PACKED_FEATURES`, each
    `[rows, seq_len]`); `model` and `opt_state` (from `make_optimizer(config).init`) are donated;
    `lr` is this update's learning rate (a float32 scalar: `make_schedule(config)(k)` for the
    k-th update, counted from 0), an argument so that runs of any length and schedule share one
    compiled step (and a persistent-cache entry).
    `stats` has the cross-entropy sums and target counts per task (`task_ce`, `task_n`), per
    modality (`mod_ce`, `mod_n`) and, with `levels`, per residual level (`level_ce`,
    `level_n`), plus `ce`, `tokens` and `grad_norm`. Steps with equal arguments share one
    compiled function.

    With `config.model.loss = "range"` and `modality_ranges` (the global `(start, size)` of each
    modality index's vocabulary), each target token's softmax covers its modality's range only
    (`token_losses` with `vocab_ranges`); with "level" a target with a residual level (by
    `levels`) covers its level's codebook block only; otherwise the whole vocabulary.
    """
    table = levels if levels is not None else LevelTable.none()
    ranges = tuple(modality_ranges) if modality_ranges is not None and config.model.loss != "full" else None
    return _step_function(_adam_key(config.optim), n_tasks, n_modalities, _table_key(table), ranges,
                          config.model.loss_chunk, config.model.loss == "level")


def _table_key(table: LevelTable) -> tuple:
    """A hashable copy of a level table (the compiled-step cache key)."""
    return (table.size,) + tuple((k, tuple(np.asarray(v).ravel().tolist()), np.asarray(v).shape)
                                 for k, v in sorted(table.arrays().items()))


def _table_of(key: tuple) -> LevelTable:
    """The level table back from its `_table_key`."""
    arrays = {k: np.asarray(v, np.int32).reshape(shape) for k, v, shape in key[1:]}
    names = tuple(f"level{i}" for i in range(key[0]))  # only the count matters to the loss
    return LevelTable(names=names, **arrays)


def range_arguments(modality_ranges: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """Modality index -> index of its distinct range, and the distinct ranges (shared
    vocabularies such as `text` appear once)."""
    distinct = tuple(dict.fromkeys(modality_ranges))
    return np.asarray([distinct.index(r) for r in modality_ranges], np.int32), distinct


def level_ranges(levels: LevelTable) -> tuple[tuple[int, int], ...]:
    """The global `(start, size)` codebook block of each flat level of `levels` (in flat order)."""
    blocks: list[tuple[int, int]] = []
    for i in np.argsort(levels.offset, kind="stable"):
        for k in range(int(levels.levels[i])):
            blocks.append((int(levels.start[i] + levels.lo[i, k]), int(levels.width[i])))
    return tuple(blocks)


def _range_features(batch: dict[str, jax.Array], vocab_ranges: tuple | None,
                    levels: LevelTable | None = None) -> dict:
    """`token_losses`' keyword arguments for a packed batch: its features and, with
    `vocab_ranges` (per modality index), each token's distinct range; with `levels` too, a
    token with a residual level gets its level's codebook block instead (the per-level softmax
    of `loss = "level"`)."""
    features = {k: batch[k] for k in ("segment_ids", "positions", "prefix_mask", "loss_mask")}
    if "times" in batch:  # place, time, row and column of each token (`apply_rope` reads the axes it rotates by)
        features["positions"] = rope_positions(batch["positions"], batch["times"])
    if vocab_ranges is not None:
        mod_to_range, distinct = range_arguments(vocab_ranges)
        mods = batch["modality_ids"]
        range_ids = jnp.where(mods >= 0, jnp.asarray(mod_to_range)[jnp.maximum(mods, 0)], -1)
        if levels is not None and levels.size:
            flat = level_index(batch["tokens"], mods, mods >= 0, levels.arrays(), levels.size)
            range_ids = jnp.where(flat < levels.size, len(distinct) + flat, range_ids)
            distinct = distinct + level_ranges(levels)
        features["range_ids"] = range_ids
        features["vocab_ranges"] = distinct  # type: ignore[assignment]
    return features


def batch_losses(model: PrefixLM, batch: dict[str, jax.Array], vocab_ranges: tuple | None = None,
                 chunk_size: int | None = None, levels: LevelTable | None = None):
    """`token_losses` of a packed batch `[rows, seq]`, range-restricted when `vocab_ranges`
    (per modality index) is given, level-restricted where `levels` gives a target's level."""
    return token_losses(model, batch["tokens"], chunk_size=chunk_size, **_range_features(batch, vocab_ranges, levels))


def batch_objective(model: PrefixLM, batch: dict[str, jax.Array], vocab_ranges: tuple | None = None,
                    chunk_size: int = 256, levels: LevelTable | None = None):
    """The training objective of a packed batch, mean CE + z-loss over its targets, and its
    per-token losses (`target_loss`: the same values as `batch_losses`, a fused head gradient)."""
    return target_loss(model, batch["tokens"], chunk_size=chunk_size, **_range_features(batch, vocab_ranges, levels))


@functools.lru_cache(maxsize=16)
def _step_function(adam: tuple[float, float, float, float], n_tasks: int, n_mods: int, levels: tuple,
                   vocab_ranges: tuple | None = None, chunk_size: int | None = None,
                   level_loss: bool = False) -> Callable:
    """The jitted train step, shared by every Trainer with the same optimizer and tables.

    `step(batch, model, opt_state, lr) -> (model, opt_state, loss, stats)`; `stats` holds the
    cross-entropy sums and target-token counts per task, per modality and per (modality,
    level), and the gradient's global norm. The level tables (host-computed, a few int32
    arrays) are constants of the compiled step.
    """
    n_levels = levels[0]
    parsed = _table_of(levels)
    table = parsed.arrays()
    optimizer = _optimizer(adam)
    loss_levels = parsed if level_loss else None

    def loss_fn(model: PrefixLM, batch: dict[str, jax.Array]):
        loss, losses = batch_objective(model, batch, vocab_ranges, chunk_size or 256, loss_levels)
        mask = losses.mask
        count = jnp.maximum(mask.sum(), 1)
        flat_ce, flat_mask = losses.ce.ravel(), mask.ravel().astype(jnp.float32)
        task_ids = jnp.where(mask, batch["task_ids"], n_tasks).ravel()
        mod_ids = jnp.where(mask & (batch["modality_ids"] >= 0), batch["modality_ids"], n_mods).ravel()
        stats = {
            "ce": losses.ce.sum() / count.astype(losses.ce.dtype),
            "task_ce": jax.ops.segment_sum(flat_ce, task_ids, n_tasks + 1)[:-1],
            "task_n": jax.ops.segment_sum(flat_mask, task_ids, n_tasks + 1)[:-1],
            "mod_ce": jax.ops.segment_sum(flat_ce, mod_ids, n_mods + 1)[:-1],
            "mod_n": jax.ops.segment_sum(flat_mask, mod_ids, n_mods + 1)[:-1],
            "tokens": count,
        }
        if n_levels:
            level_ids = level_index(batch["tokens"], batch["modality_ids"], mask, table, n_levels).ravel()
            stats["level_ce"] = jax.ops.segment_sum(flat_ce, level_ids, n_levels + 1)[:-1]
            stats["level_n"] = jax.ops.segment_sum(flat_mask, level_ids, n_levels + 1)[:-1]
        return loss, stats

    @eqx.filter_jit(donate="all-except-first")
    def step(batch, model, opt_state, lr):
        (loss, stats), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model, batch)
        stats["grad_norm"] = _tree_norm(grads)
        # optax's Adam bias correction raises a Python float to the int32 step count, which strict
        # dtype promotion (the core's tests) refuses: optax's own code keeps JAX's standard rule
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        updates = jax.tree.map(lambda u: jnp.asarray(lr, u.dtype) * u, updates)
        model = eqx.apply_updates(model, updates)
        return model, opt_state, loss, stats

    return step
