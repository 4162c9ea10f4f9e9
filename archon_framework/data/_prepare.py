"""`archon data prepare`: talking-head videos -> stored clips, through plugin-provided steps.

Each video goes through the installed `PrepareStep`s (hook `archon_prepare_steps`), ordered by
what they require and produce. Steps share one work mapping per video; the keys that reach the
dataset are:

* a modality name: its value for the whole video (an array whose first axis is `frames` or
  `samples` is cut per window; any other value is kept whole);
* `MODALITY@frames`: a per-frame array of a static modality; a window takes the row of its
  first frame (the reference image is the first frame of the window, paper D.6);
* `MODALITY@words`: timed words `[[text, start_s, end_s], ...]` of a text modality; a window
  keeps the words that overlap it, joined by spaces (paper D.2);
* `valid@frames`: a boolean per frame (e.g. a face was tracked); frames outside it are cut
  out (`on_gap = "split"`) or make the video skipped (`on_gap = "skip"`).

A file given with the video for a modality that no step produces (e.g. a description JSON) is
read with that modality's own loader (`Modality.load`), as `archon data ingest` does.

Crash safety and resumption: each video's result is cached (`CACHE/<video id>/`, written to a
temporary directory and renamed) with a fingerprint of the file, its side files and the
options; a rerun reuses every valid cache entry, so an interrupted run resumes. The dataset is
then written to a temporary directory beside `OUT` and swapped in with its report, so `OUT` is
either the previous complete dataset or the new one, never a half-written one.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import shutil
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from archon_framework._clip import Clip, ClipMeta
from archon_framework._errors import ArchonError, ConfigError, DataError
from archon_framework._registry import PrepareStep
from archon_framework.config import atomic_write_text
from archon_framework.data._ingest import jsonl_rows
from archon_framework.data._prepare_cache import fingerprint as _fingerprint
from archon_framework.data._prepare_cache import load_result as _load
from archon_framework.data._prepare_cache import save_result as _save
from archon_framework.data._store import write_dataset

__all__ = [
    "VIDEO_SUFFIXES", "REPORT_FILE", "PrepareError", "PrepareConfig", "PrepareContext", "VideoJob",
    "find_videos", "plan_steps", "prepare_video", "clips_of", "prepare_videos",
]

#: File suffixes read as videos when `--videos` is a folder.
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})
#: The per-video report written beside the dataset's index.
REPORT_FILE = "prepare-report.json"


class PrepareError(DataError):
    """A step cannot prepare this video (no face, several faces, corrupt file, ...): it is skipped.

    Attributes:
        kind: a short machine name of the problem (`no_face`, `corrupt`, ...), counted in reports.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _gap_policy(instance, attribute, value) -> None:
    if value not in ("split", "skip"):
        raise ConfigError(f"PrepareConfig.on_gap must be 'split' or 'skip', got {value!r}")


def _positive_or_none(instance, attribute, value) -> None:
    if value is not None and not value > 0:
        raise ConfigError(f"PrepareConfig.{attribute.name} must be positive, got {value!r}")


@attrs.frozen(kw_only=True)
class PrepareConfig:
    """Settings of `archon data prepare` (TOML: top-level keys plus `[steps.NAME]` tables).

    Attributes:
        frame_rate: frames per second of the prepared clips (the video is resampled to it).
        sample_rate: audio samples per second.
        window_seconds: cut each video into windows of this length (None: one clip per video,
            or per face-tracked segment).
        min_seconds: shorter clips (or segments) are skipped and reported as `too_short`.
        on_gap: frames outside `valid@frames` (a face lost mid-clip): `split` the video around
            them, or `skip` the video.
        jobs: videos prepared in parallel (processes).
        choose: product key -> step name, where several installed steps produce one key.
        steps: per-step options, `{step name: {option: value}}`.
        shard_size: clips per dataset shard.
    """

    frame_rate: float = attrs.field(default=25.0, validator=_positive_or_none)
    sample_rate: int = attrs.field(default=16_000, validator=_positive_or_none)
    window_seconds: float | None = attrs.field(default=None, validator=_positive_or_none)
    min_seconds: float = attrs.field(default=1.0, validator=_positive_or_none)
    on_gap: str = attrs.field(default="split", validator=_gap_policy)
    jobs: int = attrs.field(default=1, validator=_positive_or_none)
    choose: dict[str, str] = attrs.field(factory=dict)
    steps: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    shard_size: int = attrs.field(default=32, validator=_positive_or_none)


@attrs.frozen(kw_only=True)
class VideoJob:
    """One input video and the files given with it (modality name -> path)."""

    video_id: str
    path: Path
    sidecars: Mapping[str, Path] = attrs.field(factory=dict)


@attrs.define
class PrepareContext:
    """What a step sees besides the work mapping: the video, its side files, its options."""

    job: VideoJob
    config: PrepareConfig
    options: Mapping[str, Any]
    step: str = ""
    notes: list[dict[str, str]] = attrs.field(factory=list)
    timings: dict[str, float] = attrs.field(factory=dict)

    def note(self, kind: str, message: str) -> None:
        """Record a non-fatal finding (e.g. `rotated`, `variable_frame_rate`) for the report."""
        self.notes.append({"kind": kind, "step": self.step, "message": message})


# ---------------------------------------------------------------------- inputs
def transcript_modality(registry: Any) -> str | None:
    """The installed modality a bare transcript (`STEM.srt`, `.vtt`, `.txt`) is given for.

    The only time-varying modality whose raw value is text (archon-paper's `script`); None
    when no installed modality, or more than one, fits: transcripts are then given by name
    (`STEM.MODALITY.srt`).
    """
    fits = [name for name, m in registry.modalities.items() if m.temporal and m.raw is not None and m.raw.kind == "text"]
    return fits[0] if len(fits) == 1 else None


def find_videos(path: str | Path, modalities: Sequence[str] = (), *, transcript: str | None = None) -> list[VideoJob]:
    """The videos of a folder or a `.jsonl` manifest, sorted by id.

    Folder: every file with a suffix in `VIDEO_SUFFIXES`; files `STEM.MODALITY.EXT` beside it
    (e.g. `talk.script.srt`, `talk.description.json`) are given with it, as are `STEM.srt`,
    `STEM.vtt` and `STEM.txt` for the `transcript` modality (`transcript_modality`). Manifest
    rows: `{"video": PATH, "id": ID, "files": {MODALITY: PATH}}`, paths relative to the manifest.
    """
    path = Path(path)
    jobs: list[VideoJob] = []
    if path.is_dir():
        for video in sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()):
            sidecars: dict[str, Path] = {}
            for suffix in (".srt", ".vtt", ".txt"):
                if transcript and (video.with_suffix(suffix)).exists():
                    sidecars[transcript] = video.with_suffix(suffix)
            for other in sorted(path.glob(f"{video.stem}.*.*")):
                modality = other.name[len(video.stem) + 1:].split(".")[0]
                if modality and (not modalities or modality in modalities):
                    sidecars[modality] = other
            jobs.append(VideoJob(video_id=video.stem, path=video, sidecars=sidecars))
    elif path.suffix == ".jsonl" and path.is_file():
        for n, row in jsonl_rows(path):
            if not isinstance(row, dict) or not isinstance(row.get("video"), str) or not isinstance(row.get("files", {}), dict):
                raise DataError(f"{path}:{n}: a row is {{\"video\": PATH, \"id\": ID, \"files\": {{MODALITY: PATH}}}}")
            video = path.parent / row["video"]
            jobs.append(VideoJob(video_id=str(row.get("id", video.stem)), path=video,
                                 sidecars={m: path.parent / str(f) for m, f in row.get("files", {}).items()}))
    else:
        raise DataError(f"{path}: --videos takes a folder of videos or a .jsonl manifest")
    seen: dict[str, Path] = {}
    for job in jobs:
        if job.video_id in seen:
            raise DataError(f"{path}: video id {job.video_id!r} is used by {seen[job.video_id]} and {job.path}")
        seen[job.video_id] = job.path
    if not jobs:
        raise DataError(f"{path}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return sorted(jobs, key=lambda j: j.video_id)


# ---------------------------------------------------------------------- steps
def plan_steps(steps: Mapping[str, PrepareStep], config: PrepareConfig) -> list[PrepareStep]:
    """The steps to run, in dependency order; one producer per key (`config.choose` decides).

    Raises:
        ConfigError: two steps produce a key and `choose` names neither, a required key that no
            step produces, a cycle, or a `choose`/`steps` entry naming an unknown step.
    """
    for key, name in config.choose.items():
        if name not in steps:
            raise ConfigError(f"prepare config: choose.{key} = {name!r} is not an installed step ({', '.join(sorted(steps))})")
    for name in config.steps:
        if name not in steps:
            raise ConfigError(f"prepare config: [steps.{name}] is not an installed step ({', '.join(sorted(steps))})")
    producer: dict[str, str] = {}
    for step in steps.values():
        for key in step.produces:
            chosen = config.choose.get(key)
            if chosen is not None and chosen != step.name:
                continue
            if key in producer:
                raise ConfigError(
                    f"prepare steps {producer[key]!r} and {step.name!r} both produce {key!r}; "
                    f"choose one with choose.{key} = \"STEP\" in the prepare config"
                )
            producer[key] = step.name
    used = {s.name for s in steps.values() if any(producer.get(k) == s.name for k in s.produces)}
    order: list[PrepareStep] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ConfigError(f"prepare steps form a cycle: {' -> '.join((*chain, name))}")
        state[name] = "visiting"
        for key in steps[name].requires:
            if key not in producer:
                raise ConfigError(f"prepare step {name!r} requires {key!r}, which no installed step produces")
            visit(producer[key], (*chain, name))
        state[name] = "done"
        order.append(steps[name])

    for name in sorted(used):
        visit(name, ())
    return order


def prepare_video(job: VideoJob, steps: Sequence[PrepareStep], config: PrepareConfig) -> tuple[dict[str, Any], list[dict[str, str]], dict[str, str] | None]:
    """Run the steps on one video.

    Returns:
        `(work, notes, issue)`: the work mapping, the steps' notes, and the issue that stopped
        the video (`{"kind", "step", "message"}`) or None.
    """
    work: dict[str, Any] = {}
    ctx = PrepareContext(job=job, config=config, options={})
    for step in steps:
        ctx.step, ctx.options = step.name, dict(config.steps.get(step.name, {}))
        t0 = time.perf_counter()
        try:
            out = step.run(ctx, work)
        except PrepareError as err:
            return work, ctx.notes, {"kind": err.kind, "step": step.name, "message": str(err)}
        except Exception as err:  # noqa: BLE001 - one bad video must not stop the folder
            tb = traceback.format_exception_only(type(err), err)[-1].strip()
            kind = "invalid" if isinstance(err, ArchonError) else "step_failed"
            return work, ctx.notes, {"kind": kind, "step": step.name, "message": tb}
        unknown = set(out) - set(step.produces)
        if unknown:  # a product may be absent (no audio: no speech), never undeclared
            return work, ctx.notes, {"kind": "step_failed", "step": step.name,
                                     "message": f"step {step.name!r} returned undeclared {', '.join(sorted(unknown))}"}
        work.update(out)
        ctx.timings[step.name] = round(time.perf_counter() - t0, 4)
    ctx.notes.append({"kind": "timings", "step": "", "message": json.dumps(ctx.timings)})
    return work, ctx.notes, None


# ---------------------------------------------------------------------- windows
def _num_frames(values: Mapping[str, Any], registry: Any, config: PrepareConfig) -> int:
    for key, value in values.items():
        base, _, form = key.partition("@")
        if form == "frames" or (base in registry.modalities and registry.modalities[base].raw.shape[:1] == ("frames",)):
            return int(np.asarray(value).shape[0])
    for key, value in values.items():
        if key in registry.modalities and registry.modalities[key].raw.shape[:1] == ("samples",):
            return int(round(np.asarray(value).shape[0] / config.sample_rate * config.frame_rate))
    raise DataError("no step produced a per-frame or per-sample value, so the clip has no length")


def _segments(valid: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def clips_of(job: VideoJob, values: Mapping[str, Any], registry: Any, config: PrepareConfig) -> tuple[list[Clip], list[dict[str, str]]]:
    """Cut a prepared video into validated clips (see the module docstring for the key forms).

    Returns:
        The clips and the issues of the parts left out (`too_short`, `face_lost`, `invalid`).
    """
    fps, sr = config.frame_rate, config.sample_rate
    total = _num_frames(values, registry, config)
    valid = np.asarray(values.get("valid@frames", np.ones(total, bool)), bool)
    issues: list[dict[str, str]] = []
    if valid.shape != (total,):
        raise DataError(f"video {job.video_id!r}: valid@frames has shape {valid.shape}, expected ({total},)")
    if not valid.all():
        lost = int((~valid).sum())
        if config.on_gap == "skip":
            return [], [{"kind": "face_lost", "step": "windows", "message": f"{lost} of {total} frames have no face; skipped (on_gap = skip)"}]
        issues.append({"kind": "face_lost", "step": "windows", "message": f"{lost} of {total} frames have no face; split around them"})
    min_frames = int(np.ceil(config.min_seconds * fps - 1e-9))
    win = int(round(config.window_seconds * fps)) if config.window_seconds else None
    spans: list[tuple[int, int]] = []
    for a, b in _segments(valid):
        if b - a < min_frames:
            issues.append({"kind": "too_short", "step": "windows",
                           "message": f"frames {a}-{b} ({(b - a) / fps:.2f} s) are shorter than min_seconds = {config.min_seconds:g}"})
            continue
        if win is None:
            spans.append((a, b))
            continue
        starts = range(a, b - win + 1, win)
        spans.extend((s, s + win) for s in starts)
        rest = (b - a) % win
        if rest:
            issues.append({"kind": "too_short", "step": "windows",
                           "message": f"frames {b - rest}-{b} ({rest / fps:.2f} s) are less than a window of {config.window_seconds:g} s"})
    base = ClipMeta(clip_id=job.video_id, duration=total / fps, frame_rate=fps, sample_rate=sr, source=job.path.name)
    whole = len(spans) == 1 and spans[0] == (0, total)
    clips: list[Clip] = []
    for i, (a, b) in enumerate(spans):
        meta = base if whole else base.window(a / fps, (b - a) / fps, suffix=f"{i:03d}")
        try:
            clip = registry.check_clip(Clip(meta, _window_values(values, job, registry, meta, a, b)))
        except ArchonError as err:
            issues.append({"kind": "invalid", "step": "windows", "message": f"clip {meta.clip_id!r}: {err}"})
            continue
        clips.append(clip)
    return clips, issues


def _window_values(values: Mapping[str, Any], job: VideoJob, registry: Any, meta: ClipMeta, a: int, b: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    start, end = a / meta.frame_rate, b / meta.frame_rate
    for key, value in values.items():
        name, _, form = key.partition("@")
        if name not in registry.modalities:
            continue
        axis = registry.modalities[name].raw.shape[:1]
        if form == "frames":
            out[name] = np.asarray(value)[a]
        elif form == "words":
            out[name] = " ".join(str(w[0]) for w in value if float(w[1]) < end and float(w[2]) > start)
        elif form:
            continue
        elif axis == ("frames",):
            out[name] = np.asarray(value)[a:b]
        elif axis == ("samples",):
            s0 = int(round(start * meta.sample_rate))
            out[name] = np.asarray(value)[s0:s0 + meta.samples]
        else:
            out[name] = value
    for name, file in job.sidecars.items():
        if name in out or name not in registry.modalities or registry.modalities[name].load is None:
            continue
        out[name] = registry.modalities[name].load(file, meta)
    return out


# ---------------------------------------------------------------------- workers
def _run_one(job: VideoJob, config: PrepareConfig, cache: Path, steps: Sequence[PrepareStep], keys: frozenset[str]) -> str:
    """Prepare one video into the cache (in a worker: the steps travel by reference, no registry is loaded)."""
    fingerprint = _fingerprint(job, steps, config)
    cached = _load(cache, job, fingerprint)
    if cached is not None and (cached["issue"] or {}).get("kind") != "step_failed":  # a crashed step is retried
        return "cached"
    t0 = time.perf_counter()
    work, notes, issue = prepare_video(job, steps, config)
    _save(cache, job, fingerprint, work, notes, issue, time.perf_counter() - t0, keys)  # type: ignore[arg-type]
    return "prepared"


def prepare_videos(
    registry: Any,
    videos: str | Path | Sequence[VideoJob],
    out: str | Path,
    *,
    config: PrepareConfig | None = None,
    cache: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    on_video: Callable[[VideoJob, str], None] | None = None,
) -> dict[str, Any]:
    """Prepare every video into the dataset `out` and write its report (`out/prepare-report.json`).

    Args:
        registry: the loaded plugins (their steps, modalities and loaders).
        videos: a folder, a `.jsonl` manifest, or the jobs.
        out: the dataset directory.
        config: the settings (defaults: `PrepareConfig()`).
        cache: per-video results (default: `OUT.cache` beside `out`); kept for resumption.
        resume: reuse an existing `out` and its cache (an interrupted or extended run).
        overwrite: replace an existing `out` and prepare every video again (the cache is cleared).
        on_video: progress callback `(job, "prepared" | "cached")`.

    Returns:
        The report: per video its status, clips, issues and notes, and totals.
    """
    config = config or PrepareConfig()
    out = Path(out)
    cache = Path(cache) if cache is not None else out.with_name(out.name + ".cache")
    if out.exists() and any(out.iterdir()) and not (resume or overwrite):
        raise DataError(f"{out}: exists already; pass resume (reuse its cache) or overwrite (replace it)")
    if not registry.prepare_steps:
        raise DataError("no prepare steps are installed; install archon-prepare-mediapipe (or another prepare plugin)")
    steps = plan_steps(registry.prepare_steps, config)  # configuration errors before any work
    keys = frozenset(registry.modalities)
    transcript = transcript_modality(registry)
    jobs = list(videos) if not isinstance(videos, (str, Path)) else find_videos(videos, tuple(registry.modalities),
                                                                                transcript=transcript)
    if overwrite:
        shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    if config.jobs == 1 or len(jobs) == 1:
        for job in jobs:
            status = _run_one(job, config, cache, steps, keys)
            if on_video is not None:
                on_video(job, status)
    else:
        ctx = multiprocessing.get_context("spawn")  # the parent may hold JAX threads: never fork
        with cf.ProcessPoolExecutor(config.jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_run_one, job, config, cache, steps, keys): job for job in jobs}
            for future in cf.as_completed(futures):
                status = future.result()
                if on_video is not None:
                    on_video(futures[future], status)
    return _assemble(registry, jobs, out, cache, config)


def _assemble(registry: Any, jobs: Sequence[VideoJob], out: Path, cache: Path, config: PrepareConfig) -> dict[str, Any]:
    steps = plan_steps(registry.prepare_steps, config)
    report: dict[str, Any] = {"videos": {}, "config": attrs.asdict(config)}
    all_clips: list[Clip] = []
    for job in jobs:
        result = _load(cache, job, _fingerprint(job, steps, config))
        if result is None:
            raise DataError(f"{cache}: no result for video {job.video_id!r} ({job.path}); rerun to prepare it")
        entry = {"video": str(job.path), "notes": result["notes"], "issues": [], "clips": [],
                 "prepare_seconds": result["seconds"]}
        if result["issue"] is not None:
            entry["issues"].append(result["issue"])
        else:
            try:
                clips, issues = clips_of(job, result["values"], registry, config)
            except ArchonError as err:
                clips, issues = [], [{"kind": "invalid", "step": "windows", "message": str(err)}]
            entry["issues"].extend(issues)
            entry["clips"] = [c.clip_id for c in clips]
            entry["seconds"] = float(sum(c.meta.duration for c in clips))
            all_clips.extend(clips)
        entry["status"] = "prepared" if entry["clips"] and not entry["issues"] else ("partial" if entry["clips"] else "skipped")
        report["videos"][job.video_id] = entry
    kinds: dict[str, int] = {}
    for entry in report["videos"].values():
        for issue in entry["issues"]:
            kinds[issue["kind"]] = kinds.get(issue["kind"], 0) + 1
    report["totals"] = {
        "videos": len(jobs), "clips": len(all_clips), "seconds": float(sum(c.meta.duration for c in all_clips)),
        "skipped": sum(1 for e in report["videos"].values() if e["status"] == "skipped"),
        "issues": kinds,
        "without": {m: sum(1 for c in all_clips if m not in c) for m in sorted(registry.modalities)
                    if any(m not in c for c in all_clips)},
    }
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    static = {name: not mod.temporal for name, mod in registry.modalities.items()}
    write_dataset(tmp, all_clips, name=out.name, static=static, shard_size=config.shard_size)
    atomic_write_text(tmp / REPORT_FILE, json.dumps(report, indent=1, default=str) + "\n")
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
    return report
