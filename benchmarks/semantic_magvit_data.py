"""Synthetic-heads clips for the semantic_magvit benchmarks, cached as one ``.npz`` per clip.

Only the two values the tokenizers need are kept: ``semantic`` (uint8 [frames, 128, 128] label
video) and ``image`` (uint8 [256, 256, 3], the first RGB frame). A clip is generated once by
``archon_synthetic_heads.generate_clip(index, seed=seed, split=split)`` (about 0.5 s, RGB video
off) and written to ``<cache>/<split>/s<seed>/<index>.npz`` atomically; later runs read it back.
Training uses the ``train`` split, evaluation a held-out split (``validation`` or ``test``),
whose random streams and sentences the training split never sees.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from rich.progress import Progress

from archon_framework import Clip, ClipMeta, DataError
from archon_framework.config import atomic_write_bytes

__all__ = ["load_clips"]

_KEYS = ("semantic", "image")


def _generate(index: int, *, seed: int, split: str, seconds: float) -> Clip:
    from archon_synthetic_heads import SynthConfig, generate_clip

    return generate_clip(index, seed=seed, split=split, seconds=seconds, config=SynthConfig(with_video=False))


def _read(path: Path, meta: ClipMeta) -> Clip:
    try:
        with np.load(path) as data:
            values = {k: data[k] for k in _KEYS}
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"cached clip {path} is unreadable ({err}); delete it to regenerate") from err
    if values["semantic"].shape[0] != meta.frames:
        raise DataError(f"cached clip {path} has {values['semantic'].shape[0]} frames, expected {meta.frames}; delete it")
    return Clip(meta, values)


def load_clips(
    cache: Path, *, split: str, seed: int, count: int, seconds: float = 2.0, progress: bool = True
) -> list[Clip]:
    """Clips ``0..count-1`` of ``split`` under ``seed``: from ``cache`` when there, else generated and cached.

    Returns:
        Clips whose values are ``semantic`` and ``image`` (meta: 30 fps, ``seconds`` long).
    """
    folder = Path(cache) / split / f"s{seed}"
    clips = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"synthetic_heads {split} clips", total=count)
        for index in range(count):
            meta = ClipMeta(clip_id=f"synthetic_heads/{split}/s{seed}/{index:07d}", duration=seconds,
                            frame_rate=30.0, sample_rate=16_000, source="synthetic_heads")
            path = folder / f"{index:07d}_{seconds:g}s.npz"
            if path.is_file():
                clips.append(_read(path, meta))
            else:
                clip = _generate(index, seed=seed, split=split, seconds=seconds)
                values = {k: np.asarray(clip[k]) for k in _KEYS}
                buffer = io.BytesIO()
                np.savez_compressed(buffer, **values)
                atomic_write_bytes(path, buffer.getvalue())
                clips.append(Clip(meta, values))
            bar.update(task, advance=1)
    return clips
