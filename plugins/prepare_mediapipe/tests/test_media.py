"""Reading awkward files with ffmpeg: rotation, variable frame rate, no audio, corrupt, truncated."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from archon_framework.data import PrepareConfig, PrepareContext, PrepareError, VideoJob
from archon_prepare_mediapipe import probe, read_audio, read_frames
from archon_prepare_mediapipe._media import _ffmpeg, media_step


def _lavfi(path, *args):
    subprocess.run([_ffmpeg(), "-v", "error", "-y", *args, str(path)], check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    src = ["-f", "lavfi", "-i", "testsrc=size=160x96:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    out = {
        "plain": _lavfi(d / "plain.mp4", *src, "-t", "1.2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                        "-movflags", "+faststart", "-shortest"),
        "silent": _lavfi(d / "silent.mp4", *src[:4], "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"),
        # every third frame dropped, timestamps kept: 20 frames a second, unevenly spaced
        "vfr": _lavfi(d / "vfr.mp4", *src[:4], "-t", "1.5", "-vf", "select='mod(n\\,3)'", "-fps_mode", "vfr",
                      "-c:v", "libx264", "-pix_fmt", "yuv420p"),
    }
    out["rotated"] = _lavfi(d / "rotated.mp4", "-display_rotation", "90", "-i", str(out["plain"]), "-c", "copy")
    (d / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    out["corrupt"] = d / "corrupt.mp4"
    data = out["plain"].read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    out["truncated"] = d / "truncated.mp4"
    return out


def _ctx(path, **options):
    return PrepareContext(job=VideoJob(video_id=path.stem, path=path), config=PrepareConfig(), options=options, step="media")


def test_frames_and_speech_come_out_at_the_clip_rates_and_lengths(files):
    ctx = _ctx(files["plain"])
    out = media_step(ctx, {})
    assert out["frames"].shape == (30, 96, 160, 3)  # 1.2 s at 25 fps
    assert out["speech"].shape == (19_200,) and out["speech"].dtype == np.float32
    spectrum = np.abs(np.fft.rfft(out["speech"]))
    assert abs(np.argmax(spectrum) * 16_000 / len(out["speech"]) - 440) < 5  # the tone survives 44.1 -> 16 kHz
    assert ctx.notes == []


def test_a_rotated_video_is_turned_upright_and_noted(files):
    info = probe(files["rotated"])
    assert info.rotation in (90, 270) and info.upright_size == (96, 160)
    ctx = _ctx(files["rotated"])
    assert media_step(ctx, {})["frames"].shape[1:3] == (160, 96)
    assert [n["kind"] for n in ctx.notes] == ["rotated"]


def test_a_variable_frame_rate_video_is_resampled_to_a_constant_rate(files):
    info = probe(files["vfr"])
    assert info.variable_frame_rate
    frames, errors = read_frames(files["vfr"], info, fps=25.0, max_side=720)
    assert abs(len(frames) - 1.5 * 25) <= 1 and errors == ""


def test_no_audio_is_skipped_or_kept_without_speech_as_configured(files):
    with pytest.raises(PrepareError, match="no audio track") as err:
        media_step(_ctx(files["silent"]), {})
    assert err.value.kind == "no_audio"
    ctx = _ctx(files["silent"], require_audio=False)
    out = media_step(ctx, {})
    assert "speech" not in out and len(out["frames"]) == 25 and ctx.notes[0]["kind"] == "no_audio"
    assert read_audio(files["silent"], sample_rate=16_000)[0].size == 0


@pytest.mark.parametrize("name, kind", [("corrupt", "corrupt"), ("truncated", "truncated")])
def test_corrupt_and_truncated_files_are_refused_by_name(files, name, kind):
    with pytest.raises(PrepareError, match=name) as err:
        media_step(_ctx(files[name]), {})
    assert err.value.kind == kind
    if kind == "truncated":  # or kept, as configured, with what decodes
        ctx = _ctx(files[name], on_truncated="keep")
        out = media_step(ctx, {})
        assert 0 < len(out["frames"]) < 30 and "truncated" in [n["kind"] for n in ctx.notes]
        assert len(out["speech"]) == round(len(out["frames"]) / 25 * 16_000)
