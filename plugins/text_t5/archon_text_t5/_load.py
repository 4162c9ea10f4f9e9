"""File loaders of ``description`` and ``script`` for manifest ingestion (``archon data ingest``;
paper Sec. D.1, D.2).

``description``: a UTF-8 JSON file holding one Fig. K object, validated against the Fig. L schema
and returned in canonical form (:func:`validate_description`).

``script``: the words spoken in the clip, as the ``str`` the modality takes. From

* **word-level captions** (paper D.2): every caption word whose interval overlaps the clip
  ``[0, duration)`` (seconds from the clip's start) is kept, in the file's order, and the words
  are joined with single spaces. A word ``[start, start + duration)`` overlaps when
  ``start < clip duration`` and ``start + duration > 0``; a zero-length word when
  ``0 <= start < clip duration``. Words outside the clip are not part of its script (the
  paper's definition, so a caption file of a longer recording may be given). Formats:

  - ``.json``: a list of words, ``{"words": [...]}``, or Whisper's
    ``{"segments": [{"words": [...]}, ...]}``; a word is ``{"word" | "text": str, "start": s,
    "duration": s | "end": s}``;
  - ``.csv`` / ``.tsv``: a header with ``word`` (or ``text``), ``start`` and ``duration`` (or
    ``end``) columns;
  - ``.srt`` / ``.vtt``: subtitle cues ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` (``.`` also accepted);
    a cue is one unit: all of its words are kept when its interval overlaps the clip.

* **plain text** (``.txt``): the whole file, whitespace runs collapsed, is the clip's script.
  It carries no timings, so the clip's past/current windows split its words evenly over the
  clip (``archon_framework.words_window``), an approximation.

The stored script is plain text either way (the modality's raw value is a ``str``): timings are
used to select the clip's words and are not stored.

Every error is a :class:`archon_framework.RawValueError` naming the file (and entry or line).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from archon_framework import ClipMeta, RawValueError
from archon_text_t5._schema import validate_description
from archon_text_t5._spm import check_text

__all__ = [
    "TimedWord",
    "CAPTION_SUFFIXES",
    "read_captions",
    "words_in_clip",
    "load_script",
    "load_description",
]

#: Suffixes read as word-level captions (anything else but ``.txt`` is refused).
CAPTION_SUFFIXES: frozenset[str] = frozenset({".json", ".csv", ".tsv", ".srt", ".vtt"})

_CUE_TIME = re.compile(
    r"^\s*(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})\s*-->\s*(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
)


@attrs.frozen
class TimedWord:
    """A caption word (or subtitle cue) and its interval, seconds from the clip's start."""

    text: str
    start: float
    duration: float

    def overlaps(self, begin: float, end: float) -> bool:
        """Whether ``[start, start + duration)`` overlaps ``[begin, end)`` (a zero-length word:
        whether ``begin <= start < end``)."""
        stop = self.start + self.duration
        if stop <= self.start:  # zero length, or shorter than a float can tell at this time
            return begin <= self.start < end
        return self.start < end and stop > begin


def _number(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RawValueError(f"{where}: {key!r} must be a number of seconds, got {value!r}")
    try:
        x = float(value)
    except ValueError:
        raise RawValueError(f"{where}: {key!r} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(x):
        raise RawValueError(f"{where}: {key!r} must be finite, got {value!r}")
    return x


def _word(entry: Mapping[str, Any], where: str) -> TimedWord:
    """One caption entry with word|text, start and duration|end -> TimedWord (checked)."""
    text = entry.get("word", entry.get("text"))
    if not isinstance(text, str) or not text.strip():
        raise RawValueError(f"{where}: needs a non-empty 'word' (or 'text'), got {text!r}")
    if "start" not in entry or entry.get("start") in (None, ""):
        raise RawValueError(f"{where}: needs 'start' (seconds)")
    start = _number(entry["start"], "start", where)
    if entry.get("duration") not in (None, ""):
        duration = _number(entry["duration"], "duration", where)
    elif entry.get("end") not in (None, ""):
        duration = _number(entry["end"], "end", where) - start
    else:
        raise RawValueError(f"{where}: needs 'duration' or 'end' (seconds)")
    if duration < 0:
        raise RawValueError(f"{where}: negative duration {duration:g} s")
    return TimedWord(" ".join(text.split()), start, duration)


def _json_words(path: Path, text: str) -> list[TimedWord]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RawValueError(
            f"script (file {path}): not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from err
    entries: Iterable[Any]
    if isinstance(data, list):
        entries = data
    elif isinstance(data, Mapping) and isinstance(data.get("words"), list):
        entries = data["words"]
    elif isinstance(data, Mapping) and isinstance(data.get("segments"), list):
        entries = []
        for i, segment in enumerate(data["segments"]):
            if not isinstance(segment, Mapping) or not isinstance(segment.get("words"), list):
                raise RawValueError(f"script (file {path}): segments[{i}] has no 'words' list (word timestamps)")
            entries.extend(segment["words"])
    else:
        raise RawValueError(
            f"script (file {path}): expected a list of words, {{\"words\": [...]}} or "
            "{\"segments\": [{\"words\": [...]}]} with word-level timings"
        )
    words = []
    for i, entry in enumerate(entries):
        where = f"script (file {path}, word {i})"
        if not isinstance(entry, Mapping):
            raise RawValueError(f"{where}: expected an object, got {type(entry).__name__}")
        words.append(_word(entry, where))
    return words


def _table_words(path: Path, text: str) -> list[TimedWord]:
    reader = csv.DictReader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    fields = {f.strip().lower() for f in reader.fieldnames or ()}
    if not ({"word", "text"} & fields and "start" in fields and {"duration", "end"} & fields):
        raise RawValueError(
            f"script (file {path}): the header needs columns word (or text), start and duration (or end); "
            f"got {sorted(fields)}"
        )
    return [
        _word({(k or "").strip().lower(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()},
              f"script (file {path}, line {n})")
        for n, row in enumerate(reader, 2)
    ]


def _cue_seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def _subtitle_words(path: Path, text: str) -> list[TimedWord]:
    words: list[TimedWord] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _CUE_TIME.match(lines[i])
        i += 1
        if not match:
            continue
        g = match.groups()
        start, end = _cue_seconds(*g[:4]), _cue_seconds(*g[4:])
        cue: list[str] = []
        while i < len(lines) and lines[i].strip():
            cue.append(re.sub(r"<[^>]*>", "", lines[i]))  # drop WebVTT/SRT inline tags
            i += 1
        content = " ".join(" ".join(cue).split())
        if end < start:
            raise RawValueError(f"script (file {path}, line {i - len(cue)}): cue ends before it starts")
        if content:
            words.append(TimedWord(content, start, end - start))
    if not words and text.strip():
        raise RawValueError(f"script (file {path}): no subtitle cue 'HH:MM:SS,mmm --> HH:MM:SS,mmm' found")
    return words


def _read_text(path: Path, modality: str) -> str:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise RawValueError(f"{modality} (file {path}): cannot read ({err})") from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise RawValueError(f"{modality} (file {path}): not UTF-8 text (byte {err.start})") from err


def read_captions(path: str | Path) -> list[TimedWord]:
    """Word-level captions (``.json``, ``.csv``, ``.tsv``, ``.srt``, ``.vtt``) in file order.

    Raises:
        RawValueError: an unknown suffix, unreadable or malformed file, or a word without text,
            start or duration; the file and entry are named.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CAPTION_SUFFIXES:
        raise RawValueError(f"script (file {path}): captions must be {', '.join(sorted(CAPTION_SUFFIXES))}")
    text = _read_text(path, "script")
    if suffix == ".json":
        return _json_words(path, text)
    if suffix in (".csv", ".tsv"):
        return _table_words(path, text)
    return _subtitle_words(path, text)


def words_in_clip(words: Iterable[TimedWord], duration: float, *, start: float = 0.0) -> str:
    """The script of ``[start, start + duration)``: the overlapping words, in order (paper D.2)."""
    return " ".join(w.text for w in words if w.overlaps(start, start + duration))


def load_script(path: str | Path, meta: ClipMeta) -> str:
    """The ``script`` of a clip from captions or a ``.txt`` (``Modality.load``; see the module
    docstring for the formats and the overlap rule).

    Raises:
        RawValueError: see :func:`read_captions`; also text that is not valid UTF-8 or holds
            control characters.
    """
    path = Path(path)
    where = f"script (file {path})"
    if path.suffix.lower() == ".txt":
        script = " ".join(_read_text(path, "script").split())
    elif path.suffix.lower() in CAPTION_SUFFIXES:
        script = words_in_clip(read_captions(path), meta.duration)
    else:
        raise RawValueError(
            f"{where}: expected word-level captions ({', '.join(sorted(CAPTION_SUFFIXES))}) or plain text (.txt)"
        )
    return check_text(script, where=where)


def load_description(path: str | Path, meta: ClipMeta | None = None) -> dict[str, Any]:
    """The ``description`` of a clip from a JSON file, validated and canonical (``Modality.load``).

    Raises:
        RawValueError: unreadable or invalid JSON, or a description that violates the schema
            (the JSON path of the first violation is named).
    """
    path = Path(path)
    text = _read_text(path, "description")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise RawValueError(
            f"description (file {path}): not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from err
    try:
        return validate_description(obj)
    except RawValueError as err:
        raise RawValueError(f"description (file {path}): {err}") from err
