"""Trainers of the semantic and image tokenizers (paper Sec. C.1: VQ-GAN-style, Adam, warm-up +
cosine schedule), with a rich progress bar, periodic checkpoints and a held-out report."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from archon_framework import ConfigError, DataError
from archon_framework.config import atomic_write_text
from archon_framework.optim import warmup_cosine_schedule
from archon_framework.train import DataParallel, StepBudget, training_record
from archon_semantic_magvit._config import TokenizerConfig, shipped_config
from archon_semantic_magvit._data import sample_image_batch, sample_semantic_batch, split_clips
from archon_semantic_magvit._discriminator import PatchDiscriminator
from archon_semantic_magvit._evaluate import evaluate_image, evaluate_semantic
from archon_semantic_magvit._losses import discriminator_loss, generator_loss
from archon_semantic_magvit._model import init_magvit
from archon_semantic_magvit._palette import labels_to_unit
from archon_semantic_magvit._tokenizer import ImageTokenizer, SemanticTokenizer

__all__ = ["Trainer", "train_semantic", "train_image"]


def _schedule(lr: float, cfg: TokenizerConfig, steps: int) -> optax.Schedule:
    return warmup_cosine_schedule(
        lr, warmup_steps=cfg.train.warmup_steps, steps=steps, end_value=lr * cfg.train.final_lr_fraction
    )


class Trainer:
    """One tokenizer, its discriminator and their Adam states; ``step`` is one jitted update.

    Data-parallel over every device of the run (`archon_framework.train.DataParallel`, several
    processes too once they joined a cluster): the state is replicated and each batch's rows
    split over the devices, so ``train.batch_size`` must be a multiple of the device count.
    """

    def __init__(self, config: TokenizerConfig, *, steps: int, seed: int = 0):
        self.config = config
        self.dp = DataParallel()
        self.dp.check_batch_size(config.train.batch_size, f"{config.modality} tokenizer: train.batch_size")
        km, kd = jax.random.split(jax.random.key(seed))
        self.model = init_magvit(config.model, key=km)
        self.disc = PatchDiscriminator(config.discriminator, temporal=config.model.temporal, key=kd)
        self.opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(_schedule(config.train.learning_rate, config, steps), b1=0.9, b2=0.99))
        self.disc_opt = optax.adam(_schedule(config.train.disc_learning_rate, config, steps), b1=0.5, b2=0.9)
        self.opt_state = self.opt.init(eqx.filter(self.model, eqx.is_array))
        self.disc_opt_state = self.disc_opt.init(eqx.filter(self.disc, eqx.is_array))
        self.model, self.disc, self.opt_state, self.disc_opt_state = self.dp.replicate(
            (self.model, self.disc, self.opt_state, self.disc_opt_state))
        self.step_count = 0
        self._planned = steps
        self._step = eqx.filter_jit(self._update)

    def _update(self, model, disc, opt_state, disc_opt_state, x, labels, adv_on):
        # adv_on is a traced 0-d bool: before adv_start (VQ-GAN's disc_start) the adversarial
        # term and the discriminator's update are the branches of lax.cond not taken, so the
        # step compiles once for the whole run (a static flag compiled it again, 39 s in the
        # demo, when the discriminator joined).
        cfg = self.config.loss
        (_, (metrics, recon)), grads = eqx.filter_value_and_grad(generator_loss, has_aux=True)(
            model, disc, x, labels, cfg, adv_on
        )
        updates, opt_state = self.opt.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        model = eqx.apply_updates(model, updates)
        if adv_on is False:  # no discriminator in this run (static): not even compiled
            return model, disc, opt_state, disc_opt_state, metrics
        arrays, static = eqx.partition(disc, eqx.is_array)

        def disc_update(arrays, disc_opt_state):
            disc = eqx.combine(arrays, static)
            d_loss, d_grads = eqx.filter_value_and_grad(discriminator_loss)(disc, x, recon)
            d_updates, disc_opt_state = self.disc_opt.update(d_grads, disc_opt_state, eqx.filter(disc, eqx.is_array))
            return eqx.filter(eqx.apply_updates(disc, d_updates), eqx.is_array), disc_opt_state, d_loss

        arrays, disc_opt_state, d_loss = jax.lax.cond(
            adv_on, disc_update, lambda a, o: (a, o, jnp.zeros((), jnp.float32)), arrays, disc_opt_state
        )
        return model, eqx.combine(arrays, static), opt_state, disc_opt_state, {**metrics, "disc": d_loss}

    def step(self, batch: np.ndarray) -> dict[str, float]:
        """One update on a uint8 batch: labels [B, T, H, W] (semantic) or images [B, H, W, 3], the
        whole batch (every process holds it; its rows are split over the devices).

        The metrics hold ``adv`` and ``disc`` once the discriminator is on (``loss.adv_start``).
        """
        if self.config.modality == "semantic":
            labels = self.dp.put_global(np.asarray(batch, np.int32))
            x = jnp.moveaxis(labels_to_unit(labels), -1, 1)  # [B, 3, T, H, W]
        else:
            labels = None
            x = jnp.moveaxis(self.dp.put_global(np.asarray(batch, np.float32)) / 127.5 - 1.0, -1, 1)[:, :, None]  # [B, 3, 1, H, W]
        adv_on = self.step_count >= self.config.loss.adv_start and self.config.loss.adv_weight > 0
        # Traced; or statically off when the discriminator has no weight or the run (its schedule's
        # length) ends before it starts, so that it is not compiled for nothing.
        can_adv = self.config.loss.adv_weight > 0 and (adv_on or self.config.loss.adv_start < self._planned)
        flag = self.dp.replicate(np.asarray(adv_on)) if can_adv else False
        self.model, self.disc, self.opt_state, self.disc_opt_state, metrics = self._step(
            self.model, self.disc, self.opt_state, self.disc_opt_state, x, labels, flag
        )
        self.step_count += 1
        return {k: float(v) for k, v in metrics.items() if adv_on or k not in ("adv", "disc")}

    def tokenizer(self) -> SemanticTokenizer | ImageTokenizer:
        """The tokenizer being trained (this process's copy of the weights)."""
        cls = SemanticTokenizer if self.config.modality == "semantic" else ImageTokenizer
        return cls(self.dp.local(self.model), self.config)


def _train(
    source: Sequence[Any],
    *,
    modality: str,
    out_dir: Path,
    steps: int | None,
    seconds: float | None,
    seed: int,
    progress: bool,
    config: TokenizerConfig | None,
    held_out: Sequence[Any] | None,
) -> dict[str, Any]:
    config = config or shipped_config(f"{modality}_tiny")
    if config.modality != modality:
        raise ConfigError(f"train_{modality} got a config for modality {config.modality!r}")
    total = steps if steps is not None else (None if seconds is not None else config.train.steps)
    if held_out is None:
        train_clips, eval_clips = split_clips(source, config.train.eval_clips)
    else:
        train_clips, eval_clips = list(source), list(held_out)
        if not eval_clips:
            raise DataError(f"train_{modality}: held_out is empty; pass at least one held-out clip (or None)")
    trainer = Trainer(config, steps=total or config.train.steps, seed=seed)
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    start, history = time.monotonic(), []
    columns = (TextColumn(f"[bold]{modality} tokenizer"), BarColumn(), TextColumn("{task.completed} steps"),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    # The seconds budget starts after the first (compiling) step; compile time is kept apart.
    budget = StepBudget(f"{modality} tokenizer", steps=total, seconds=seconds, min_steps=config.train.min_steps)
    with budget, Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task("train", total=total, info="")
        while budget.more():
            if modality == "semantic":
                batch = sample_semantic_batch(train_clips, config.train.batch_size, config.train.clip_frames, rng=rng,
                                              crop=config.train.crop_size)
            else:
                batch = sample_image_batch(train_clips, config.train.batch_size, rng=rng, crop=config.train.crop_size)
            metrics = trainer.step(batch)  # floats: the step has run
            budget.step_done()
            history.append(metrics)
            bar.update(task, advance=1, info=f"loss {metrics['total']:.4f}")
            if trainer.step_count % config.train.checkpoint_every == 0 and trainer.dp.is_primary:
                trainer.tokenizer().save(out_dir)
    tokenizer = trainer.tokenizer()
    if trainer.dp.is_primary:  # process 0 alone writes
        tokenizer.save(out_dir)
    evaluate = evaluate_semantic if modality == "semantic" else evaluate_image
    report = {
        "modality": modality,
        "steps": trainer.step_count,
        "seconds": round(time.monotonic() - start, 2),
        **training_record([budget.report()]),
        "first_loss": history[0]["total"] if history else None,
        "final_loss": float(np.mean([h["total"] for h in history[-10:]])) if history else None,
        "train_clips": len(train_clips),
        "eval_clips": len(eval_clips),
        **evaluate(tokenizer, train_clips, eval_clips),
    }
    if trainer.dp.is_primary:
        atomic_write_text(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    return report


def train_semantic(
    source: Sequence[Any],
    *,
    out_dir: Path,
    steps: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
    config: TokenizerConfig | None = None,
    held_out: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Train the semantic tokenizer on ``clip["semantic"]`` of each clip (the TokenizerTrainer protocol).

    Saves ``config.json`` + ``model.eqx`` (+ ``report.json``) to ``out_dir`` and returns the report:
    held-out per-pixel label accuracy and mean IoU against the majority-label baseline, and
    `archon_framework.train.training_record`'s keys (``training``, ``compile_s``, ``train_s``,
    ``below_min``: compile and training seconds apart, and whether the run stopped before
    ``train.min_steps``; a ``seconds`` budget starts after the first compiled step). The
    held-out clips are ``held_out`` when given (e.g. a validation split), else the last
    ``config.train.eval_clips`` clips of ``source`` (at most half of them).
    """
    return _train(source, modality="semantic", out_dir=out_dir, steps=steps, seconds=seconds,
                  seed=seed, progress=progress, config=config, held_out=held_out)


def train_image(
    source: Sequence[Any],
    *,
    out_dir: Path,
    steps: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
    config: TokenizerConfig | None = None,
    held_out: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Train the image tokenizer on ``clip["image"]``; the report has held-out PSNR vs mean colour.

    ``held_out`` as in :func:`train_semantic`.
    """
    return _train(source, modality="image", out_dir=out_dir, steps=steps, seconds=seconds,
                  seed=seed, progress=progress, config=config, held_out=held_out)
