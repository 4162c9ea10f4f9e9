"""Text-to-speech with espeak-ng through ctypes: audio at 16 kHz plus word and phoneme timings.

Licence: espeak-ng (the shared library and voice data shipped by the PyPI wheel
``espeakng-loader``) is licensed under the GNU General Public License, version 3 or later.
This module is the only place that loads it; it calls the library at run time through ctypes
and does not copy any of its code or data. All espeak-ng code of this plugin lives here.

The library keeps global state (one voice, one callback), so every call holds a process-wide
lock; use processes, not threads, to synthesize in parallel. It also keeps synthesis state in
static variables (the phase of its pitch "flutter"), so a second call with the same text gives
slightly different audio and timings. To make every synthesis a pure function of its inputs,
the library is loaded fresh for each call and unloaded after it (``dlclose``; ~1-10 ms).
"""

from __future__ import annotations

import _ctypes
import ctypes
import os
import re
import threading
from math import gcd

import attrs
import numpy as np
from jaxtyping import Float
from scipy.signal import resample_poly

from archon_framework import ArchonError

__all__ = ["ESPEAK_RATE", "EspeakError", "Phone", "Synthesis", "Voice", "Word", "synthesize"]

#: espeak-ng's native output rate (Hz) for its formant voices.
ESPEAK_RATE = 22050

# espeak_lib.h constants (stable C API of espeak-ng 1.5x).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4


class EspeakError(ArchonError):
    """espeak-ng could not be loaded or failed to synthesize (the message says which step)."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@attrs.frozen
class Voice:
    """An espeak-ng voice: language, variant (e.g. ``m3``, ``f2``), pitch and speaking rate.

    Attributes:
        language: espeak voice name, e.g. ``en-us``.
        variant: a variant file of ``voices/!v`` (``m1``..``m7``, ``f1``..``f5``, ...).
        pitch: base pitch, 0..100 (espeak's default is 50).
        pitch_range: pitch range, 0..100.
        rate: speaking rate in words per minute (80..450).
    """

    language: str = "en-us"
    variant: str = "m3"
    pitch: int = 50
    pitch_range: int = 50
    rate: int = 170


@attrs.frozen
class Word:
    """One whitespace token of the text (punctuation kept) and its spoken interval in seconds."""

    text: str
    start: float
    end: float


@attrs.frozen
class Phone:
    """One phoneme (espeak mnemonic) and its interval in seconds."""

    symbol: str
    start: float
    end: float


@attrs.frozen
class Synthesis:
    """The result of :func:`synthesize`: 16 kHz audio (paper Sec. D.3) and its word timings
    (the word-level captions of Sec. D.2) and phoneme timings."""

    audio: Float[np.ndarray, " samples"] = attrs.field(eq=False)  # at `sample_rate`
    sample_rate: int
    words: tuple[Word, ...]
    phones: tuple[Phone, ...]

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / self.sample_rate


class _Engine:
    """A freshly loaded and initialized library; :meth:`close` unloads it."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as err:
            raise EspeakError(
                "speech synthesis needs the PyPI wheel 'espeakng-loader'; install it with "
                "`pip install espeakng-loader`"
            ) from err
        lib_path = espeakng_loader.get_library_path()
        try:
            self.lib = ctypes.CDLL(lib_path)
        except OSError as err:
            raise EspeakError(f"cannot load espeak-ng library {lib_path}: {err}") from err
        self.data_path = espeakng_loader.get_data_path()
        data = self.data_path.encode()
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed (returned {rate}) with data at {data.decode()}")
        self.native_rate = int(rate)
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, num_samples, events) -> int:
        if num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            symbol = bytes(ev.id.string).split(b"\0")[0] if ev.type == _EVENT_PHONEME else b""
            self._events.append((ev.type, ev.text_position, ev.length, ev.sample, symbol))
            i += 1
        return 0  # 0: continue synthesis

    def run(self, text: str, voice: Voice, seed: int) -> tuple[np.ndarray, list[tuple[int, int, int, int, bytes]]]:
        name = f"{voice.language}+{voice.variant}" if voice.variant else voice.language
        if voice.variant and not os.path.isfile(os.path.join(self.data_path, "voices", "!v", voice.variant)):
            raise EspeakError(f"espeak-ng has no voice variant {voice.variant!r} (voice {name!r}); "
                              f"use one of voices/!v under {self.data_path}, e.g. m3 or f2")
        if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise EspeakError(f"espeak-ng has no voice {name!r}; use a language and a variant of voices/!v")
        for param, value in ((_PARAM_RATE, voice.rate), (_PARAM_PITCH, voice.pitch),
                             (_PARAM_RANGE, voice.pitch_range), (_PARAM_VOLUME, 100)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        self._chunks, self._events = [], []
        self.lib.espeak_ng_SetRandSeed(int(seed))  # noise sources and jitter: reproducible output
        data = text.encode("utf-8") + b"\0"
        err = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise EspeakError(f"espeak_Synth failed with error {err} on text {text[:60]!r}")
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return audio, self._events

    def close(self) -> None:
        """Terminate and unload the library, so the next load starts from its initial state."""
        self.lib.espeak_Terminate()
        handle, self.lib = self.lib._handle, None
        _ctypes.dlclose(handle)


_LOCK = threading.Lock()  # the C library is a per-process singleton


def synthesize(text: str, voice: Voice = Voice(), *, sample_rate: int = 16000, seed: int = 0) -> Synthesis:
    """Speak `text` with espeak-ng; return audio resampled to `sample_rate` and its timings.

    Word intervals run from a word's WORD event to the end of its last phoneme; phoneme
    intervals run from one PHONEME event to the next (or to the end of the audio).

    Args:
        text: UTF-8 text, one or more sentences.
        voice: the voice, pitch and rate.
        sample_rate: output rate in Hz (the native 22,050 Hz is resampled with a polyphase filter).
        seed: seed of espeak-ng's random generator (aspiration noise): equal inputs give equal audio.

    Returns:
        A :class:`Synthesis` with float32 audio in [-1, 1].

    Raises:
        EspeakError: the library is missing, the voice is unknown, or synthesis failed.
    """
    with _LOCK:
        eng = _Engine()
        try:
            raw, events = eng.run(text, voice, seed)
            native = eng.native_rate
        finally:
            eng.close()
    total = len(raw) / native
    g = gcd(sample_rate, native)
    audio = resample_poly(raw.astype(np.float32) / 32768.0, sample_rate // g, native // g)
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)  # [samples]
    events = sorted(events, key=lambda e: e[3])  # by sample position
    phones: list[Phone] = []
    marks: list[tuple[float, int]] = []  # (event time, 0-based character position)
    for kind, pos, _length, sample, symbol in events:
        t = sample / native
        if kind == _EVENT_PHONEME:
            if phones:
                phones[-1] = attrs.evolve(phones[-1], end=t)
            phones.append(Phone(symbol.decode("utf-8", "replace"), t, total))
        elif kind == _EVENT_WORD:
            marks.append((t, pos - 1))
    # an event owns the spoken phonemes from its WORD event to the next one (events come a few
    # ms before the word's first phoneme)
    spans: list[tuple[int, float, float]] = []  # (character position, start, end)
    for k, (t0, pos) in enumerate(marks):
        t1 = marks[k + 1][0] if k + 1 < len(marks) else np.inf
        own = [p for p in phones if t0 - 0.002 <= p.start < t1 - 0.002 and not _is_pause(p.symbol)]
        spans.append((pos, *((own[0].start, own[-1].end) if own else (t0, t0))))
    words = _time_tokens(text, spans)
    return Synthesis(audio=audio, sample_rate=sample_rate, words=tuple(words), phones=tuple(phones))


def _time_tokens(text: str, spans: list[tuple[int, float, float]]) -> list[Word]:
    """Whitespace tokens of `text` (punctuation kept) with the intervals of their WORD events.

    espeak-ng merges some unstressed words into the next one ("on the road" gives events for
    "on" and "road" only; the phonemes of "the" fall in the interval of "on"): a token without
    an event takes the interval of the token before it (the one after it if it is first).
    """
    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    timed: list[tuple[float, float] | None] = []
    for lo, hi, _ in tokens:
        mine = [(a, b) for pos, a, b in spans if lo <= pos < hi]
        timed.append((min(a for a, _ in mine), max(b for _, b in mine)) if mine else None)
    for i in range(len(timed)):
        if timed[i] is None and i > 0:
            timed[i] = timed[i - 1]
    for i in reversed(range(len(timed))):
        if timed[i] is None and i + 1 < len(timed):
            timed[i] = timed[i + 1]
    return [Word(tok, *(iv or (0.0, 0.0))) for (_, _, tok), iv in zip(tokens, timed)]


def _is_pause(symbol: str) -> bool:
    return symbol == "" or symbol.startswith("_")
