"""Offline US-English speech recognition by pocketsphinx 5.1.1 (the model inside its wheel).

CMU Sphinx's continuous-density HMM recognizer (Huggins-Daines et al. 2006, "PocketSphinx: A
Free, Real-Time Continuous Speech Recognition System for Hand-Held Devices") with the wheel's
``en-us`` acoustic model, ``en-us.lm.bin`` trigram language model and CMU dictionary. It turns
16 kHz mono speech into words with start and end times: the word timings a clip with speech and
no script needs (the role Whisper plays in the paper's data pipeline), and the hypothesis that
word and character error rates score against a script.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import attrs
import numpy as np
from jaxtyping import Float

from archon_perception._definition import MissingPackageError, ModelDefinition, PerceptionError, installed_version

__all__ = ["ASR_SAMPLE_RATE", "POCKETSPHINX_VERSION", "AsrConfig", "Transcript", "Word", "asr_definition", "recognize"]

POCKETSPHINX_VERSION = "5.1.1"
ASR_SAMPLE_RATE = 16000
_INSTALL = f"pip install pocketsphinx=={POCKETSPHINX_VERSION} (a dependency of archon-perception)"
_MODEL_FILES = ("en-us/en-us/README", "en-us/en-us/feat.params", "en-us/en-us/mdef", "en-us/en-us/means",
                "en-us/en-us/noisedict", "en-us/en-us/sendump", "en-us/en-us/transition_matrices",
                "en-us/en-us/variances", "en-us/en-us.lm.bin", "en-us/cmudict-en-us.dict")


@attrs.frozen(kw_only=True)
class AsrConfig:
    """Settings of :func:`recognize` beyond pocketsphinx's defaults (all of which the definition records).

    Attributes:
        lw: language-model weight.
        beam: main pruning beam.
        min_confidence: words whose posterior is below this are dropped (0: keep all).
    """

    lw: float = attrs.field(default=6.5, validator=attrs.validators.gt(0.0))
    beam: float = attrs.field(default=1e-48, validator=attrs.validators.gt(0.0))
    min_confidence: float = attrs.field(default=0.0, validator=attrs.validators.and_(
        attrs.validators.ge(0.0), attrs.validators.le(1.0)))


@attrs.frozen(kw_only=True)
class Word:
    """One recognized word.

    Attributes:
        text: the word, lower case (the dictionary's spelling, without pronunciation variants).
        start: start time in seconds from the beginning of the speech.
        end: end time in seconds.
        confidence: pocketsphinx's posterior probability of the word, in [0, 1].
    """

    text: str
    start: float
    end: float
    confidence: float


@attrs.frozen(kw_only=True)
class Transcript:
    """What :func:`recognize` heard.

    Attributes:
        words: recognized words in time order (empty for silence).
        definition: the model definition they were made with.
    """

    words: tuple[Word, ...]
    definition: ModelDefinition

    @property
    def text(self) -> str:
        """The words joined by spaces."""
        return " ".join(w.text for w in self.words)


def _model_root() -> Path:
    installed_version("pocketsphinx", pinned=POCKETSPHINX_VERSION, install=_INSTALL)
    try:
        import pocketsphinx
    except Exception as err:
        raise MissingPackageError(f"pocketsphinx {POCKETSPHINX_VERSION} does not import ({err}): {_INSTALL}",
                                  package="pocketsphinx", extra=_INSTALL) from err
    return Path(pocketsphinx.get_model_path())


@functools.lru_cache(maxsize=4)
def _decoder(config: AsrConfig):
    root = _model_root()
    from pocketsphinx import Decoder

    model = root / "en-us"
    return Decoder(hmm=str(model / "en-us"), lm=str(model / "en-us.lm.bin"), dict=str(model / "cmudict-en-us.dict"),
                   samprate=ASR_SAMPLE_RATE, lw=config.lw, beam=config.beam, loglevel="FATAL")


def asr_definition(config: AsrConfig = AsrConfig()) -> ModelDefinition:
    """The versioned definition of the recognizer: pocketsphinx version, model sha256s, every decoder setting.

    Raises:
        MissingPackageError: pocketsphinx 5.1.1 is not installed.
    """
    _model_root()  # checked on every call; the hashes are computed once
    return _asr_definition(config)


@functools.lru_cache(maxsize=4)
def _asr_definition(config: AsrConfig) -> ModelDefinition:
    root = _model_root()
    decoder_config = _decoder(config).config
    parameters = {}
    for key in decoder_config:
        value = decoder_config[key]
        if isinstance(value, str) and os.path.isabs(value):
            value = os.path.relpath(value, root)  # the file's hash is in `files`; its location is not a setting
        if key not in ("loglevel", "logfn", "verbose"):
            parameters[key] = value
    parameters["min_confidence"] = config.min_confidence
    return ModelDefinition.from_files(name="pocketsphinx.en-us", package="pocketsphinx", version=POCKETSPHINX_VERSION,
                                      root=root, files=list(_MODEL_FILES), parameters=parameters)


def _to_pcm16(speech: np.ndarray, sample_rate: int, name: str) -> bytes:
    speech = np.asarray(speech)
    if speech.ndim != 1 or not np.issubdtype(speech.dtype, np.floating):
        raise PerceptionError(f"{name}: speech recognition needs mono float samples [samples], "
                              f"got {speech.dtype} {speech.shape}")
    if not np.all(np.isfinite(speech)):
        raise PerceptionError(f"{name}: speech has NaN or infinite samples")
    if sample_rate != ASR_SAMPLE_RATE:
        if sample_rate <= 0:
            raise PerceptionError(f"{name}: sample rate {sample_rate} Hz must be positive")
        from scipy.signal import resample_poly

        g = math.gcd(int(sample_rate), ASR_SAMPLE_RATE)
        speech = resample_poly(speech.astype(np.float64), ASR_SAMPLE_RATE // g, int(sample_rate) // g)
    return (np.clip(speech, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _word(raw: str) -> str | None:
    """The dictionary word of a segment, or None for silence and filler (``<s>``, ``<sil>``, ``[NOISE]``)."""
    if raw.startswith(("<", "[", "+")):
        return None
    return raw.split("(", 1)[0].lower()  # "read(2)" is a pronunciation variant of "read"


def recognize(speech: Float[np.ndarray, " samples"], *, sample_rate: int = ASR_SAMPLE_RATE,
              config: AsrConfig = AsrConfig(), name: str = "speech") -> Transcript:
    """Recognize US-English speech offline, with word timings.

    Args:
        speech: mono float samples in [-1, 1] (clipped there); other rates than 16 kHz are resampled.
        sample_rate: rate of `speech` in Hz.
        config: decoder settings.
        name: what the speech is, quoted in errors (e.g. ``speech of clip X``).

    Returns:
        :class:`Transcript`; silence or audio too short to decode gives no words.

    Raises:
        PerceptionError: not 1-D float samples, or non-finite samples.
        MissingPackageError: pocketsphinx 5.1.1 is not installed.
    """
    pcm = _to_pcm16(speech, sample_rate, name)
    definition = asr_definition(config)
    decoder = _decoder(config)
    frate = float(decoder.config["frate"])
    if not np.any(np.frombuffer(pcm, "<i2")):  # digital silence: nothing to hear
        return Transcript(words=(), definition=definition)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    words = []
    for seg in decoder.seg():
        text = _word(seg.word)
        if text is None or seg.prob < config.min_confidence:
            continue
        words.append(Word(text=text, start=seg.start_frame / frate, end=(seg.end_frame + 1) / frate,
                          confidence=float(seg.prob)))
    return Transcript(words=tuple(words), definition=definition)
