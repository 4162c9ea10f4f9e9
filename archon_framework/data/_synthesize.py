"""Writing a dataset plugin's clips to disk: what `archon data synth` and the demo both call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from archon_framework._clip import Clip
from archon_framework._plugins import Registry
from archon_framework.data._store import write_dataset

__all__ = ["synthesize"]


def synthesize(
    registry: Registry,
    out_dir: str | Path,
    *,
    dataset: str,
    clips: int,
    seconds: float | None = None,
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    strict: bool = False,
    on_clip: Callable[[Clip], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> float:
    """Generate `clips` clips with a dataset plugin, validate them and store them crash-safely.

    Clip ``i`` is ``spec.generate(i, seed=seed, seconds=...)``: deterministic in (seed, index), so
    a resumed dataset continues with the clips it would have written.

    Args:
        registry: the installed plugins (the dataset, and the modalities it may store).
        out_dir: the dataset folder (`write_dataset`'s rules: ``resume``, ``overwrite``).
        dataset: the dataset plugin's name (``registry.datasets``).
        clips: how many clips.
        seconds: clip length (None: the dataset's default).
        seed: the dataset's seed.
        resume, overwrite: continue an interrupted dataset, or replace an existing one.
        strict: refuse values of modalities that are not installed (DataError / RawValueError
            from the store) instead of leaving them out with a note.
        on_clip: called after each clip is stored (progress).
        on_note: called with what was left out (e.g. ``video`` without its plugin).

    Returns:
        The clip length used, in seconds.

    Raises:
        PluginError: the dataset is not installed (the message lists the installed ones).
    """
    spec = registry.dataset(dataset)
    length = seconds if seconds is not None else spec.default_seconds
    static = {name: not registry.modality(name).temporal for name in spec.modalities if name in registry.modalities}
    skipped = sorted(set(spec.modalities) - set(registry.modalities))
    if skipped and not strict and on_note is not None:
        on_note(f"not installed, so not stored: {', '.join(skipped)}")

    def gen() -> Iterator[Clip]:
        for i in range(clips):
            clip = spec.generate(i, seed=seed, seconds=length)
            if not strict:
                clip = Clip(clip.meta, {k: v for k, v in clip.values.items() if k in registry.modalities})
            yield clip

    write_dataset(out_dir, gen(), name=dataset, validate=registry.check_clip, static=static, resume=resume,
                  overwrite=overwrite, on_clip=on_clip)
    return length
