"""GE2E speaker embeddings (Wan et al. 2018, "Generalized End-to-End Loss for Speaker Verification")
by Resemblyzer 0.1.4's pretrained encoder (``pretrained.pt`` in its wheel), offline.

A 3-layer LSTM (256 units) over 40-band mel frames of 1.6 s partial utterances (hop 1/1.3 s)
gives a ReLU'd, L2-normalized 256-d embedding per partial; the utterance embedding is their
normalized mean. Before that the wave is scaled to -30 dBFS RMS (Resemblyzer only raises quiet
audio to that level; scaling loud audio down too makes the embedding independent of the
recording level, which otherwise moves it as much as a change of speaker) and long silences are
cut by WebRTC voice-activity detection. The cosine of two embeddings is the speaker
similarity (C-SIM in the paper's Table 2).

The weights are read with ``torch.load(..., weights_only=True)`` (tensors only, no pickled code)
into Resemblyzer's network, and every weight of the network must be present.
"""

from __future__ import annotations

import functools
import importlib.metadata
import warnings
from pathlib import Path

import numpy as np
from jaxtyping import Float

from archon_perception._audio import as_speech, is_silent
from archon_perception._definition import MissingPackageError, ModelDefinition, PerceptionError, installed_version

__all__ = ["RESEMBLYZER_VERSION", "SPEAKER_EXTRA", "SPEAKER_SAMPLE_RATE", "cosine_similarity", "speaker_definition",
           "speaker_embedding"]

RESEMBLYZER_VERSION = "0.1.4"
SPEAKER_SAMPLE_RATE = 16000
#: What to install for speaker embeddings.
SPEAKER_EXTRA = "pip install 'archon-perception[speaker]' (resemblyzer, torch==2.13.0 CPU)"
#: Shortest speech (after silence trimming) that gets an embedding, in seconds.
MIN_SPEECH_S = 0.2


def _resemblyzer():
    installed_version("resemblyzer", pinned=RESEMBLYZER_VERSION, install=SPEAKER_EXTRA)
    try:
        import torch  # noqa: F401

        with warnings.catch_warnings():  # its imports warn: scipy.ndimage.morphology, webrtcvad's pkg_resources
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            import resemblyzer
    except ImportError as err:
        raise MissingPackageError(f"speaker embeddings need {err.name or err}: {SPEAKER_EXTRA}",
                                  package=err.name or "resemblyzer", extra=SPEAKER_EXTRA) from err
    return resemblyzer


def speaker_definition() -> ModelDefinition:
    """The versioned definition of the speaker encoder: resemblyzer version, weight sha256, settings.

    Raises:
        MissingPackageError: the ``speaker`` extra is not installed.
    """
    _resemblyzer()  # checked on every call; the hash is computed once
    return _speaker_definition()


@functools.lru_cache(maxsize=1)
def _speaker_definition() -> ModelDefinition:
    resemblyzer = _resemblyzer()
    from resemblyzer import hparams

    parameters = {k: getattr(hparams, k) for k in sorted(dir(hparams)) if not k.startswith("_")
                  and isinstance(getattr(hparams, k), (int, float))}
    parameters.update({"level": "scaled to audio_norm_target_dBFS RMS, up or down", "partial_rate": 1.3, "min_coverage": 0.75, "min_speech_s": MIN_SPEECH_S,
                       "torch": importlib.metadata.version("torch"), "librosa": importlib.metadata.version("librosa"),
                       "silence": "RMS < 1e-5 or < min_speech_s of voice gives a NaN embedding"})
    return ModelDefinition.from_files(name="resemblyzer.ge2e", package="resemblyzer", version=RESEMBLYZER_VERSION,
                                      root=Path(resemblyzer.__file__).parent, files=["pretrained.pt"],
                                      parameters=parameters)


@functools.lru_cache(maxsize=1)
def _encoder():
    resemblyzer = _resemblyzer()
    import torch
    from resemblyzer import hparams
    from torch import nn

    class _Encoder(resemblyzer.VoiceEncoder):
        """Resemblyzer's network, its weights loaded tensors-only (its own __init__ loads unrestricted)."""

        def __init__(self, weights: Path) -> None:
            nn.Module.__init__(self)
            self.lstm = nn.LSTM(hparams.mel_n_channels, hparams.model_hidden_size, hparams.model_num_layers,
                                batch_first=True)
            self.linear = nn.Linear(hparams.model_hidden_size, hparams.model_embedding_size)
            self.relu = nn.ReLU()
            self.device = torch.device("cpu")
            state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
            missing = set(self.state_dict()) - set(state)
            if missing:
                raise PerceptionError(f"{weights}: the speaker encoder's weights lack {sorted(missing)}")
            # similarity_weight/bias belong to the GE2E training loss, not to the encoder
            self.load_state_dict({k: v for k, v in state.items() if k in self.state_dict()}, strict=True)
            self.eval()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    return _Encoder(Path(resemblyzer.__file__).parent / "pretrained.pt")


def speaker_embedding(speech: Float[np.ndarray, " samples"], *, sample_rate: int = SPEAKER_SAMPLE_RATE,
                      name: str = "speech") -> Float[np.ndarray, " 256"]:
    """The GE2E embedding (unit norm, 256-d) of one utterance.

    Args:
        speech: mono float samples; other rates are resampled to 16 kHz.
        sample_rate: rate of `speech`.
        name: what the speech is, quoted in errors.

    Returns:
        float32 [256]; all NaN when there is no speech to embed (silence, or less than
        :data:`MIN_SPEECH_S` of voice): a missing score, never a similarity.

    Raises:
        PerceptionError: bad samples.
        MissingPackageError: the ``speaker`` extra is not installed.
    """
    wave = as_speech(speech, sample_rate=sample_rate, target_rate=SPEAKER_SAMPLE_RATE, name=name)
    speaker_definition()
    encoder = _encoder()
    from resemblyzer import preprocess_wav

    nan = np.full(256, np.nan, np.float32)
    if is_silent(wave):
        return nan
    from resemblyzer import hparams

    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    wave = wave * (10.0 ** (hparams.audio_norm_target_dBFS / 20.0) / rms)
    voiced = preprocess_wav(wave.astype(np.float32))
    if voiced.size < MIN_SPEECH_S * SPEAKER_SAMPLE_RATE:
        return nan
    import torch

    with torch.inference_mode():
        embedding = encoder.embed_utterance(voiced)
    return np.asarray(embedding, np.float32)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two embeddings (NaN if either is NaN or zero)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if not np.isfinite(norm) or norm == 0.0:
        return float("nan")
    return float(a @ b / norm)
