"""Reading a video file with ffmpeg (imageio-ffmpeg's binary): probe, frames at a fixed rate, audio.

ffmpeg resamples a variable-frame-rate video to a constant rate (the `fps` filter keeps the
frame shown at each output instant) and applies a rotation stored in the file (display matrix
or `rotate` tag), so frames come out upright; both are noted in the report. The audio track is
mixed to mono and resampled to 16 kHz by ffmpeg's resampler (paper D.3) and padded with silence
or cut to the video's length.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import attrs
import imageio_ffmpeg
import numpy as np
from archon_framework.data import PrepareError

__all__ = ["Probe", "probe", "read_frames", "read_audio", "media_step", "write_video"]

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?, (\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"([\d.]+)(k?) fps")
_TBR = re.compile(r"([\d.]+)(k?) tbr")
_ROTATION = re.compile(r"(?:rotation of (-?[\d.]+) degrees|rotate\s*:\s*(-?\d+))")
_CORRUPT = ("Invalid data found", "moov atom not found", "could not find codec parameters", "End of file")


@attrs.frozen
class Probe:
    """What ffmpeg reports about a file (sizes before rotation)."""

    duration: float
    width: int
    height: int
    fps: float | None
    tbr: float | None
    rotation: int
    has_audio: bool

    @property
    def variable_frame_rate(self) -> bool:
        """ffmpeg's average rate (fps) differs from its base rate (tbr): frames are not evenly spaced."""
        return self.fps is not None and self.tbr is not None and abs(self.fps - self.tbr) > 0.01 * self.tbr

    @property
    def upright_size(self) -> tuple[int, int]:
        """(width, height) of the frames ffmpeg outputs (after applying the rotation)."""
        return (self.height, self.width) if self.rotation % 180 == 90 else (self.width, self.height)


def _ffmpeg() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _rate(match: re.Match | None) -> float | None:
    if match is None:
        return None
    return float(match.group(1)) * (1000 if match.group(2) else 1)


def probe(path: Path) -> Probe:
    """Probe a file; `PrepareError("corrupt")` when ffmpeg cannot read it or it has no video."""
    if not path.is_file():
        raise PrepareError("missing", f"{path}: no such file")
    res = subprocess.run([_ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, errors="replace")
    text = res.stderr
    video = next((line for line in text.splitlines() if "Video:" in line and "Stream #" in line), None)
    if video is None or any(s in text for s in _CORRUPT[:3]):
        reason = next((line.strip() for line in text.splitlines() if any(s in line for s in _CORRUPT)), "no video stream")
        raise PrepareError("corrupt", f"{path}: ffmpeg cannot read a video stream ({reason})")
    size = _VIDEO.search(video)
    if size is None:
        raise PrepareError("corrupt", f"{path}: no frame size in ffmpeg's stream line {video.strip()!r}")
    dur = _DURATION.search(text)
    duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else 0.0
    rot = _ROTATION.search(text)
    rotation = int(round(float(rot.group(1) or rot.group(2)))) % 360 if rot else 0
    return Probe(duration=duration, width=int(size.group(1)), height=int(size.group(2)), fps=_rate(_FPS.search(video)),
                 tbr=_rate(_TBR.search(video)), rotation=rotation,
                 has_audio=any("Audio:" in line and "Stream #" in line for line in text.splitlines()))


def read_frames(path: Path, info: Probe, *, fps: float, max_side: int) -> tuple[np.ndarray, str]:
    """RGB frames `(T, H, W, 3)` uint8 at `fps`, upright, the longer side at most `max_side`.

    Returns:
        The frames and ffmpeg's error output (empty for a clean decode).
    """
    w, h = info.upright_size
    scale = min(1.0, max_side / max(w, h))
    ow, oh = max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)
    cmd = [_ffmpeg(), "-v", "error", "-i", str(path), "-an", "-vf", f"fps={fps:g},scale={ow}:{oh}:flags=area",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    res = subprocess.run(cmd, capture_output=True)
    n = len(res.stdout) // (ow * oh * 3)
    frames = np.frombuffer(res.stdout[: n * ow * oh * 3], np.uint8).reshape(n, oh, ow, 3)
    return frames, res.stderr.decode("utf-8", "replace").strip()


def read_audio(path: Path, *, sample_rate: int) -> tuple[np.ndarray, str]:
    """The audio track as mono float32 in [-1, 1] at `sample_rate`, and ffmpeg's error output."""
    cmd = [_ffmpeg(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    res = subprocess.run(cmd, capture_output=True)
    audio = np.frombuffer(res.stdout[: len(res.stdout) // 4 * 4], np.float32)
    return np.clip(audio, -1.0, 1.0), res.stderr.decode("utf-8", "replace").strip()


def media_step(ctx: Any, work: dict[str, Any]) -> dict[str, Any]:
    """Step `media`: `frames` at the clip rate and `speech` at 16 kHz mono, aligned in length.

    Options: `max_side` (decode size cap, default 720), `require_audio` (default true: a video
    without an audio track is skipped as `no_audio`; false: its clips have no speech),
    `on_truncated` (`skip`, the default, or `keep` the part that decodes).
    """
    opts = {"max_side": 720, "require_audio": True, "on_truncated": "skip", **ctx.options}
    fps, sr = ctx.config.frame_rate, ctx.config.sample_rate
    path = ctx.job.path
    info = probe(path)
    if info.rotation:
        ctx.note("rotated", f"rotation {info.rotation} degrees in the file; frames turned upright")
    if info.variable_frame_rate:
        ctx.note("variable_frame_rate", f"average {info.fps:g} fps, base {info.tbr:g}; resampled to {fps:g} fps")
    frames, errors = read_frames(path, info, fps=fps, max_side=int(opts["max_side"]))
    if len(frames) == 0:
        raise PrepareError("corrupt", f"{path}: no frame decodes ({errors[-300:] or 'empty output'})")
    expected = info.duration * fps
    if errors or (expected and len(frames) < 0.9 * expected - 1):
        message = f"{path}: {len(frames)} of ~{expected:.0f} frames decode ({errors.splitlines()[-1] if errors else 'stream ends early'})"
        if opts["on_truncated"] != "keep":
            raise PrepareError("truncated", message + "; skipped (on_truncated = skip)")
        ctx.note("truncated", message + "; kept what decodes")
    out: dict[str, Any] = {"frames": frames}
    samples = int(round(len(frames) / fps * sr))
    if not info.has_audio:
        if opts["require_audio"]:
            raise PrepareError("no_audio", f"{path}: no audio track (set [steps.media] require_audio = false to keep it without speech)")
        ctx.note("no_audio", f"{path}: no audio track; its clips have no speech")
        return out
    audio, a_errors = read_audio(path, sample_rate=sr)
    if len(audio) < samples:
        ctx.note("audio_padded", f"audio is {len(audio) / sr:.3f} s, video {samples / sr:.3f} s: padded with silence (paper D.3)")
        audio = np.pad(audio, (0, samples - len(audio)))
    out["speech"] = np.ascontiguousarray(audio[:samples], np.float32)
    return out


def write_video(path: Path, frames: np.ndarray, fps: float, audio: np.ndarray | None = None, sample_rate: int = 16_000,
                *, rotation: int = 0, crf: int = 18) -> Path:
    """Encode RGB frames (and mono float audio) as H.264/AAC mp4 (tests and benchmarks).

    `rotation` stores a display rotation (degrees) in the file, as phones do. Written to a
    temporary name and renamed.
    """
    import tempfile

    path = Path(path)
    t, h, w = frames.shape[:3]
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    with tempfile.TemporaryDirectory() as d:
        cmd = [_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-"]
        if audio is not None:
            raw = Path(d) / "audio.f32"
            raw.write_bytes(np.asarray(audio, "<f4").tobytes())
            cmd += ["-f", "f32le", "-ar", str(sample_rate), "-ac", "1", "-i", str(raw)]
        cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", str(crf)]
        if audio is not None:
            cmd += ["-c:a", "aac", "-b:a", "128k"]
        subprocess.run(cmd + [str(tmp)], input=np.ascontiguousarray(frames).tobytes(), check=True, capture_output=True)
        if rotation:
            rotated = Path(d) / "rotated.mp4"
            subprocess.run([_ffmpeg(), "-v", "error", "-y", "-display_rotation", str(rotation), "-i", str(tmp), "-c", "copy", str(rotated)],
                           check=True, capture_output=True)
            rotated.replace(tmp)
    tmp.replace(path)
    return path
