"""Training of the SoundStream codec on the speech of a sequence of clips (SoundStream Sec. 3.5).

One step: sample ``batch_size`` random segments, draw each example's number of RVQ levels
(quantizer dropout), reconstruct, take a generator step on mel + STFT + commitment (+ hinge
adversarial and feature matching once ``loss.adversarial_start`` is reached), update the
codebooks by EMA (k-means on the first batch, dead codes replaced), then a discriminator step.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from archon_framework import ConfigError, DataError
from archon_framework.config import atomic_write_text
from archon_framework.nn import RVQState, level_mask
from archon_framework.nn import expected_code_counts as rvq_code_counts
from archon_framework.optim import warmup_cosine_schedule
from archon_framework.train import DataParallel, StepBudget, TrainReport, training_record
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ._audio import check_wave
from ._codec import SoundStream, codec_apply_batch, init_codec, save_codec
from ._config import CodecConfig, LossConfig, SoundStreamConfig, TrainConfig
from ._discriminator import STFTDiscriminator
from ._losses import (
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    multiresolution_stft_loss,
    multiscale_mel_loss,
)

__all__ = [
    "SoundStreamTrainer",
    "collect_speech",
    "expected_code_counts",
    "lr_schedule",
    "sample_segments",
    "train_tokenizer",
]


def collect_speech(source: Sequence[Any], *, modality: str = "speech") -> list[np.ndarray]:
    """The validated speech waves of ``source`` (clips, mappings with a "speech" value, or arrays).

    Raises:
        DataError: an empty source or a clip without speech.
        RawValueError: a clip whose speech is not a valid wave (names the clip).
    """
    waves = []
    for i, item in enumerate(source):
        if isinstance(item, np.ndarray):
            value, where = item, f"source item {i}"
        else:
            clip_id = getattr(item, "clip_id", f"#{i}")
            try:
                value = item[modality]
            except (KeyError, TypeError) as err:
                raise DataError(f"speech trainer: clip {clip_id!r} has no {modality!r} value") from err
            where = f"clip {clip_id!r}"
        waves.append(check_wave(value, where=where))
    if not waves:
        raise DataError("speech trainer: the training source holds no clips")
    return waves


def sample_segments(
    waves: Sequence[np.ndarray], rng: np.random.Generator, *, batch: int, samples: int
) -> np.ndarray:
    """``[batch, samples]`` random segments; clips shorter than a segment are end-padded with silence."""
    out = np.zeros((batch, samples), np.float32)
    lengths = np.array([len(w) for w in waves], np.float64)
    picks = rng.choice(len(waves), size=batch, p=lengths / lengths.sum())
    for b, i in enumerate(picks):
        w = waves[i]
        start = int(rng.integers(0, max(len(w) - samples, 0) + 1))
        seg = w[start : start + samples]
        out[b, : len(seg)] = seg
    return out


# ---- jitted steps (cached per config, so every trainer of one config shares the compilation) ---


def _opt_key(train: TrainConfig, steps: int) -> tuple:
    """The optimizer settings only, so runs that differ in seed (or, at a constant rate, in
    steps) share compilations: ``(lr, disc_lr, b1, b2, warmup, final_fraction, schedule_steps)``."""
    scheduled = train.final_lr_fraction < 1.0
    return (
        train.learning_rate, train.disc_learning_rate, train.b1, train.b2,
        train.warmup_steps, train.final_lr_fraction, steps if scheduled else 0,
    )  # fmt: skip


def lr_schedule(peak: float, *, warmup_steps: int, final_fraction: float, steps: int) -> optax.Schedule:
    """Linear warm-up over ``warmup_steps`` to ``peak``, then (``final_fraction < 1``) a cosine
    decay to ``peak * final_fraction`` at ``steps``; constant after the warm-up otherwise."""
    return warmup_cosine_schedule(
        peak, warmup_steps=warmup_steps, steps=None if final_fraction >= 1.0 else steps,
        end_value=peak * final_fraction,
    )


@functools.lru_cache(maxsize=8)
def _optimizers(opt: tuple) -> tuple[optax.GradientTransformation, ...]:
    lr, disc_lr, b1, b2, warmup, final, steps = opt
    return tuple(
        optax.adam(lr_schedule(peak, warmup_steps=warmup, final_fraction=final, steps=steps), b1=b1, b2=b2)
        for peak in (lr, disc_lr)
    )


@functools.lru_cache(maxsize=8)
def _train_step(codec_cfg: CodecConfig, loss_cfg: LossConfig, opt: tuple):
    """The whole update, jitted once: generator + codebooks, and (``adv`` true) the discriminator.

    ``adv`` (from ``loss.adversarial_start``) is a traced flag and the adversarial terms and the
    discriminator step sit in ``lax.cond`` branches, so the step compiles once for the whole run
    (with a static flag it compiled again, a minute on 2 cores, when the discriminator joined).
    Before the start the branch not taken costs nothing at run time, and the total is the same
    number as without the terms (``x + 0.0 == x``). ``adv`` may also be the Python ``False``, for
    a run planned to end before the start: then the discriminator is not compiled at all.
    """
    gen_opt, disc_opt = _optimizers(opt)

    def adv_terms(disc, x, recon):
        fake_logits, fake_feats = jax.vmap(disc)(recon)  # [B, samples] -> [B, steps]
        _, real_feats = jax.vmap(disc)(x)
        return hinge_generator_loss(fake_logits), feature_matching_loss(real_feats, fake_feats)

    def loss_fn(codec: SoundStream, disc_arrays, disc_static, state: RVQState, x, num_active, adv):
        recon, out = codec_apply_batch(codec, state, x, num_active)  # [B, samples]
        mel = jnp.mean(
            jax.vmap(
                lambda a, b: multiscale_mel_loss(
                    a, b, scales=loss_cfg.mel_scales, n_mels=loss_cfg.n_mels, log_floor=loss_cfg.log_floor
                )
            )(x, recon)
        )
        stft = jnp.mean(
            jax.vmap(
                lambda a, b: multiresolution_stft_loss(a, b, scales=loss_cfg.mel_scales, log_floor=loss_cfg.log_floor)
            )(x, recon)
        )
        commit = jnp.mean(jnp.sum(out.commit_loss, axis=-1))
        total = (
            loss_cfg.mel_weight * mel
            + loss_cfg.stft_weight * stft
            + loss_cfg.commitment_weight * commit
            + loss_cfg.wave_weight * jnp.mean(jnp.abs(x - recon))
        )
        zero = jnp.zeros((), total.dtype)
        adv_loss, feat = (zero, zero) if adv is False else jax.lax.cond(
            adv, lambda d, a, b: adv_terms(eqx.combine(d, disc_static), a, b), lambda *_: (zero, zero),
            disc_arrays, x, recon,
        )
        total = total + loss_cfg.adversarial_weight * adv_loss  # both 0 before the start
        total = total + loss_cfg.feature_weight * feat
        metrics = {"mel": mel, "stft": stft, "commit": commit, "adv": adv_loss, "feat": feat, "loss": total}
        return total, (metrics, out, recon)

    def disc_loss_fn(disc, x, recon):
        real, _ = jax.vmap(disc)(x)  # [B, samples] -> [B, steps]
        fake, _ = jax.vmap(disc)(recon)
        return hinge_discriminator_loss(real, fake)

    def disc_update(disc_arrays, disc_opt_state, x, recon, *, disc_static):
        disc = eqx.combine(disc_arrays, disc_static)
        loss, grads = eqx.filter_value_and_grad(disc_loss_fn)(disc, x, recon)
        updates, disc_opt_state = disc_opt.update(grads, disc_opt_state, eqx.filter(disc, eqx.is_inexact_array))
        return eqx.filter(eqx.apply_updates(disc, updates), eqx.is_array), disc_opt_state, loss

    def step(codec, disc, state, opt_state, disc_opt_state, x, key, adv):
        disc_arrays, disc_static = eqx.partition(disc, eqx.is_array)
        k_drop, k_update = jax.random.split(key)
        num_active = codec.quantizer.sample_num_active(key=k_drop, batch=x.shape[0], prob=codec_cfg.quantizer_dropout)
        grad_fn = eqx.filter_value_and_grad(loss_fn, has_aux=True)
        (_, (metrics, out, recon)), grads = grad_fn(codec, disc_arrays, disc_static, state, x, num_active, adv)
        updates, opt_state = gen_opt.update(grads, opt_state, eqx.filter(codec, eqx.is_inexact_array))
        codec = eqx.apply_updates(codec, updates)
        mask = level_mask(num_active, codec_cfg.levels)[:, None, :]  # [B, 1, levels]
        mask = jnp.broadcast_to(mask, out.codes.shape)  # -> [B, frames, levels]
        state = codec.quantizer.update(state, out.residuals, out.codes, key=k_update, mask=mask)
        # The discriminator learns from this step's reconstructions (of the codec before its update).
        recon = jax.lax.stop_gradient(recon)

        def skip(d, o, *_):
            return d, o, jnp.zeros((), jnp.float32)

        disc_arrays, disc_opt_state, d_loss = skip(disc_arrays, disc_opt_state) if adv is False else jax.lax.cond(
            adv, functools.partial(disc_update, disc_static=disc_static), skip, disc_arrays, disc_opt_state, x, recon,
        )
        metrics["disc"] = d_loss
        return codec, state, eqx.combine(disc_arrays, disc_static), opt_state, disc_opt_state, metrics

    return eqx.filter_jit(step)


def expected_code_counts(cfg: SoundStreamConfig) -> np.ndarray:
    """``[levels]``: `archon_framework.nn.expected_code_counts` for this config's training steps
    (``batch_size * segment_samples / hop`` frames a step, ``codec.quantizer_dropout``)."""
    c, t = cfg.codec, cfg.train
    return rvq_code_counts(
        t.batch_size * t.segment_samples / c.hop_length,
        num_levels=c.levels,
        codebook_size=c.codebook_size,
        dropout=c.quantizer_dropout,
    )


class SoundStreamTrainer:
    """Adam on the codec (generator) and the STFT discriminator; EMA on the codebooks.

    Attributes:
        cfg: the whole configuration (``train`` and ``loss`` sections drive this class).
        codec, state, disc: the current codec, codebook state and discriminator.
        step: optimizer steps taken.
        train_report: the last `fit`'s `TrainReport` (compile and training seconds apart, and
            whether it stopped below ``train.min_steps``); None before the first `fit`.

    ``steps`` (default ``train.steps``) is the length of the learning-rate schedule
    (`lr_schedule`: ``train.warmup_steps``, ``train.final_lr_fraction``); it matters only when
    the rate decays.

    Data-parallel over every device of the run (`archon_framework.train.DataParallel`, several
    processes too once they joined a cluster): codec, codebooks, discriminator and optimizer
    states are replicated and each batch's rows split over the devices (``train.batch_size`` a
    multiple of the device count). Every process draws the whole batch from the seed, so the
    codec trained does not depend on the device or process count (up to float rounding); only
    process 0 writes.
    """

    def __init__(self, cfg: SoundStreamConfig, *, seed: int | None = None, steps: int | None = None):
        self.cfg = cfg
        self.dp = DataParallel()
        self.dp.check_batch_size(cfg.train.batch_size, "speech codec: train.batch_size")
        # The learning-rate schedule spans ``steps`` (default ``train.steps``).
        self._planned = cfg.train.steps if steps is None else steps
        self._opt = _opt_key(cfg.train, self._planned)
        expected = expected_code_counts(cfg)
        if cfg.codec.dead_code_threshold > 0.5 * expected.min():
            warnings.warn(
                f"speech codec: codec.dead_code_threshold = {cfg.codec.dead_code_threshold} is above "
                f"half the EMA count of an evenly used code at the deepest level "
                f"({expected.min():.3g}, from train.batch_size x train.segment_samples and "
                f"codec.codebook_size): live codes would be replaced every step",
                stacklevel=2,
            )
        seed = cfg.train.seed if seed is None else seed
        k_codec, k_disc, self._key = jax.random.split(jax.random.key(seed), 3)
        self.codec, self.state = init_codec(cfg, key=k_codec)
        self.disc = STFTDiscriminator(cfg.discriminator, key=k_disc)
        gen_opt, disc_opt = _optimizers(self._opt)
        self._gen_opt_state = gen_opt.init(eqx.filter(self.codec, eqx.is_inexact_array))
        self._disc_opt_state = disc_opt.init(eqx.filter(self.disc, eqx.is_inexact_array))
        self.codec, self.state, self.disc, self._gen_opt_state, self._disc_opt_state = self.dp.replicate(
            (self.codec, self.state, self.disc, self._gen_opt_state, self._disc_opt_state))
        self._rng = np.random.default_rng(seed)
        self.step = 0
        self.train_report: TrainReport | None = None

    # ---- public loop --------------------------------------------------------------------------

    def train_step(self, batch: np.ndarray) -> dict[str, float]:
        """One generator + codebook (+ discriminator) step on ``batch`` ``[B, samples]`` (the whole
        batch: every process holds it, and its rows are split over the devices).

        The metrics hold ``adv``, ``feat`` and ``disc`` from ``loss.adversarial_start`` on.
        """
        self._key, key = jax.random.split(self._key)
        adv = self.step >= self.cfg.loss.adversarial_start
        x = self.dp.put_global(np.asarray(batch))
        key = self.dp.replicate(key)
        # One compiled step for the whole run: `adv` is traced (a 0-d array), not static; a run
        # planned to end before the discriminator starts compiles the step without it (False).
        flag = self.dp.replicate(np.asarray(adv)) if adv or self.cfg.loss.adversarial_start < self._planned else False
        (self.codec, self.state, self.disc, self._gen_opt_state, self._disc_opt_state,
         metrics) = _train_step(self.cfg.codec, self.cfg.loss, self._opt)(
            self.codec, self.disc, self.state, self._gen_opt_state, self._disc_opt_state, x, key, flag
        )
        out = {k: float(v) for k, v in metrics.items() if adv or k not in ("adv", "feat", "disc")}
        self.step += 1
        return out

    def fit(
        self,
        source: Sequence[Any],
        *,
        out_dir: Path | None = None,
        steps: int | None = None,
        seconds: float | None = None,
        progress: bool = True,
    ) -> list[dict[str, float]]:
        """Train for ``steps`` (default ``train.steps``) or until ``seconds`` of training pass.

        The ``seconds`` budget starts once the first step (the one that compiles) has run, and
        time spent compiling does not count (`archon_framework.train.StepBudget`); the first step
        is always taken. Saves the codec under ``out_dir`` every ``train.checkpoint_every`` steps
        and at the end. Returns the per-step metrics; `train_report` holds the compile/train
        split and whether the run stopped below ``train.min_steps``.
        """
        waves = collect_speech(source)
        t = self.cfg.train
        steps = t.steps if steps is None and seconds is None else steps
        history: list[dict[str, float]] = []
        columns = (
            TextColumn("[bold]speech codec"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps" if steps else "{task.completed} steps"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        budget = StepBudget("speech codec", steps=steps, seconds=seconds, min_steps=t.min_steps)
        with budget, Progress(*columns, disable=not progress, transient=False) as bar:
            task = bar.add_task("train", total=steps, info="")
            while budget.more():
                batch = sample_segments(waves, self._rng, batch=t.batch_size, samples=t.segment_samples)
                metrics = self.train_step(batch)  # floats: the step has run
                budget.step_done()
                history.append(metrics)
                bar.update(task, advance=1, info=f"mel {metrics['mel']:.3f} commit {metrics['commit']:.3f}")
                if (out_dir is not None and t.checkpoint_every and self.step % t.checkpoint_every == 0
                        and self.dp.is_primary):
                    self.save(out_dir)
        self.train_report = budget.report()
        if out_dir is not None and self.dp.is_primary:
            self.save(out_dir)
        return history

    def save(self, out_dir: Path) -> Path:
        """Save the codec (loadable by the tokenizer factory) and a small training record."""
        out_dir = Path(out_dir)
        save_codec(out_dir, self.cfg, *self.dp.local((self.codec, self.state)))
        atomic_write_text(out_dir / "train_state.json", json.dumps({"step": self.step}) + "\n")
        return out_dir


#: What a recipe's ``[demo.tokenizer_options.speech]`` may set: a shipped config by name.
TRAINER_OPTIONS = ("config",)


def with_options(config: SoundStreamConfig, options: Mapping[str, Any] | None) -> SoundStreamConfig:
    """``config``, or the shipped config an ``options`` table names (``{"config": "small"}``);
    anything else is a ConfigError naming the speech tokenizer and the key."""
    from ._config import SHIPPED_CONFIGS, shipped_config

    if not options:
        return config
    unknown = sorted(set(options) - set(TRAINER_OPTIONS))
    if unknown:
        raise ConfigError(f"speech tokenizer: unknown trainer option(s) {', '.join(unknown)} "
                          f"(it takes: {', '.join(TRAINER_OPTIONS)})")
    name = options["config"]
    if name not in SHIPPED_CONFIGS:
        raise ConfigError(f"speech tokenizer: option config must be one of {', '.join(SHIPPED_CONFIGS)}, got {name!r}")
    chosen = shipped_config(name)
    if (chosen.codec.codebook_size, chosen.tokens.levels) != (config.codec.codebook_size, config.tokens.levels):
        raise ConfigError(f"speech tokenizer: config {name!r} has {chosen.tokens.levels} x {chosen.codec.codebook_size} "
                          f"tokens, the modality's vocabulary {config.tokens.levels} x {config.codec.codebook_size}")
    return chosen


def train_tokenizer(
    source: Sequence[Any],
    *,
    out_dir: Path,
    steps: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
    config: SoundStreamConfig | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The speech modality's `TokenizerTrainer`: train a codec on ``clip["speech"]`` of ``source``.

    With two or more clips the last one is held out (its first 4 s at most) for the report;
    with one clip the report is measured on it (not held out; the report says so). The codec
    is saved under ``out_dir``, loadable with ``make_tokenizer(out_dir)``.

    Args:
        source: clips (anything with a ``"speech"`` value: ``float32 [samples]`` at 16 kHz).
        out_dir: where to save the codec.
        steps: optimizer steps (default: ``train.steps`` of the config unless ``seconds`` is set).
        seconds: wall-clock budget; training stops at whichever of steps/seconds comes first.
        seed: PRNG seed.
        progress: show a rich progress bar.
        config: the codec config (default: the shipped tiny config).
        options: a recipe's trainer options (`TRAINER_OPTIONS`): ``{"config": "small"}`` trains
            a shipped config by name instead of `config` (the vocabulary, 4 levels x 1024 codes,
            is the same in all of them).

    Returns:
        ``{"steps", "seconds", "training", "compile_s", "train_s", "below_min", "final_losses",
        "held_out", "mcd_dtw_levels_1", "mcd_dtw_levels_4", "mcd_dtw_silence",
        "mcd_dtw_speech_levels_1", ..., "protocol"}`` (the `evaluate_levels` keys); ``training``
        ... ``below_min`` are `archon_framework.train.training_record`'s (compile and training
        seconds apart, and whether the run stopped below ``train.min_steps``).
    """
    from ._config import shipped_config
    from ._evaluate import evaluate_levels
    from ._tokenizer import SoundStreamTokenizer

    cfg = with_options(shipped_config("tiny") if config is None else config, options)
    waves = collect_speech(source)
    held_out = len(waves) >= 2
    train_waves = waves[:-1] if held_out else waves
    eval_waves = [waves[-1][: 4 * 16_000]]
    trainer = SoundStreamTrainer(cfg, seed=seed, steps=steps)
    start = time.monotonic()
    history = trainer.fit(train_waves, out_dir=Path(out_dir), steps=steps, seconds=seconds, progress=progress)
    elapsed = time.monotonic() - start
    tokenizer = SoundStreamTokenizer(cfg, *trainer.dp.local((trainer.codec, trainer.state)))
    report: dict[str, Any] = {
        "steps": trainer.step,
        "seconds": round(elapsed, 1),
        **training_record([trainer.train_report]),
        "final_losses": history[-1] if history else {},
        "held_out": held_out,
    }
    report.update(evaluate_levels(tokenizer, eval_waves, levels=(1, cfg.tokens.levels)))
    if trainer.dp.is_primary:  # process 0 alone writes
        atomic_write_text(Path(out_dir) / "report.json", json.dumps(report, indent=2) + "\n")
    return report
