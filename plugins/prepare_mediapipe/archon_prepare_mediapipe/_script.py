"""The script with word timings (paper D.2): from captions given with the video, else offline ASR.

Captions (`.json`, `.csv`, `.tsv`, `.srt`, `.vtt`) are read by archon-text-t5's reader, so each
window keeps the words that overlap it; a `.txt` transcript has no timings and is the script
of a video prepared whole (with windows it is refused: its words cannot be placed). Without a
transcript, pocketsphinx 5.1.1 (its US English model ships in the wheel) recognizes the
speech with word timings; the paper used Whisper for its test sets, which needs weights that
no wheel ships.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from archon_framework.data import PrepareError
from archon_text_t5 import check_text, read_captions

__all__ = ["recognize", "script_step"]

def recognize(speech: np.ndarray, sample_rate: int = 16_000) -> list[list[Any]]:
    """Words `[[text, start_s, end_s], ...]` recognized in mono float speech (archon-perception's pocketsphinx)."""
    from archon_perception import recognize as asr

    return [[w.text, w.start, w.end] for w in asr(speech, sample_rate=sample_rate).words]


def script_step(ctx: Any, work: dict[str, Any]) -> dict[str, Any]:
    """Step `script`: `script@words` from captions or ASR, or `script` from a `.txt` transcript.

    Options: `asr` (true): recognize speech when no transcript is given (false: no script).
    """
    opts = {"asr": True, **ctx.options}
    given = ctx.job.sidecars.get("script")
    if given is not None:
        if given.suffix.lower() == ".txt":
            if ctx.config.window_seconds:
                raise PrepareError("script", f"{given}: a .txt transcript has no timings, so it cannot be cut into "
                                             "windows; give word-level captions (.srt, .vtt, .json, .csv)")
            return {"script": check_text(" ".join(given.read_text(encoding="utf-8-sig").split()), where=f"script (file {given})")}
        return {"script@words": [[w.text, w.start, w.start + w.duration] for w in read_captions(given)]}
    if not opts["asr"] or "speech" not in work:
        return {}
    words = recognize(work["speech"], ctx.config.sample_rate)
    ctx.note("asr", f"script recognized by pocketsphinx ({len(words)} words)")
    return {"script@words": words}
