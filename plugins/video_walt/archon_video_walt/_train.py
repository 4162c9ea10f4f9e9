"""Training of the video decoder: the autoencoder first, then the denoiser on frozen latents.

Stage 1 (autoencoder): L1 + MSE reconstruction + a small KL term on random windows of
``train.ae_frames`` frames, random crops of ``train.ae_crop`` pixels (the network is fully
convolutional) and horizontal flips. Stage 2 (denoiser): every clip is cut into windows of
``chunk_frames`` frames (starts ``train.window_stride`` apart), each encoded the first time a
batch draws it; latents are normalized per channel; each step draws t ~ U(0, 1), noise, the
condition dropout of classifier-free guidance and the continuation task, and minimizes the MSE
between predicted and true v (Salimans & Ho) over the latent frames that are not given. AdamW
(or Adafactor, the paper's) with linear warm-up then cosine decay (or the paper's constant rate,
``train.schedule``); gradients clipped at norm 1.

Both stages are data-parallel over every device of the run (`archon_framework.train.DataParallel`,
several processes too once they joined a cluster): the state is replicated and each batch's rows
split over the devices. Every process draws the whole batch from the seed, so the decoder trained
does not depend on the device or process count (up to float rounding); only process 0 writes.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from archon_framework import ConfigError
from archon_framework.config import atomic_write_text
from archon_framework.optim import warmup_cosine_schedule
from archon_framework.train import DataParallel, StepBudget, training_record
from archon_video_walt._autoencoder import Autoencoder
from archon_video_walt._config import VideoConfig, shipped_config
from archon_video_walt._data import (
    TrainingClip,
    frame_window,
    prepare_clips,
    sample_video_batch,
    split_clips,
    window_starts,
)
from archon_video_walt._denoiser import Conditions, Denoiser
from archon_video_walt._renderer import AE_FILE, CONFIG_FILE, LatentStats, VideoRenderer, load_module, read_config, save_module, to_unit
from archon_video_walt._schedule import alpha_sigma, v_target

__all__ = ["AutoencoderTrainer", "DenoiserTrainer", "LatentWindows", "encode_windows", "lr_schedule", "stage_steps", "train_video_decoder"]


def lr_schedule(lr: float, warmup: int, steps: int, decay: str = "cosine") -> optax.Schedule:
    """Linear warm-up from 0 to ``lr`` over ``warmup`` steps, then a cosine decay to lr / 10 at
    ``steps`` (the warm-up clipped to steps - 1) or (``decay="constant"``, the paper's) the
    constant rate ``lr`` (`archon_framework.optim.warmup_cosine_schedule`)."""
    return warmup_cosine_schedule(
        lr, warmup_steps=warmup, steps=None if decay == "constant" else steps, end_value=0.1 * lr
    )


@functools.lru_cache(maxsize=None)
def _transform(name: str, weight_decay: float) -> optax.GradientTransformation:
    """Gradient clipping at norm 1, then AdamW or Adafactor whose learning rate is an injected
    hyperparameter set at every step (from :func:`lr_schedule`, on the host).

    The schedule is not baked into the transformation, and one object serves every trainer with the
    same optimizer, so every trainer of a config shares one compiled update step.
    """
    if name == "adafactor":
        static = ("min_dim_size_to_factor", "decay_rate", "decay_offset", "clipping_threshold", "eps", "dtype_momentum")
        inner = optax.inject_hyperparams(optax.adafactor, static_args=static)(
            learning_rate=0.0, weight_decay_rate=weight_decay or None)
    else:
        inner = optax.inject_hyperparams(optax.adamw)(learning_rate=0.0, b1=0.9, b2=0.99, weight_decay=weight_decay)
    return optax.chain(optax.clip_by_global_norm(1.0), inner)


def _flat(name: str) -> bool:
    """Whether the optimizer runs on all parameters raveled into one vector.

    AdamW's update is elementwise and the clipping takes one global norm, so on one vector it is
    the same update, compiled as a few fused loops instead of several per parameter array (the
    denoiser has 110 arrays). Adafactor factors each matrix's second moment: it needs the arrays.
    """
    return name != "adafactor"


def _opt_params(model, flat: bool):
    """The optimizer's view of ``model``'s parameters: their arrays, or one vector when ``flat``."""
    params = eqx.filter(model, eqx.is_array)
    return ravel_pytree(params)[0] if flat else params


def _apply(tx: optax.GradientTransformation, grads, opt_state, model, lr, flat: bool = False):
    """One optimizer update at learning rate ``lr`` (a traced scalar); returns (model, opt_state)."""
    clip_state, inner = opt_state
    inner = inner._replace(hyperparams={**inner.hyperparams, "learning_rate": jnp.asarray(lr, jnp.float32)})
    if flat:
        params, unravel = ravel_pytree(eqx.filter(model, eqx.is_array))
        updates, opt_state = tx.update(ravel_pytree(grads)[0], (clip_state, inner), params)
        return eqx.apply_updates(model, unravel(updates)), opt_state
    updates, opt_state = tx.update(grads, (clip_state, inner), eqx.filter(model, eqx.is_array))
    return eqx.apply_updates(model, updates), opt_state


@eqx.filter_jit
def _autoencoder_update(model, opt_state, x, key, lr, *, kl_weight: float, tx: optax.GradientTransformation,
                        flat: bool = True):
    def loss_fn(model):
        keys = jax.random.split(key, x.shape[0])
        recon, kl = jax.vmap(lambda v, k: model(v, key=k))(x, keys)
        mse = jnp.mean((recon - x) ** 2)
        l1 = jnp.mean(jnp.abs(recon - x))
        kl = jnp.mean(kl)
        return l1 + mse + kl_weight * kl, {"mse": mse, "l1": l1, "kl": kl}

    (loss, metrics), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model)
    model, opt_state = _apply(tx, grads, opt_state, model, lr, flat)
    return model, opt_state, {"loss": loss, **metrics}


class AutoencoderTrainer:
    """The autoencoder and its optimizer state; ``step`` is one jitted update on a uint8 batch
    (replicated on every device of the run, the batch's rows split over them)."""

    def __init__(self, config: VideoConfig, *, steps: int, seed: int = 0, model: Autoencoder | None = None):
        self.config = config
        self.dp = DataParallel()
        self.dp.check_batch_size(config.train.ae_batch_size, "video autoencoder: train.ae_batch_size")
        self.model = model or Autoencoder(config.autoencoder, key=jax.random.key(seed))
        tc = config.train
        self.schedule = lr_schedule(tc.ae_learning_rate, min(tc.warmup_steps, steps // 10), steps)
        self.tx = _transform("adamw", 0.0)
        self.flat = _flat("adamw")
        self.opt_state = self.tx.init(_opt_params(self.model, self.flat))
        self.model, self.opt_state = self.dp.replicate((self.model, self.opt_state))
        self.key = jax.random.key(seed + 1)
        self.step_count = 0

    def step(self, batch: np.ndarray) -> dict[str, float]:
        """One update on uint8 videos [B, T, H, W, 3] (T = 1 + n D_t)."""
        self.key, sub = jax.random.split(self.key)
        lr = np.float32(self.schedule(self.step_count))
        self.model, self.opt_state, metrics = _autoencoder_update(
            self.model, self.opt_state, self._unit(batch), *self.dp.replicate((sub, lr)), kl_weight=self.config.autoencoder.kl_weight, tx=self.tx,
            flat=self.flat)
        self.step_count += 1
        return {k: float(v) for k, v in metrics.items()}

    def loss(self, batch: np.ndarray, *, key: jax.Array) -> dict[str, float]:
        """The losses of the current model on ``batch`` with the latent noise drawn from ``key``,
        without updating anything (the compiled step at learning rate 0, its results dropped)."""
        _, _, metrics = _autoencoder_update(self.model, self.opt_state, self._unit(batch),
                                            *self.dp.replicate((key, np.float32(0.0))), kl_weight=self.config.autoencoder.kl_weight, tx=self.tx, flat=self.flat)
        return {k: float(v) for k, v in metrics.items()}

    def _unit(self, batch: np.ndarray) -> jax.Array:
        """The whole uint8 batch (every process holds it) in [-1, 1], its rows over the devices."""
        return to_unit(self.dp.put_global(np.asarray(batch)))


class LatentWindows:
    """The denoiser's training windows: every clip cut into ``chunk_frames``-frame windows
    (starts ``train.window_stride`` apart), each encoded by the frozen autoencoder the first time
    a batch draws it and kept, normalized per channel, for the rest of the stage.

    Encoding is the costly part of the stage's start (a convolution over every frame at full
    resolution): encoding every window up front made a time-budgeted run spend its budget before
    the first update, while a run of ``steps`` x ``batch_size`` draws never touches the windows
    it does not draw. The per-channel statistics come from a fixed sample of ``stats_windows``
    windows drawn with ``seed`` (every window when there are no more), encoded at construction.
    :meth:`fill` encodes the rest at once.

    Args:
        ae: the frozen autoencoder.
        clips: the training clips.
        config: the video config (``chunk_frames``, ``train.window_stride``).
        stats: normalization statistics to use instead of measuring them.
        batch: windows per encoder call (always full: one compiled encoder). The encoding is
            compute-bound (0.11 s a window at the tiny config on 2 cores, at 1, 2 or 4 a call),
            so 1 wastes nothing on padding a step's few new windows to a full call.
        stats_windows: windows whose latents measure the statistics (None: every window).
        seed: draws the statistics' sample.
    """

    def __init__(self, ae: Autoencoder, clips: Sequence[TrainingClip], config: VideoConfig, *,
                 stats: LatentStats | None = None, batch: int = 1, stats_windows: int | None = 64, seed: int = 0):
        if batch < 1 or (stats_windows is not None and stats_windows < 1):
            raise ConfigError(f"video denoiser: the encoding batch ({batch}) and the statistics' windows "
                              f"({stats_windows}) must be at least 1")
        self._ae, self._clips, self._batch = ae, list(clips), batch
        self._frames = config.chunk_frames
        index = [(i, s) for i, clip in enumerate(self._clips)
                 for s in window_starts(clip.video.shape[0], self._frames, config.train.window_stride)]
        if not index:
            raise ConfigError(f"video denoiser: no training window of {self._frames} frames in {len(self._clips)} clips")
        self.clip_index = np.array([i for i, _ in index])
        self.start = np.array([s for _, s in index])
        self.encode_s = 0.0  # wall seconds spent encoding so far
        # [N, C, T', h, w] window latents and [clips, C, h, w] reference-image latents (each image a lone frame)
        self._windows = _Lazy(len(index), lambda idx: self._normalize(self._encode([self._window(k) for k in idx])))
        self._refs = _Lazy(len(self._clips),
                           lambda idx: self._normalize(self._encode([self._clips[c].image[None] for c in idx])[:, :, 0]))
        sample, raw = None, None
        if stats is None:
            sample = np.arange(len(index))
            if stats_windows is not None and len(index) > stats_windows:
                sample = np.sort(np.random.default_rng(seed).choice(len(index), stats_windows, replace=False))
            raw = self._encode([self._window(k) for k in sample])
            stats = LatentStats.of(raw)
        self.stats = stats
        self._mean, self._std = (np.asarray(a, np.float32) for a in (stats.mean, stats.std))
        if sample is not None and raw is not None:
            self._windows.put(sample, self._normalize(raw))

    def __len__(self) -> int:
        return len(self.clip_index)

    @property
    def encoded(self) -> int:
        """How many windows are encoded so far."""
        return int(self._windows.have.sum())

    @property
    def encoded_windows(self) -> np.ndarray:
        """Indices of the windows encoded so far."""
        return np.flatnonzero(self._windows.have)

    def _window(self, k: int | np.integer) -> np.ndarray:
        return frame_window(self._clips[self.clip_index[k]].video, self.start[k], self._frames)

    def _encode(self, videos: list[np.ndarray]) -> np.ndarray:
        """Raw latents of uint8 windows [T, H, W, 3], in full batches of ``batch``."""
        from archon_video_walt._renderer import _encode

        t0, out = time.perf_counter(), []
        for b in range(0, len(videos), self._batch):
            part = videos[b: b + self._batch]
            part = part + [part[-1]] * (self._batch - len(part))  # always full batches: one compiled encoder
            out.append(np.asarray(_encode(self._ae, to_unit(np.stack(part))))[: len(videos) - b])
        self.encode_s += time.perf_counter() - t0
        return np.concatenate(out)

    def _normalize(self, raw: np.ndarray) -> np.ndarray:
        """Per-channel normalization of latents [n, C, ...]."""
        shape = (-1,) + (1,) * (raw.ndim - 2)
        return (raw - self._mean.reshape(shape)) / self._std.reshape(shape)

    def latents(self, idx: np.ndarray) -> np.ndarray:
        """Normalized latents [len(idx), C, T', h, w] of windows ``idx``, encoding those not yet encoded."""
        return self._windows[idx]

    def ref_latents(self, clips: np.ndarray) -> np.ndarray:
        """Normalized latents [len(clips), C, h, w] of the reference images of clips ``clips`` (each
        image encoded as a lone frame the first time it is asked for)."""
        return self._refs[clips]

    def fill(self) -> LatentWindows:
        """Encode every window and reference image not encoded yet (returns self)."""
        self.latents(np.arange(len(self)))
        self.ref_latents(np.arange(len(self._clips)))
        return self


class _Lazy:
    """``n`` arrays computed by ``make(indices)`` the first time they are indexed, then kept."""

    def __init__(self, n: int, make: Callable[[np.ndarray], np.ndarray]):
        self._make = make
        self._values: np.ndarray | None = None
        self.have = np.zeros(n, bool)

    def put(self, idx: np.ndarray, values: np.ndarray) -> None:
        if self._values is None:
            self._values = np.zeros((len(self.have), *values.shape[1:]), np.float32)
        self._values[idx] = values
        self.have[idx] = True

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx)
        missing = np.unique(idx[~self.have[idx]])
        if len(missing):
            self.put(missing, self._make(missing))
        assert self._values is not None
        return self._values[idx]


def encode_windows(ae: Autoencoder, clips: Sequence[TrainingClip], config: VideoConfig, *,
                   stats: LatentStats | None = None, batch: int = 4) -> LatentWindows:
    """Every training window (and each clip's reference image) encoded now, normalized with
    ``stats`` (measured on all the windows when None): `LatentWindows` filled."""
    return LatentWindows(ae, clips, config, stats=stats, batch=batch, stats_windows=None).fill()


@eqx.filter_jit
def _denoiser_update(model, opt_state, ema, latents, semantic, ref_latent, ref_mask, text, key, lr, *,
                     config: VideoConfig, tx: optax.GradientTransformation):
    flat = _flat(config.train.optimizer)
    cond_cfg = config.conditioning
    b, n_t = latents.shape[0], latents.shape[2]
    kt, ke, kd, ka, kc = jax.random.split(key, 5)
    t = jax.random.uniform(kt, (b,))
    eps = jax.random.normal(ke, latents.shape)
    alpha, sigma = alpha_sigma(t, config.diffusion.shift)
    z = alpha[:, None, None, None, None] * latents + sigma[:, None, None, None, None] * eps
    target = v_target(latents, eps, alpha, sigma)
    probs = jnp.asarray([cond_cfg.drop_semantic, cond_cfg.drop_reference, cond_cfg.drop_text])
    drop = (jax.random.uniform(kd, (b, 3)) < probs) | (jax.random.uniform(ka, (b, 1)) < cond_cfg.drop_all)
    cont = jax.random.uniform(kc, (b,)) < cond_cfg.continuation
    known_mask = jnp.zeros((b, n_t), bool).at[:, 0].set(cont)  # continuation: the first latent frame is given
    known = latents * known_mask[:, None, :, None, None]
    cond = Conditions(semantic, ref_latent, ref_mask, text, known, known_mask, drop)
    weight = jnp.broadcast_to((~known_mask)[:, None, :, None, None], latents.shape).astype(jnp.float32)

    def loss_fn(model):
        v = jax.vmap(model)(z, t, cond)
        # Known (continuation) frames carry no loss; max(.., 1) guards a batch of 1-frame chunks.
        return jnp.sum(weight * (v - target) ** 2) / jnp.maximum(jnp.sum(weight), 1.0)

    loss, grads = eqx.filter_value_and_grad(loss_fn)(model)
    model, opt_state = _apply(tx, grads, opt_state, model, lr, flat)
    if ema is not None:
        d = config.train.ema_decay
        ema = jax.tree.map(lambda e, m: d * e + (1 - d) * m if eqx.is_array(e) else m, ema, model)
    return model, opt_state, ema, loss


class DenoiserTrainer:
    """The denoiser and its optimizer state; ``step`` draws a batch of windows and updates once
    (replicated on every device of the run, the batch's rows split over them)."""

    def __init__(self, config: VideoConfig, *, steps: int, seed: int = 0, model: Denoiser | None = None):
        self.config = config
        self.dp = DataParallel()
        self.dp.check_batch_size(config.train.batch_size, "video denoiser: train.batch_size")
        self.model = model or Denoiser(config, key=jax.random.key(seed))
        tc = config.train
        self.schedule = lr_schedule(tc.learning_rate, tc.warmup_steps, steps, tc.schedule)
        self.tx = _transform(tc.optimizer, tc.weight_decay)
        self.opt_state = self.tx.init(_opt_params(self.model, _flat(tc.optimizer)))
        self.model, self.opt_state = self.dp.replicate((self.model, self.opt_state))
        self.ema = self.model if tc.ema_decay > 0 else None
        self.key = jax.random.key(seed + 2)
        self.rng = np.random.default_rng(seed + 3)
        self.step_count = 0

    def batch(self, windows: LatentWindows, clips: Sequence[TrainingClip], batch_size: int) -> tuple[np.ndarray, ...]:
        """A random batch: (latents, semantic windows, reference latents, reference masks, text)."""
        idx = self.rng.integers(0, len(windows), batch_size)
        frames = self.config.chunk_frames
        ci = windows.clip_index[idx]
        semantic = np.stack([frame_window(clips[c].semantic, s, frames) for c, s in zip(ci, windows.start[idx])])
        return (windows.latents(idx), semantic, windows.ref_latents(ci),
                np.stack([clips[c].semantic[0] for c in ci]), np.stack([clips[c].text for c in ci]))

    def step(self, batch: tuple[np.ndarray, ...]) -> dict[str, float]:
        """One update on a batch from :meth:`batch`."""
        self.key, sub = jax.random.split(self.key)
        lr = np.float32(self.schedule(self.step_count))
        self.model, self.opt_state, self.ema, loss = _denoiser_update(
            self.model, self.opt_state, self.ema, *self.dp.put_global(batch), *self.dp.replicate((sub, lr)), config=self.config, tx=self.tx)
        self.step_count += 1
        return {"loss": float(loss)}

    def loss(self, batch: tuple[np.ndarray, ...], *, key: jax.Array) -> float:
        """The v-loss of the current model on ``batch`` with the times, noise, condition dropout and
        continuation drawn from ``key``, without updating anything (the compiled step at learning
        rate 0, its results dropped): a fixed ``batch`` and ``key`` make a validation loss."""
        *_, loss = _denoiser_update(self.model, self.opt_state, self.ema, *self.dp.put_global(batch),
                                    *self.dp.replicate((key, np.float32(0.0))), config=self.config, tx=self.tx)
        return float(loss)

    @property
    def sampling_model(self) -> Denoiser:
        """The EMA weights when ``train.ema_decay`` > 0, else the current weights (this process's
        copy)."""
        return self.dp.local(self.ema if self.ema is not None else self.model)


def _progress(progress: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed} steps"),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), disable=not progress)


def _budget(total: int | None, seconds: float | None, fraction: float, default: int) -> tuple[int | None, float | None]:
    """(steps, seconds) of the autoencoder stage from the whole run's budget."""
    if total is None and seconds is None:
        return default, None
    return (None if total is None else max(1, round(total * fraction)),
            None if seconds is None else seconds * fraction)


def stage_steps(steps: int, options: Mapping[str, Any] | None = None, *,
                config: VideoConfig | None = None) -> dict[str, tuple[int, int]]:
    """How `train_video_decoder` splits a `steps` budget: ``{"video autoencoder": (steps,
    minimum), "video denoiser": (steps, minimum)}`` (`Modality.trainer_stages`; a recipe whose
    count leaves a stage below its minimum is refused when it loads).

    Args:
        steps: the whole run's step count (both stages).
        options: a recipe's trainer options; the video trainer takes none.
        config: the config trained (default: the one `train_video_decoder` uses, ``tiny``).

    Raises:
        ConfigError: `options` given (the trainer takes none), or `steps` below 1.
    """
    if options:
        raise ConfigError(f"the video decoder's trainer takes no options, got {', '.join(sorted(options))}")
    if steps < 1:
        raise ConfigError(f"video decoder steps must be at least 1, got {steps}")
    tc = (config or shipped_config("tiny")).train
    ae, _ = _budget(steps, None, tc.ae_fraction, tc.ae_steps)
    assert ae is not None  # a step count gives a step count
    return {"video autoencoder": (ae, tc.ae_min_steps), "video denoiser": (max(1, steps - ae), tc.min_steps)}


def train_video_decoder(
    source: Sequence[Any],
    *,
    out_dir: Path,
    steps: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
    config: VideoConfig | None = None,
    autoencoder: Path | None = None,
    evaluate: bool = True,
) -> dict[str, Any]:
    """Train the video decoder on clips with video, semantic, image and description values
    (the TokenizerTrainer protocol of ``Modality.trainer``).

    The autoencoder stage takes ``train.ae_fraction`` of a ``steps`` or ``seconds`` budget (the
    config's ``ae_steps`` / ``steps`` when neither is given); the denoiser stage takes the rest,
    its windows' encoding included. ``seconds`` counts training time only: each stage's clock
    starts after its first (compiling) step and compilations are not counted
    (`archon_framework.train.StepBudget`). ``autoencoder`` reuses a trained autoencoder (a
    directory with ``config.json`` and ``autoencoder.eqx``) and skips stage 1. Saves the renderer
    to ``out_dir`` (loadable by the modality's factory) with ``report.json``, and returns the
    report: losses, `archon_framework.train.training_record`'s keys (``training``: one
    `TrainReport` dict per stage trained, compile and training seconds apart; ``compile_s``,
    ``train_s``; ``below_min``: a stage stopped before ``train.ae_min_steps`` /
    ``train.min_steps``), held-out autoencoder PSNR and, with
    ``evaluate``, the held-out generation metrics of :func:`archon_video_walt.evaluate_renderer`
    on the first chunk of each held-out clip.
    """
    from archon_video_walt._evaluate import evaluate_renderer

    config = config or shipped_config("tiny")
    out_dir = Path(out_dir)
    start = time.monotonic()
    clips = prepare_clips(source, config)
    train_clips, eval_clips = split_clips(clips, config.train.eval_clips)
    tc = config.train
    report: dict[str, Any] = {"train_clips": len(train_clips), "eval_clips": len(eval_clips)}
    stages = []  # the TrainReport of each stage trained here

    # ---- stage 1: autoencoder
    if autoencoder is not None:
        ae_config = read_config(Path(autoencoder))
        if ae_config.autoencoder != config.autoencoder:
            raise ConfigError(f"{Path(autoencoder) / CONFIG_FILE}: its autoencoder section differs from the config being trained")
        like = Autoencoder(config.autoencoder, key=jax.random.key(0))
        ae = load_module(Path(autoencoder) / AE_FILE, like, config_file=Path(autoencoder) / CONFIG_FILE)
        report["autoencoder"] = {"loaded_from": str(autoencoder)}
    else:
        ae_steps, ae_seconds = _budget(steps, seconds, tc.ae_fraction, tc.ae_steps)
        trainer = AutoencoderTrainer(config, steps=ae_steps or tc.ae_steps, seed=seed)
        rng, history, t0 = np.random.default_rng(seed), [], time.monotonic()
        budget = StepBudget("video autoencoder", steps=ae_steps, seconds=ae_seconds, min_steps=tc.ae_min_steps)
        with budget, _progress(progress) as bar:
            task = bar.add_task("video autoencoder", total=ae_steps, info="")
            while budget.more():
                batch = sample_video_batch(train_clips, tc.ae_batch_size, tc.ae_frames, tc.ae_crop, rng=rng)
                history.append(trainer.step(batch))  # floats: the step has run
                budget.step_done()
                bar.update(task, advance=1, info=f"loss {history[-1]['loss']:.4f}")
        ae = trainer.dp.local(trainer.model)
        if trainer.dp.is_primary:  # process 0 alone writes
            save_module(out_dir / AE_FILE, ae)
        stages.append(budget.report())
        report["autoencoder"] = {
            "steps": trainer.step_count, "seconds": round(time.monotonic() - t0, 1),
            "first_loss": history[0]["loss"] if history else None,
            "final_loss": float(np.mean([h["loss"] for h in history[-10:]])) if history else None,
        }

    # ---- stage 2: denoiser on frozen, normalized latents
    t0 = time.monotonic()
    if steps is None and seconds is None:
        dn_steps, dn_seconds = tc.steps, None
    else:
        used = report["autoencoder"].get("steps", 0)
        dn_steps = None if steps is None else max(1, steps - used)
        # The rest of the training seconds (compile time counts in neither stage).
        dn_seconds = None if seconds is None else max(seconds - (stages[0].train_s if stages else 0.0), 1e-3)
    budget = StepBudget("video denoiser", steps=dn_steps, seconds=dn_seconds, min_steps=tc.min_steps)
    with budget:
        # Windows are encoded as batches first draw them; the statistics' sample now. Its
        # training seconds come out of the stage's budget, as each later encoding does.
        windows = LatentWindows(ae, train_clips, config, seed=seed)
        measured = budget.report()
        if dn_seconds is not None:
            budget.seconds = max(dn_seconds - measured.train_s, 1e-3)
        stats = windows.stats
        trainer = DenoiserTrainer(config, steps=dn_steps or tc.steps, seed=seed)
        history = []
        with _progress(progress) as bar:
            task = bar.add_task("video denoiser", total=dn_steps, info="")
            while budget.more():
                history.append(trainer.step(trainer.batch(windows, train_clips, tc.batch_size)))  # floats: it ran
                budget.step_done()
                bar.update(task, advance=1, info=f"v-loss {history[-1]['loss']:.4f}")
                if trainer.step_count % tc.checkpoint_every == 0 and trainer.dp.is_primary:
                    VideoRenderer(config, ae, trainer.sampling_model, stats).save(out_dir)
    stages.append(budget.report())
    renderer = VideoRenderer(config, ae, trainer.sampling_model, stats)
    if trainer.dp.is_primary:
        renderer.save(out_dir)
    losses = [h["loss"] for h in history]
    report["denoiser"] = {
        "steps": trainer.step_count, "seconds": round(time.monotonic() - t0, 1), "windows": len(windows),
        "encoded_windows": windows.encoded,  # those the batches drew, and the statistics' sample
        "first_loss": float(np.mean(losses[:10])), "final_loss": float(np.mean(losses[-10:])),
        "encode_s": round(windows.encode_s, 1),  # wall seconds spent encoding them
    }
    report.update(training_record(stages))
    if evaluate:
        report["held_out"] = evaluate_renderer(renderer, eval_clips, frames=config.chunk_frames, seed=seed)
    report["seconds"] = round(time.monotonic() - start, 1)
    if trainer.dp.is_primary:
        atomic_write_text(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    return report
