"""Writing a chain run as files a person can open, plus a manifest.

The core knows no modality, so the file type follows each modality's `RawSpec`:

| raw value                                       | files                                  |
|-------------------------------------------------|----------------------------------------|
| text                                            | `.txt`                                 |
| JSON object                                     | `.json` (`.txt` if it did not parse)   |
| float array `[samples]`                         | `.wav` (16-bit PCM at the clip's rate) + `.npz` |
| uint8 `[frames, H, W, 3]`                       | `.mp4` + `.gif` at the clip's frame rate + `.npz` |
| uint8 `[H, W, 3]`                               | `.png` + `.npz`                        |
| integer labels `[frames, H, W]` with a range    | `.gif` (a fixed colour per label) + `.npz` |
| any other array                                 | `.npz`                                 |

`tokens.npz` holds every step's global ids, and `manifest.json` the chain, the tasks, the
sampling, timings, notes, the checkpoint and its step, the plugins and their versions and the
SHA-256 of each condition. The folder is written under a temporary name and renamed into place,
so a crash never leaves a half-written output folder.

Provenance is on by default (`archon_framework.provenance`, docs/provenance.md): generated RGB
images and video frames carry the invisible watermark before they are encoded, plugins' own
provenance steps mark their modalities, and every generated file (step outputs, `tokens.npz`,
`manifest.json`) is signed with C2PA Content Credentials, embedded in PNG/GIF/WAV/MP4 and as a
sidecar `FILE.c2pa` otherwise. Conditions are the user's inputs and are not stamped.
`provenance=ProvenanceConfig(enabled=False)` turns it off, and the manifest records that.
"""

from __future__ import annotations

import colorsys
import io
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from archon_framework._clip import ClipMeta
from archon_framework._errors import ConfigError
from archon_framework._modality import Modality
from archon_framework._tasks import Slot
from archon_framework.config import atomic_write_text, to_dict
from archon_framework.infer._generate import GenerationResult, Ids
from archon_framework.provenance import (
    CredentialSigner,
    ProvenanceConfig,
    condition_hashes,
    framework_version,
    generation_record,
    manifest_section,
    sign_files,
    stamp_value,
)

__all__ = ["write_outputs", "write_value", "label_palette", "MANIFEST"]

MANIFEST = "manifest.json"


def label_palette(n: int) -> np.ndarray:
    """``n`` distinct colours (uint8 [n, 3]); label 0 is black (background)."""
    colours = [(0, 0, 0)]
    for i in range(1, n):
        h = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(h, 0.65 + 0.35 * (i % 2), 0.95 - 0.25 * ((i // 2) % 2))
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return np.asarray(colours, dtype=np.uint8)


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _wav(path: Path, wave: np.ndarray, rate: int) -> None:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(wave.astype(np.float32), -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    _write_bytes(path, buf.getvalue())


def _gif(path: Path, frames: np.ndarray, fps: float) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=max(20, int(round(1000 / fps))), loop=0)
    _write_bytes(path, buf.getvalue())


def _mp4(path: Path, frames: np.ndarray, fps: float) -> bool:
    try:
        import imageio.v2 as imageio
    except ImportError:
        return False
    import warnings

    try:
        h, w = frames.shape[1:3]
        pad = ((0, 0), (0, (-h) % 16), (0, (-w) % 16), (0, 0))
        with warnings.catch_warnings():  # JAX warns about the fork of the ffmpeg subprocess (fork + exec is safe)
            warnings.simplefilter("ignore", RuntimeWarning)
            with imageio.get_writer(str(path), fps=fps, codec="libx264", quality=8, macro_block_size=1,
                                    ffmpeg_log_level="error") as writer:
                for frame in np.pad(frames, pad):
                    writer.append_data(frame)  # type: ignore[attr-defined]
        return True
    except Exception:  # no ffmpeg binary: the GIF is enough
        path.unlink(missing_ok=True)
        return False


def _png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    _write_bytes(path, buf.getvalue())


def write_value(folder: Path, stem: str, value: Any, modality: Modality, meta: ClipMeta) -> list[str]:
    """Write one raw value as the files of the table above; returns their names."""
    spec = modality.raw
    files: list[str] = []
    if value is None:
        return files
    if spec.kind == "text" or isinstance(value, str):
        (folder / f"{stem}.txt").write_text(str(value), encoding="utf-8")
        return [f"{stem}.txt"]
    if spec.kind == "json":
        if isinstance(value, Mapping):
            (folder / f"{stem}.json").write_text(json.dumps(value, indent=2, ensure_ascii=False), encoding="utf-8")
            return [f"{stem}.json"]
        text = getattr(value, "text", None)
        (folder / f"{stem}.txt").write_text(str(text if text is not None else value), encoding="utf-8")
        return [f"{stem}.txt"]
    arr = np.asarray(value)
    if arr.dtype == object:
        (folder / f"{stem}.txt").write_text(repr(value), encoding="utf-8")
        return [f"{stem}.txt"]
    unit = spec.time_axis_unit
    if unit == "samples" and arr.ndim == 1 and arr.dtype.kind == "f":
        _wav(folder / f"{stem}.wav", arr, meta.sample_rate)
        files.append(f"{stem}.wav")
    elif arr.dtype == np.uint8 and arr.ndim == 4 and arr.shape[-1] == 3:
        if _mp4(folder / f"{stem}.mp4", arr, meta.frame_rate):
            files.append(f"{stem}.mp4")
        _gif(folder / f"{stem}.gif", arr, meta.frame_rate)
        files.append(f"{stem}.gif")
    elif arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[-1] == 3 and unit is None:
        _png(folder / f"{stem}.png", arr)
        files.append(f"{stem}.png")
    elif arr.dtype.kind in "iu" and arr.ndim == 3 and unit == "frames" and spec.value_range is not None:
        n = int(spec.value_range[1]) + 1
        colours = label_palette(n)[np.clip(arr, 0, n - 1)]
        _gif(folder / f"{stem}.gif", colours, meta.frame_rate)
        files.append(f"{stem}.gif")
    np.savez_compressed(folder / f"{stem}.npz", value=arr)
    files.append(f"{stem}.npz")
    return files


def _stem(slot: Slot, taken: set[str]) -> str:
    stem = slot.modality if slot.modality not in taken else f"{slot.modality}_{slot.state.short}"
    taken.add(stem)
    return stem


def _json_float(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def write_outputs(
    result: GenerationResult,
    out_dir: str | Path,
    modalities: Mapping[str, Modality],
    *,
    overwrite: bool = False,
    condition_files: Mapping[Slot, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    provenance: ProvenanceConfig | None = None,
) -> Path:
    """Write every condition (under `conditions/`) and step output, `tokens.npz`, `manifest.json`.

    Args:
        result: a chain run.
        out_dir: the folder to create.
        modalities: the installed modalities (their RawSpec picks the file types).
        overwrite: replace an existing folder; otherwise an existing folder is refused.
        condition_files: where each condition was read from, for the manifest.
        extra: more manifest fields (`checkpoint` and `checkpoint_step` are also signed into
            every file's credentials; chain choice scores...).
        provenance: watermark and credentials; default `ProvenanceConfig()` (on, built-in
            watermark, no plugin steps). `ProvenanceConfig.from_registry(registry)` adds the
            plugins' steps; `enabled=False` turns it all off and is recorded in the manifest.

    Returns:
        The manifest's path.

    Raises:
        ConfigError: `out_dir` exists and `overwrite` is False.
        ProvenanceError: a file could not be signed (nothing is left behind).
    """
    config = provenance if provenance is not None else ProvenanceConfig()
    signer = CredentialSigner() if config.enabled else None  # before any work: a bad identity fails fast
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise ConfigError(f"output folder {out} exists; pass --overwrite (overwrite=True) to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "conditions").mkdir()
        taken: set[str] = set()
        conds = []
        for slot, value in result.conditions.items():
            mod = modalities[slot.modality]
            files = [] if isinstance(value, Ids) else [f"conditions/{f}" for f in
                                                         write_value(tmp / "conditions", _stem(slot, set()), value, mod, result.meta)]
            conds.append({"slot": str(slot), "files": files,
                          "source": (condition_files or {}).get(slot), "given_as": "ids" if isinstance(value, Ids) else "raw"})
        hashes = condition_hashes(result.conditions, condition_files)
        run = {
            "checkpoint": (extra or {}).get("checkpoint"), "checkpoint_step": (extra or {}).get("checkpoint_step"),
            "chain": result.chain.name, "signature": result.chain.signature(), "seed": result.seed,
            "plugins": dict(config.plugins), "conditions": hashes,
        }
        to_sign: list[tuple[str, dict[str, Any]]] = []
        tokens: dict[str, np.ndarray] = {}
        steps = []
        for plan, step in zip(result.plan, result.steps):
            stem = _stem(step.output, taken)
            files = []
            if step.kind != "given":
                value, marks = step.value, []  # type: ignore[var-annotated]
                if step.kind in ("generated", "rendered"):
                    value, marks = stamp_value(value, step.output.modality, result.meta, config)
                files = write_value(tmp, stem, value, modalities[step.output.modality], result.meta)
                record = generation_record(run=run, step={"slot": str(step.output), "task": str(plan), "kind": step.kind},
                                           marks=marks)
                to_sign.extend((f, record) for f in files)
            if step.global_ids is not None:
                tokens[str(step.output)] = step.global_ids
            steps.append({
                "slot": str(step.output), "kind": step.kind, "task": str(plan),
                "inputs": [str(s) for s in step.inputs], "tokens": None if step.global_ids is None else int(step.global_ids.shape[0]),
                "seconds": round(step.seconds, 4), "valid": step.valid, "finished": step.finished,
                "note": step.note, "files": files,
            })
        np.savez(tmp / "tokens.npz", **tokens)  # type: ignore[arg-type]
        sidecars = sign_files(tmp, to_sign, signer) if signer is not None else []
        manifest = {
            "format": "archon-generation/1",
            "chain": result.chain.name,
            "signature": result.chain.signature(),
            "seed": result.seed,
            "sampling": result.sampling._asdict(),
            "clip": to_dict(result.meta),
            "conditions": conds,
            "steps": steps,
            **({k: v for k, v in extra.items()} if extra else {}),
            "checkpoint": run["checkpoint"],
            "checkpoint_step": run["checkpoint_step"],
            "framework_version": framework_version(),
            "plugins": run["plugins"],
            "condition_sha256": hashes,
            "provenance": {**manifest_section(config, signer), "sidecars": sidecars + (
                ["tokens.npz.c2pa", f"{MANIFEST}.c2pa"] if signer is not None else [])},
        }
        atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2, default=_json_float) + "\n")
        if signer is not None:
            record = generation_record(run=run, step=None, marks=())
            sign_files(tmp, [("tokens.npz", record), (MANIFEST, record)], signer)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            old.rmdir()
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / MANIFEST
