"""Training and evaluation of the FLAME tokenizers on clips (paper supp. C.2)."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from archon_framework import ClipMeta, ConfigError, DataError
from archon_framework.config import atomic_write_text
from archon_framework.nn import RVQState, level_mask
from archon_framework.optim import warmup_cosine_schedule
from archon_framework.train import DataParallel, StepBudget, training_record

from ._config import FlameTokenizerConfig
from ._model import AnimationRVQVAE
from ._params import Normalizer
from ._tokenizer import FlameTokenizer, check_raw

__all__ = ["evaluate_tokenizer", "learning_rate_at", "train_tokenizer"]

REPORT_FILE = "report.json"


def learning_rate_at(step: int, total: int, config: FlameTokenizerConfig) -> float:
    """Linear warm-up over ``warmup_fraction`` of ``total`` steps, then cosine to
    ``final_lr_fraction`` of the peak (paper supp. C.2: 0.5% warm-up, peak 4e-4)."""
    tc = config.train
    rates = _rates(tc.learning_rate, max(1, round(tc.warmup_fraction * total)), total, tc.final_lr_fraction)
    return float(rates[min(step + 1, total)])  # step 0 already takes the first warm-up increment


@functools.lru_cache(maxsize=8)
def _rates(peak: float, warmup: int, total: int, final_fraction: float) -> np.ndarray:
    """``[total + 1]``: the schedule at every count, evaluated once per run in one call, so the
    training loop (`learning_rate_at` runs every step) only indexes a host array."""
    schedule = warmup_cosine_schedule(peak, warmup_steps=warmup, steps=total, end_value=peak * final_fraction)
    rates = np.asarray(schedule(np.arange(total + 1)), np.float64)
    rates.setflags(write=False)
    return rates


def _clip_values(config: FlameTokenizerConfig, source: Sequence[Any]) -> list[tuple[ClipMeta, np.ndarray]]:
    """``(meta, checked raw value)`` of every clip that has the modality."""
    out = [
        (clip.meta, check_raw(config, clip[config.modality], clip.meta))
        for clip in source
        if config.modality in clip
    ]
    if not out:
        raise DataError(f"no clip in the training source has a {config.modality!r} value")
    return out


class _WindowSampler:
    """Random training windows ``[batch, window, C]`` of normalized parameters (host side)."""

    def __init__(self, config: FlameTokenizerConfig, arrays: list[np.ndarray], seed: int):
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.window = config.train.window_frames if config.temporal else 1
        # A clip shorter than a window is padded at the end by repeating its last frame.
        self.arrays = [
            a[None, :] if not config.temporal else
            np.concatenate([a, np.repeat(a[-1:], max(0, self.window - a.shape[0]), axis=0)])
            for a in arrays
            if a.size
        ]
        lengths = np.array([a.shape[0] - self.window + 1 for a in self.arrays], np.float64)
        self.p = lengths / lengths.sum()

    def __call__(self, batch: int) -> np.ndarray:
        which = self.rng.choice(len(self.arrays), size=batch, p=self.p)
        out = np.empty((batch, self.window, self.config.input_dim), np.float32)
        for i, c in enumerate(which):
            start = self.rng.integers(0, self.arrays[c].shape[0] - self.window + 1)
            out[i] = self.arrays[c][start : start + self.window]
        return out


def _make_step(config: FlameTokenizerConfig, optim: optax.GradientTransformation):
    tc, mc = config.train, config.model

    @eqx.filter_jit
    def step(model: AnimationRVQVAE, state: RVQState, opt_state, batch: jax.Array, key: jax.Array):
        k_drop, k_update = jax.random.split(key)
        num_active = model.quantizer.sample_num_active(
            key=k_drop, batch=batch.shape[0], prob=mc.quantizer_dropout
        )

        def loss_fn(m: AnimationRVQVAE):
            recon, out = jax.vmap(lambda x, n: m(state, x, num_active=n))(batch, num_active)
            recon_loss = jnp.mean(jnp.square(recon - batch))
            commit = jnp.mean(jnp.sum(out.commit_loss, axis=-1))
            loss = tc.recon_weight * recon_loss + tc.commit_weight * commit
            return loss, (recon_loss, commit, out)

        (loss, (recon_loss, commit, out)), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model)
        updates, opt_state = optim.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        model = eqx.apply_updates(model, updates)
        mask = level_mask(num_active, mc.num_levels)[:, None, :]  # [B, 1, L]
        mask = jnp.broadcast_to(mask, out.codes.shape)  # [B, T/4, L]
        state = model.quantizer.update(state, out.residuals, out.codes, key=k_update, mask=mask)
        return model, state, opt_state, {"loss": loss, "recon": recon_loss, "commit": commit}

    return step


@eqx.filter_jit
def _round_trip(model: AnimationRVQVAE, state: RVQState, xs: jax.Array, num_levels: int) -> jax.Array:
    """``[B, T, C]`` normalized windows -> their reconstruction through the first levels' codes."""
    codes = jax.vmap(lambda x: model.encode(state, x))(xs)  # [B, T / 4, L]
    return jax.vmap(lambda c: model.decode(state, c))(codes[..., :num_levels])  # [B, T, C]


def evaluate_tokenizer(
    tokenizer: FlameTokenizer,
    clips: Sequence[tuple[ClipMeta, np.ndarray]],
    *,
    num_levels: int | None = None,
    batch_size: int = 256,
) -> dict[str, float]:
    """Reconstruction error through the tokens, in normalized units, against the zero baseline.

    Each raw value is checked, z-scored with the tokenizer's statistics, padded as `encode`
    pads it, quantized with all levels, decoded from the first ``num_levels`` levels (default
    all) and trimmed; clips of equal length are evaluated in batches of ``batch_size``.

    Returns ``mse`` (mean over frames and dimensions of ``(z - z_hat)^2`` with ``z`` the
    z-scored parameters), ``zero_baseline_mse`` (the same for ``z_hat = 0``, i.e. predicting
    the training mean) and their ``ratio``.

    Raises:
        DataError: no values to evaluate.
        RawValueError: a value of the wrong shape, or with NaN/inf.
        ConfigError: ``num_levels`` outside ``1..levels``.
    """
    cfg = tokenizer.config
    levels = cfg.model.num_levels if num_levels is None else int(num_levels)
    if not 1 <= levels <= cfg.model.num_levels:
        raise ConfigError(f"evaluate_tokenizer: num_levels must be in 1..{cfg.model.num_levels}, got {num_levels}")
    factor = cfg.model.time_factor
    groups: dict[int, list[np.ndarray]] = {}
    for meta, raw in clips:
        z = tokenizer.normalizer.normalize(check_raw(cfg, raw, meta))
        z = z[None, :] if not cfg.temporal else z  # identity: a length-1 sequence
        if z.shape[0]:
            groups.setdefault(z.shape[0], []).append(z)
    err = base = count = 0.0
    for frames, values in groups.items():
        pad = -frames % factor
        for lo in range(0, len(values), batch_size):
            z = np.stack(values[lo : lo + batch_size])  # [B, T, C]
            x = np.concatenate([z, np.repeat(z[:, -1:], pad, axis=1)], axis=1)  # [B, ceil(T/4)*4, C]
            z_hat = np.asarray(_round_trip(tokenizer.model, tokenizer.state, jnp.asarray(x), levels))[:, :frames]
            err += float(np.sum(np.square(z - z_hat)))
            base += float(np.sum(np.square(z)))
            count += z.size
    if count == 0:
        raise DataError(f"no {cfg.modality} values to evaluate on")
    mse, zero = err / count, base / count
    return {"mse": mse, "zero_baseline_mse": zero, "ratio": mse / zero if zero > 0 else float("nan")}


def train_tokenizer(
    config: FlameTokenizerConfig,
    source: Sequence[Any],
    *,
    out_dir: Path,
    steps: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Mapping[str, Any]:
    """Train one FLAME tokenizer on the clips of ``source`` and save it to ``out_dir``.

    The last ``holdout_fraction`` of the clips (at least one when there are two or more) is held
    out; normalization statistics come from the training clips only. The learning-rate schedule
    spans ``steps`` (default ``config.train.steps``); with ``seconds`` and no ``steps`` the step
    count is set from the measured speed of the first steps so the cosine completes in time.
    The ``seconds`` budget starts after the first (compiling) step and compile time does not
    count (`archon_framework.train.StepBudget`).

    Data-parallel over every device of the run (`archon_framework.train.DataParallel`, several
    processes too once they joined a cluster): the model, codebooks and optimizer state are
    replicated and each batch's rows split over the devices. Every process draws the whole batch
    from ``seed``, so the model trained does not depend on the number of devices or processes
    (up to float rounding; on one device it is the single-device run's). Only process 0 writes.

    Returns:
        A JSON-able report: steps, seconds, `archon_framework.train.training_record`'s keys
        (``training``, ``compile_s``, ``train_s``, ``below_min``: compile and training seconds
        apart, and whether the run stopped before ``train.min_steps``), final losses, held-out
        reconstruction error in normalized units with the zero (mean) baseline (see
        `evaluate_tokenizer`).
    """
    dp = DataParallel()
    dp.check_batch_size(config.train.batch_size, f"{config.modality} tokenizer: train.batch_size")
    values = _clip_values(config, source)
    n_hold = 0 if len(values) < 2 else max(1, round(config.train.holdout_fraction * len(values)))
    train, held = values[: len(values) - n_hold], values[len(values) - n_hold :]
    normalizer = Normalizer.fit([v for _, v in train])
    tok = FlameTokenizer.untrained(config, seed=seed)
    tok = FlameTokenizer(config, tok.model, tok.state, normalizer)
    sampler = _WindowSampler(config, [normalizer.normalize(v) for _, v in train], seed)

    optim = optax.inject_hyperparams(optax.adamw)(
        learning_rate=0.0, weight_decay=config.train.weight_decay
    )
    model, state = tok.model, tok.state
    opt_state = optim.init(eqx.filter(model, eqx.is_array))
    model, state, opt_state = dp.replicate((model, state, opt_state))
    step_fn = _make_step(config, optim)
    key = jax.random.key(seed + 1)

    total = steps if steps is not None else config.train.steps
    start = time.perf_counter()
    timed_from, metrics, done = 0.0, {}, 0
    budget = StepBudget(config.modality, steps=total, seconds=seconds, min_steps=config.train.min_steps)
    with budget:
        while budget.more():
            opt_state.hyperparams["learning_rate"] = dp.replicate(
                jnp.asarray(learning_rate_at(done, total, config), jnp.float32))
            key, sub = jax.random.split(key)
            batch = dp.put_global(sampler(config.train.batch_size))  # [B, window, C], rows over the devices
            model, state, opt_state, metrics = step_fn(model, state, opt_state, batch, dp.replicate(sub))
            if done < 5:  # the first step's end starts the budget; steps 2-5 are timed
                jax.block_until_ready(metrics)
            done += 1
            budget.step_done()
            if done == 2:  # compiled: time the next steps
                timed_from = time.perf_counter()
            if done == 5 and seconds is not None and steps is None:
                # Fit the schedule to the time budget (counted after the first step) so the cosine completes.
                per_step = (time.perf_counter() - timed_from) / 3
                total = max(done, min(total, done + int(budget.remaining() / per_step)))
                budget.steps = total
            if progress and (done % config.train.log_every == 1 or done == total):
                m = {k: float(v) for k, v in metrics.items()}
                print(f"[{config.modality}] step {done}/{total} loss {m['loss']:.4f} "
                      f"recon {m['recon']:.4f} commit {m['commit']:.4f}", file=sys.stderr, flush=True)

    trained = FlameTokenizer(config, *dp.local((model, state)), normalizer)
    if dp.is_primary:
        trained.save(out_dir)
    report: dict[str, Any] = {
        "modality": config.modality,
        "steps": done,
        "seconds": round(time.perf_counter() - start, 2),
        **training_record([budget.report()]),
        "train_clips": len(train),
        "heldout_clips": len(held),
        "final": {k: float(v) for k, v in metrics.items()},
    }
    report["heldout" if held else "train_eval"] = evaluate_tokenizer(trained, held or train)
    if dp.is_primary:
        atomic_write_text(Path(out_dir) / REPORT_FILE, json.dumps(report, indent=2) + "\n")
    return report
