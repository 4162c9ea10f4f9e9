"""The ``video`` Renderer: (semantic video, reference image, description) -> RGB video.

``render(inputs, meta=..., seed=...)`` checks the inputs, encodes the reference image with the
autoencoder (as a lone first frame) and its semantic mask (the first semantic frame, the paper's
reference image being the first video frame, unless ``image_semantic`` is given), then generates
the clip chunk by chunk (``_data.chunk_plan``) with DDIM + classifier-free guidance and decodes the
latents. Saved as ``config.json``, ``autoencoder.eqx``, ``denoiser.eqx`` and ``latent_stats.json``
(no pickle).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from archon_framework import CheckpointError, ClipMeta, ConfigError, RawValueError
from archon_framework.config import atomic_write_bytes, atomic_write_text
from archon_video_walt._autoencoder import Autoencoder
from archon_video_walt._config import CONDITIONS, VideoConfig, shipped_config
from archon_video_walt._data import chunk_plan, pad_frames, resize_image
from archon_video_walt._denoiser import NUM_LABELS, Conditions, Denoiser
from archon_video_walt._sample import sample_chunk
from archon_video_walt._text import description_bytes

__all__ = ["LatentStats", "VideoRenderer", "save_module", "load_module", "FRAME_RATE"]

CONFIG_FILE, AE_FILE, DENOISER_FILE, STATS_FILE = "config.json", "autoencoder.eqx", "denoiser.eqx", "latent_stats.json"
#: Frame rate assumed when no ClipMeta is given (the paper's 30 fps).
FRAME_RATE = 30.0


@attrs.frozen
class LatentStats:
    """Per-channel mean and standard deviation of the training latents (diffusion runs on
    (z - mean) / std, so that the latents have unit variance like the noise)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def identity(cls, channels: int) -> LatentStats:
        return cls((0.0,) * channels, (1.0,) * channels)

    @classmethod
    def of(cls, latents: np.ndarray) -> LatentStats:
        """Stats of raw latents [N, C, T, h, w]."""
        axes = (0, 2, 3, 4)
        return cls(tuple(float(x) for x in latents.mean(axes)), tuple(float(x) for x in latents.std(axes) + 1e-6))

    def arrays(self) -> tuple[Float[Array, "c 1 1 1"], Float[Array, "c 1 1 1"]]:
        shape = (len(self.mean), 1, 1, 1)
        return jnp.asarray(self.mean, jnp.float32).reshape(shape), jnp.asarray(self.std, jnp.float32).reshape(shape)


def save_module(path: Path, module: eqx.Module) -> None:
    """``equinox.tree_serialise_leaves`` written atomically (temporary file + rename)."""
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, module)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_module(path: Path, like: eqx.Module, *, config_file: Path) -> eqx.Module:
    """Load leaves saved by :func:`save_module` into a module shaped like ``like``."""
    if not Path(path).is_file():
        raise CheckpointError(f"{path} is missing: train the video decoder into {Path(path).parent} first "
                              "(archon_video_walt.train_video_decoder)")
    try:
        return eqx.tree_deserialise_leaves(path, like)
    except Exception as err:  # equinox raises RuntimeError/ValueError on a shape mismatch
        raise CheckpointError(f"{path} does not match {config_file}: {err}") from err


def read_config(directory: Path) -> VideoConfig:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: train the video decoder into {directory} first")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"{path}: not a readable JSON config ({err})") from err
    return VideoConfig.from_dict(data, source=str(path))


@eqx.filter_jit
def _encode(ae: Autoencoder, video: Float[Array, "b 3 t h w"]) -> Float[Array, "b c t2 h2 w2"]:
    return jax.vmap(ae.encode)(video)


@eqx.filter_jit
def _decode(ae: Autoencoder, latents: Float[Array, "b c t2 h2 w2"]) -> Float[Array, "b 3 t h w"]:
    return jax.vmap(ae.decode)(latents)


def to_unit(video: np.ndarray) -> Float[Array, "b 3 t h w"]:
    """uint8 [B, T, H, W, 3] -> float [B, 3, T, H, W] in [-1, 1]."""
    return jnp.moveaxis(jnp.asarray(video, jnp.float32) / 127.5 - 1.0, -1, 1)


def to_uint8(video: Array) -> np.ndarray:
    """float [B, 3, T, H, W] in [-1, 1] -> uint8 [B, T, H, W, 3]."""
    return np.asarray(jnp.clip(jnp.round((jnp.moveaxis(video, 1, -1) + 1.0) * 127.5), 0, 255)).astype(np.uint8)


class VideoRenderer:
    """The trained (or seeded, untrained) video decoder; implements the archon Renderer protocol."""

    def __init__(self, config: VideoConfig, autoencoder: Autoencoder, denoiser: Denoiser, stats: LatentStats):
        self.config = config
        self.autoencoder = autoencoder
        self.denoiser = denoiser
        self.stats = stats

    # ------------------------------------------------------------------ construction, files
    @classmethod
    def untrained(cls, config: VideoConfig | None = None, *, seed: int = 0) -> VideoRenderer:
        """Seeded, untrained networks (the tiny config by default): valid videos of noise."""
        config = config or shipped_config("tiny")
        ka, kd = jax.random.split(jax.random.key(seed))
        return cls(config, Autoencoder(config.autoencoder, key=ka), Denoiser(config, key=kd),
                   LatentStats.identity(config.autoencoder.latent_channels))

    def save(self, directory: Path) -> None:
        """Write config.json, autoencoder.eqx, denoiser.eqx and latent_stats.json (atomically each)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_module(directory / AE_FILE, self.autoencoder)
        save_module(directory / DENOISER_FILE, self.denoiser)
        atomic_write_text(directory / STATS_FILE, json.dumps(attrs.asdict(self.stats)) + "\n")
        atomic_write_text(directory / CONFIG_FILE, json.dumps(self.config.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> VideoRenderer:
        """Load what :meth:`save` (or the trainer) wrote; CheckpointError names what is missing."""
        directory = Path(directory)
        config = read_config(directory)
        like = cls.untrained(config)
        ae = load_module(directory / AE_FILE, like.autoencoder, config_file=directory / CONFIG_FILE)
        dn = load_module(directory / DENOISER_FILE, like.denoiser, config_file=directory / CONFIG_FILE)
        stats_path = directory / STATS_FILE
        if not stats_path.is_file():
            raise CheckpointError(f"{stats_path} is missing: train the video decoder into {directory} first")
        try:
            stats = LatentStats(**{k: tuple(v) for k, v in json.loads(stats_path.read_text()).items()})
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{stats_path}: not latent statistics ({err})") from err
        if len(stats.mean) != config.autoencoder.latent_channels:
            raise CheckpointError(f"{stats_path}: {len(stats.mean)} channels, the config has "
                                  f"{config.autoencoder.latent_channels}")
        return cls(config, ae, dn, stats)

    # ------------------------------------------------------------------ latents
    def encode_video(self, video: np.ndarray) -> Float[Array, "b c t h w"]:
        """uint8 [B, T, H, W, 3] (T = 1 + n D_t, H and W multiples of D_s) -> normalized latents.

        Raises:
            RawValueError: another dtype, rank or frame count (``pad_frames`` pads a video).
        """
        arr = np.asarray(video)
        if arr.dtype != np.uint8 or arr.ndim != 5 or arr.shape[-1] != 3:
            raise RawValueError(f"modality 'video': encode_video takes uint8 [batch, frames, H, W, 3], "
                                f"got {arr.dtype} {arr.shape}")
        mean, std = self.stats.arrays()
        return (_encode(self.autoencoder, to_unit(arr)) - mean) / std

    def decode_latents(self, latents: Float[Array, "b c t h w"]) -> np.ndarray:
        """Normalized latents -> uint8 [B, T, H, W, 3]."""
        mean, std = self.stats.arrays()
        return to_uint8(_decode(self.autoencoder, latents * std + mean))

    def reconstruct(self, video: np.ndarray) -> np.ndarray:
        """Autoencoder round trip of a uint8 video [F, H, W, 3] (padded, then trimmed to F frames)."""
        padded = pad_frames(np.asarray(video), self.config.autoencoder.temporal_downsample)
        return self.decode_latents(self.encode_video(padded[None]))[0, : video.shape[0]]

    # ------------------------------------------------------------------ inputs
    def check_inputs(self, semantic: Any, image: Any, description: Any, *, meta: ClipMeta | None = None,
                     image_semantic: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Validate the three inputs; returns (semantic, image at output size, mask, text bytes).

        Raises:
            RawValueError: wrong dtype/shape, semantic and image sizes that do not fit this decoder
                (``semantic_size`` x ``semantic_size`` frames with an ``image_size`` image), labels
                outside 0..20, no frames, a frame count different from ``meta.frames``, an empty
                description.
        """
        cfg = self.config
        where = "modality 'video'" if meta is None else f"clip {meta.clip_id!r}, modality 'video'"
        sem, img = np.asarray(semantic), np.asarray(image)
        if sem.dtype.kind not in "iu" or sem.ndim != 3:
            raise RawValueError(f"{where}: input 'semantic' must be integer labels [frames, H, W] (uint8), "
                                f"got {sem.dtype} {sem.shape}")
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[-1] != 3:
            raise RawValueError(f"{where}: input 'image' (the reference image) must be uint8 [H, W, 3], "
                                f"got {img.dtype} {img.shape}")
        if sem.shape[1:] != (cfg.semantic_size,) * 2 or img.shape[:2] != (cfg.image_size,) * 2:
            raise RawValueError(
                f"{where}: input 'semantic' frames of {sem.shape[1]}x{sem.shape[2]} and input 'image' of "
                f"{img.shape[0]}x{img.shape[1]} do not fit this decoder, which takes "
                f"{cfg.semantic_size}x{cfg.semantic_size} semantic frames with a {cfg.image_size}x{cfg.image_size} "
                f"image (output {cfg.output_size}x{cfg.output_size}); resize the inputs or use a matching config"
            )
        if sem.shape[0] == 0:
            raise RawValueError(f"{where}: input 'semantic' has no frames; a video needs at least one")
        if meta is not None and sem.shape[0] != meta.frames:
            raise RawValueError(f"{where}: input 'semantic' has {sem.shape[0]} frames but the clip window has "
                                f"{meta.frames} ({meta.duration} s at {meta.frame_rate} fps)")
        if sem.min() < 0 or sem.max() >= NUM_LABELS:
            raise RawValueError(f"{where}: input 'semantic' labels must lie in 0..{NUM_LABELS - 1} (Table H), "
                                f"got {sem.min()}..{sem.max()}")
        mask = sem[0] if image_semantic is None else np.asarray(image_semantic)
        if mask.shape != (cfg.semantic_size,) * 2 or mask.dtype.kind not in "iu" or mask.min() < 0 or mask.max() >= NUM_LABELS:
            raise RawValueError(f"{where}: input 'image_semantic' must be labels [{cfg.semantic_size}, {cfg.semantic_size}] "
                                f"in 0..{NUM_LABELS - 1}, got {mask.dtype} {mask.shape}"
                                + (f" with values {mask.min()}..{mask.max()}" if mask.size and mask.dtype.kind in "iub" else ""))
        if cfg.conditioning.text:
            text = description_bytes(description, cfg.text.max_bytes, where=f"{where}, input 'description'")
        else:
            text = np.zeros(cfg.text.max_bytes, np.int32)
        return sem.astype(np.uint8), resize_image(img, cfg.output_size), mask.astype(np.uint8), text

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        semantic: Any,
        image: Any,
        description: Any = None,
        *,
        seed: int = 0,
        meta: ClipMeta | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        drop: tuple[str, ...] = (),
        image_semantic: Any = None,
    ) -> np.ndarray:
        """Generate the RGB video of a semantic video: uint8 [frames, out, out, 3].

        Args:
            semantic: uint8 labels [frames, S, S].
            image: uint8 reference image [I, I, 3] (typically the first frame).
            description: the description dict (ignored by a config without text conditioning).
            seed: noise seed (the same seed gives the same video).
            meta: the clip window (its frame count must match the semantic video).
            steps, guidance: override ``diffusion.sample_steps`` / ``diffusion.guidance``.
            drop: conditions to replace by their learned nulls ("semantic", "reference", "text"),
                e.g. ``("semantic",)`` for the baseline that ignores the semantic video.
            image_semantic: the reference image's semantic mask (default: the first semantic frame).
        """
        cfg, dcfg = self.config, self.config.diffusion
        if isinstance(drop, str):
            drop = (drop,)
        if steps is not None and steps < 1:
            raise ConfigError(f"modality 'video': steps={steps}; DDIM needs at least one step (None: diffusion.sample_steps)")
        bad = [d for d in drop if d not in CONDITIONS]
        if bad:
            raise RawValueError(f"modality 'video': unknown condition(s) to drop {bad}; choose from {CONDITIONS}")
        sem, img, mask, text = self.check_inputs(semantic, image, description, meta=meta, image_semantic=image_semantic)
        frames, d_t = sem.shape[0], cfg.autoencoder.temporal_downsample
        length, starts = chunk_plan(frames, cfg.chunk_frames, d_t)
        n_lat = cfg.autoencoder.latent_frames(length)
        ref_latent = self.encode_video(img[None, None])[0, :, 0]  # [C, h, w]: the image as a lone first frame
        c, g = cfg.autoencoder.latent_channels, cfg.latent_size
        drop_flags = jnp.asarray([name in drop for name in CONDITIONS])
        uncond = tuple(name in dcfg.guidance_drop for name in CONDITIONS)
        key = jax.random.key(seed)
        out = np.zeros((starts[-1] + length, cfg.output_size, cfg.output_size, 3), np.uint8)
        known = jnp.zeros((c, n_lat, g, g), jnp.float32)
        known_mask = jnp.zeros((n_lat,), bool)
        for k, start in enumerate(starts):
            window = sem[start: start + length]
            if window.shape[0] < length:  # the last chunk runs past the clip: repeat the last frame
                window = np.concatenate([window, np.repeat(window[-1:], length - window.shape[0], axis=0)])
            cond = Conditions(jnp.asarray(window), ref_latent, jnp.asarray(mask), jnp.asarray(text),
                              known, known_mask, drop_flags)
            kn, ks = jax.random.split(jax.random.fold_in(key, k))
            noise = jax.random.normal(kn, (c, n_lat, g, g))
            latents = sample_chunk(self.denoiser, cond, noise, ks, steps=dcfg.sample_steps if steps is None else int(steps),
                                   guidance=dcfg.guidance if guidance is None else float(guidance),
                                   uncond_drop=uncond, shift=dcfg.shift, eta=dcfg.eta)
            video = self.decode_latents(latents[None])[0]  # [length, out, out, 3]
            skip = 1 if k else 0  # a continued chunk's first frame is the previous chunk's last
            out[start + skip: start + length] = video[skip:]
            if k + 1 < len(starts):  # the next chunk continues from this chunk's last frame
                last = self.encode_video(video[-1:][None])[0, :, 0]  # [C, h, w]
                known = jnp.zeros((c, n_lat, g, g), jnp.float32).at[:, 0].set(last)
                known_mask = jnp.zeros((n_lat,), bool).at[0].set(True)
        return out[:frames]

    def render(self, inputs: Mapping[str, Any], *, meta: ClipMeta, seed: int = 0) -> np.ndarray:
        """The archon Renderer protocol: ``inputs`` holds semantic, image and description."""
        needed = ("semantic", "image", "description") if self.config.conditioning.text else ("semantic", "image")
        missing = [name for name in needed if name not in inputs]
        if missing:
            raise RawValueError(f"clip {meta.clip_id!r}, modality 'video': the renderer needs {', '.join(needed)}; "
                                f"missing {', '.join(missing)}")
        return self.generate(inputs["semantic"], inputs["image"], inputs.get("description"), seed=seed, meta=meta)
