"""archon-prepare-mediapipe: the steps of `archon data prepare` (videos -> every modality) on
ffmpeg, mediapipe (face mesh, selfie segmentation) and pocketsphinx, all shipped in wheels."""

from archon_prepare_mediapipe._crop import crop_frames, face_boxes, steady_boxes, to_crop
from archon_prepare_mediapipe._media import Probe, probe, read_audio, read_frames, write_video
from archon_prepare_mediapipe._morphable import EXPRESSION_NAMES, MorphableModel, fit_sequence, load_model, umeyama
from archon_prepare_mediapipe._semantic import APPROXIMATED, EXACT, IMPOSSIBLE, SEMANTIC_SIZE, draw_labels
from archon_prepare_mediapipe._track import count_faces, person_masks, track_faces

__all__ = [
    "APPROXIMATED", "count_faces", "EXACT", "EXPRESSION_NAMES", "IMPOSSIBLE", "SEMANTIC_SIZE", "MorphableModel", "Probe",
    "crop_frames", "draw_labels", "face_boxes", "fit_sequence", "load_model", "person_masks", "probe",
    "read_audio", "read_frames", "steady_boxes", "to_crop", "track_faces", "umeyama", "write_video",
]
