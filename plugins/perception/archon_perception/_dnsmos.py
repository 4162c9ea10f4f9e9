"""DNSMOS speech quality (Reddy et al. 2022, "DNSMOS P.835") from the ONNX models in the speechmos wheel.

DNSMOS P.835 predicts, from 9.01 s windows of 16 kHz audio, the ITU-T P.835 mean opinion scores
of the speech signal (SIG), the background (BAK) and the whole (OVRL), each mapped by a fixed
cubic, plus a P.808 overall MOS from a mel spectrogram. Windows hop by 1 s and the scores are
averaged; a clip shorter than a window is tiled (repeated) to at least 9.01 s first, as the
reference script does. speechmos 0.0.1.1 packages Microsoft's models and that script; this
wrapper calls its ``DNSMOS`` class on checked samples and records the definition.
"""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path

import attrs
import numpy as np
from jaxtyping import Float

from archon_perception._audio import as_speech, is_silent
from archon_perception._definition import MissingPackageError, ModelDefinition, installed_version

__all__ = ["DNSMOS_SAMPLE_RATE", "QUALITY_EXTRA", "SPEECHMOS_VERSION", "DnsmosScore", "dnsmos", "dnsmos_definition"]

SPEECHMOS_VERSION = "0.0.1.1"
DNSMOS_SAMPLE_RATE = 16000
#: What to install for DNSMOS.
QUALITY_EXTRA = "pip install 'archon-perception[quality]' (speechmos, onnxruntime, librosa)"
_FILES = ("dnsmos_models/sig_bak_ovr.onnx", "dnsmos_models/model_v8.onnx")


@attrs.frozen(kw_only=True)
class DnsmosScore:
    """DNSMOS of one clip (1..5, higher is better; NaN for silence).

    Attributes:
        ovrl: P.835 overall quality.
        sig: P.835 speech-signal quality.
        bak: P.835 background-noise quality (5: no noise).
        p808: P.808 overall MOS.
        definition: the model definition.
    """

    ovrl: float
    sig: float
    bak: float
    p808: float
    definition: ModelDefinition

    def as_dict(self) -> dict[str, float]:
        """The four scores by name."""
        return {"ovrl": self.ovrl, "sig": self.sig, "bak": self.bak, "p808": self.p808}


def _speechmos():
    installed_version("speechmos", pinned=SPEECHMOS_VERSION, install=QUALITY_EXTRA)
    try:
        import onnxruntime  # noqa: F401  (speechmos imports it; name it in the error if it is missing)
        from speechmos import dnsmos as module
    except ImportError as err:
        raise MissingPackageError(f"DNSMOS needs {err.name or err}: {QUALITY_EXTRA}", package=err.name or "speechmos",
                                  extra=QUALITY_EXTRA) from err
    return module


def dnsmos_definition() -> ModelDefinition:
    """The versioned definition of DNSMOS: speechmos version, ONNX sha256s, windows, runtime versions.

    Raises:
        MissingPackageError: speechmos (or onnxruntime, librosa) is not installed.
    """
    _speechmos()  # checked on every call; the hashes are computed once
    return _dnsmos_definition()


@functools.lru_cache(maxsize=1)
def _dnsmos_definition() -> ModelDefinition:
    module = _speechmos()
    parameters = {
        "sample_rate": DNSMOS_SAMPLE_RATE, "window_s": module.INPUT_LENGTH, "hop_s": 1.0,
        "short_clips": "tiled (repeated) to the window", "personalized": False,
        "p808_mel": "120 mels, n_fft 321, hop 160, power_to_db(ref=max) + 40) / 40",
        "onnxruntime": importlib.metadata.version("onnxruntime"), "librosa": importlib.metadata.version("librosa"),
        "silence": "RMS < 1e-5 scores NaN",
    }
    return ModelDefinition.from_files(name="dnsmos.p835", package="speechmos", version=SPEECHMOS_VERSION,
                                      root=Path(module.__file__).parent, files=list(_FILES), parameters=parameters)


@functools.lru_cache(maxsize=1)
def _model():
    module = _speechmos()
    root = Path(module.__file__).parent
    return module.DNSMOS(str(root / _FILES[0]), str(root / _FILES[1]))


def dnsmos(speech: Float[np.ndarray, " samples"], *, sample_rate: int = DNSMOS_SAMPLE_RATE,
           name: str = "speech") -> DnsmosScore:
    """DNSMOS P.835 (and P.808) of one speech clip.

    Args:
        speech: mono float samples in [-1, 1] (clipped there); other rates are resampled to 16 kHz.
        sample_rate: rate of `speech`.
        name: what the speech is, quoted in errors.

    Returns:
        :class:`DnsmosScore`; all NaN for digital silence (no speech to rate, never a low score).

    Raises:
        PerceptionError: bad samples.
        MissingPackageError: the ``quality`` extra is not installed.
    """
    wave = as_speech(speech, sample_rate=sample_rate, target_rate=DNSMOS_SAMPLE_RATE, name=name)
    definition = dnsmos_definition()
    if is_silent(wave):
        nan = float("nan")
        return DnsmosScore(ovrl=nan, sig=nan, bak=nan, p808=nan, definition=definition)
    out = _model()(np.clip(wave, -1.0, 1.0), DNSMOS_SAMPLE_RATE, False)
    return DnsmosScore(ovrl=float(out["ovrl_mos"]), sig=float(out["sig_mos"]), bak=float(out["bak_mos"]),
                       p808=float(out["p808_mos"]), definition=definition)
