"""archon-eval-metrics: offline, weight-free evaluation metrics for archon (issue 11).

Registered through ``archon_metrics()``: lip sync from label videos and speech (a SyncNet-style
offset search over hand-made features), MCD-DTW and a voice-identity proxy, PSNR/SSIM of images
and videos, label accuracy and mean IoU of semantic videos, set-level Fréchet distances over
label-area and colour-histogram features, and normalized animation parameter errors; and, by
real pretrained models from archon-perception, lip sync, landmark distance and face detection
on RGB pixels (MediaPipe FaceMesh), WER/CER (pocketsphinx), DNSMOS, C-SIM and Id. Acc. (GE2E),
each with a versioned definition (``definition_of``).
``score_clip`` / ``score_clips`` apply every installed plugin's metrics to clips.
"""

from archon_eval_metrics._animation import ANIMATION_MODALITIES, animation_metrics, normalized_rmse, reference_scale
from archon_eval_metrics._definitions import DEFINITION_ATTRIBUTE, definition_of, with_definition
from archon_eval_metrics._face_sync import MIN_DETECTION_RATE, face_lipsync, landmark_distance, video_landmarks
from archon_eval_metrics._frechet import (
    HISTOGRAM_BINS,
    SET_LEVEL_ATTRIBUTE,
    Gaussian,
    colour_histogram_features,
    fit_gaussian,
    frechet_distance,
    frechet_distance_gaussians,
    is_set_level,
    label_area_features,
    set_level,
)
from archon_eval_metrics._intelligibility import edit_distance, error_rate, normalize_text, transcribe
from archon_eval_metrics._lipsync import (
    DEFAULT_MAX_OFFSET,
    MOUTH_INTERIOR_LABELS,
    LipSyncScore,
    lipsync_area_envelope,
    mouth_opening_area,
    sync_offsets,
)
from archon_eval_metrics._metrics import eval_metrics
from archon_eval_metrics._pixels import gaussian_window, ssim
from archon_eval_metrics._score import (
    MetricSource,
    ScoreSummary,
    applicable_metrics,
    higher_is_better,
    resolve_metrics,
    score_clip,
    score_clips,
)
from archon_eval_metrics._voice import (
    PitchTrack,
    VoiceProfile,
    cepstral_cosine,
    pitch_error_semitones,
    pitch_track,
    voice_profile,
)
from archon_eval_metrics._voice_models import voice_embedding

__all__ = [
    "ANIMATION_MODALITIES",
    "DEFINITION_ATTRIBUTE",
    "MIN_DETECTION_RATE",
    "definition_of",
    "edit_distance",
    "error_rate",
    "face_lipsync",
    "landmark_distance",
    "normalize_text",
    "transcribe",
    "video_landmarks",
    "voice_embedding",
    "with_definition",
    "DEFAULT_MAX_OFFSET",
    "Gaussian",
    "HISTOGRAM_BINS",
    "LipSyncScore",
    "MOUTH_INTERIOR_LABELS",
    "MetricSource",
    "PitchTrack",
    "SET_LEVEL_ATTRIBUTE",
    "ScoreSummary",
    "VoiceProfile",
    "animation_metrics",
    "applicable_metrics",
    "cepstral_cosine",
    "colour_histogram_features",
    "eval_metrics",
    "fit_gaussian",
    "frechet_distance",
    "frechet_distance_gaussians",
    "gaussian_window",
    "higher_is_better",
    "is_set_level",
    "label_area_features",
    "lipsync_area_envelope",
    "mouth_opening_area",
    "normalized_rmse",
    "pitch_error_semitones",
    "pitch_track",
    "reference_scale",
    "resolve_metrics",
    "score_clip",
    "score_clips",
    "set_level",
    "ssim",
    "sync_offsets",
    "voice_profile",
]
