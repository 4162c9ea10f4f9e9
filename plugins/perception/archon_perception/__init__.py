"""archon-perception: offline wrappers of real pretrained models that ship inside PyPI wheels.

Each wrapper carries a versioned :class:`ModelDefinition` (package and version, sha256 of each
model file, every parameter) so that two scores made with it are comparable only when their
definitions are equal: MediaPipe FaceMesh landmarks of RGB video (``face_landmarks``),
pocketsphinx US-English speech recognition with word timings (``recognize``), DNSMOS speech
quality (``dnsmos``, extra ``quality``) and GE2E speaker embeddings (``speaker_embedding``,
extra ``speaker``).
"""

from archon_perception._asr import ASR_SAMPLE_RATE, POCKETSPHINX_VERSION, AsrConfig, Transcript, Word, asr_definition, recognize
from archon_perception._dnsmos import DNSMOS_SAMPLE_RATE, QUALITY_EXTRA, SPEECHMOS_VERSION, DnsmosScore, dnsmos, dnsmos_definition
from archon_perception._definition import MissingPackageError, ModelDefinition, PerceptionError, file_sha256
from archon_perception._face import (
    FACE_SCALE_LANDMARKS,
    INNER_LIP_PAIRS,
    MEDIAPIPE_VERSION,
    FaceLandmarks,
    FaceMeshConfig,
    face_landmarks,
    face_mesh_definition,
    mouth_landmarks,
    mouth_opening,
)
from archon_perception._speaker import (
    RESEMBLYZER_VERSION,
    SPEAKER_EXTRA,
    SPEAKER_SAMPLE_RATE,
    cosine_similarity,
    speaker_definition,
    speaker_embedding,
)

__all__ = [
    "ASR_SAMPLE_RATE",
    "DNSMOS_SAMPLE_RATE",
    "FACE_SCALE_LANDMARKS",
    "INNER_LIP_PAIRS",
    "MEDIAPIPE_VERSION",
    "POCKETSPHINX_VERSION",
    "QUALITY_EXTRA",
    "RESEMBLYZER_VERSION",
    "SPEAKER_EXTRA",
    "SPEAKER_SAMPLE_RATE",
    "SPEECHMOS_VERSION",
    "AsrConfig",
    "DnsmosScore",
    "FaceLandmarks",
    "FaceMeshConfig",
    "MissingPackageError",
    "ModelDefinition",
    "PerceptionError",
    "Transcript",
    "Word",
    "asr_definition",
    "cosine_similarity",
    "dnsmos",
    "dnsmos_definition",
    "face_landmarks",
    "face_mesh_definition",
    "file_sha256",
    "mouth_landmarks",
    "mouth_opening",
    "recognize",
    "speaker_definition",
    "speaker_embedding",
]
