"""The metric declarations this plugin registers through ``archon_metrics()``."""

from __future__ import annotations

from archon_framework import Metric

from archon_eval_metrics._animation import animation_metrics
from archon_eval_metrics._face_sync import (
    MIN_DETECTION_RATE,
    face_detection_rate_metric,
    lipsync_face_abs_offset_metric,
    lipsync_face_confidence_metric,
    lipsync_face_distance_metric,
    lmd_face_metric,
    lmd_mouth_metric,
)
from archon_eval_metrics._frechet import (
    HISTOGRAM_BINS,
    image_frechet_metric,
    semantic_frechet_metric,
    video_frechet_metric,
)
from archon_eval_metrics._lipsync import (
    DEFAULT_MAX_OFFSET,
    MOUTH_INTERIOR_LABELS,
    lipsync_abs_offset_metric,
    lipsync_confidence_metric,
    lipsync_distance_metric,
)
from archon_eval_metrics._pixels import (
    image_psnr_metric,
    image_ssim_metric,
    semantic_accuracy_metric,
    semantic_iou_metric,
    video_psnr_metric,
    video_ssim_metric,
)
from archon_eval_metrics._intelligibility import speech_cer_metric, speech_wer_metric
from archon_eval_metrics._voice import mcd_dtw_metric, voice_cepstral_cosine_metric, voice_pitch_error_metric

from archon_eval_metrics._voice_models import (
    speech_dnsmos_metric,
    voice_speaker_id_accuracy_metric,
    voice_speaker_similarity_metric,
)

__all__ = ["eval_metrics"]

_LIPSYNC = (
    f"SyncNet-style search over +-{DEFAULT_MAX_OFFSET} frames between the z-scored mouth-opening area "
    f"({'/'.join(MOUTH_INTERIOR_LABELS)} pixels of the predicted semantic video) and the z-scored RMS "
    "envelope of the speech in the prediction; hand-made 1-D features, not SyncNet's learned "
    "embeddings, so not comparable to published Sync-C/Sync-D"
)


_FACE_SYNC = (
    f"SyncNet's offset search over +-{DEFAULT_MAX_OFFSET} frames between the z-scored mouth opening (inner-lip "
    "gap / eye-corner distance) from MediaPipe FaceMesh 0.10.14 landmarks of the generated RGB video and the "
    f"z-scored RMS envelope of its speech; NaN when a face is found in < {MIN_DETECTION_RATE:.0%} of the frames "
    "or the speech is silent. Pretrained landmarks, hand-made 1-D features: not SyncNet's embeddings"
)
_PERCEPTION = "archon-perception"


def eval_metrics() -> list[Metric]:
    """Every metric of this plugin (description F1 is registered by archon-text-t5 itself)."""
    return [
        # ------------------------------------------------------------------ pretrained models (archon-perception)
        Metric(name="lipsync_face_confidence", modalities=("video", "speech"), fn=lipsync_face_confidence_metric,
               higher_is_better=True, description=f"median minus minimum mean distance over offsets; {_FACE_SYNC}"),
        Metric(name="lipsync_face_distance", modalities=("video", "speech"), fn=lipsync_face_distance_metric,
               higher_is_better=False, description=f"minimum over offsets of the mean distance; {_FACE_SYNC}"),
        Metric(name="lipsync_face_abs_offset", modalities=("video", "speech"), fn=lipsync_face_abs_offset_metric,
               higher_is_better=False, description=f"|best audio-video offset| in frames; {_FACE_SYNC}"),
        Metric(name="lmd_mouth", modalities=("video",), fn=lmd_mouth_metric, higher_is_better=False,
               description="landmark distance (Chen et al. 2018) over the 40 FaceMesh lip landmarks, generated vs "
               "ground-truth video, in reference pixels, frames where both have a face"),
        Metric(name="lmd_face", modalities=("video",), fn=lmd_face_metric, higher_is_better=False,
               description="landmark distance over all 478 FaceMesh landmarks, in reference pixels"),
        Metric(name="face_detection_rate", modalities=("video",), fn=face_detection_rate_metric,
               higher_is_better=True, description="fraction of generated frames where MediaPipe FaceMesh finds a face"),
        Metric(name="speech_wer", modalities=("speech", "script"), fn=speech_wer_metric, higher_is_better=False,
               description="word error rate of pocketsphinx 5.1.1 (en-us) on the generated speech against the "
               "script it was generated from; NaN for an empty script"),
        Metric(name="speech_cer", modalities=("speech", "script"), fn=speech_cer_metric, higher_is_better=False,
               description="character error rate of pocketsphinx 5.1.1 on the generated speech against the script"),
        Metric(name="speech_dnsmos", modalities=("speech",), fn=speech_dnsmos_metric, higher_is_better=True,
               description="DNSMOS P.835 (ovrl, sig, bak) and P.808 (p808) of the generated speech, 1..5 (speechmos "
               f"0.0.1.1 ONNX models; {_PERCEPTION}[quality]); NaN for silence"),
        Metric(name="voice_speaker_similarity", modalities=("speech",), fn=voice_speaker_similarity_metric,
               higher_is_better=True,
               description="C-SIM: cosine of GE2E speaker embeddings (Resemblyzer 0.1.4; "
               f"{_PERCEPTION}[speaker]) of generated and reference speech"),
        Metric(name="voice_speaker_id_accuracy", modalities=("speech",), fn=voice_speaker_id_accuracy_metric,
               set_level=True, higher_is_better=True,
               description="SET-LEVEL Id. Acc.: fraction of generated clips whose nearest enrolled speaker (each "
               "held-out clip's reference speech, GE2E cosine) is their own"),
        # ------------------------------------------------------------------ lip sync
        Metric(name="lipsync_area_envelope_confidence", modalities=("semantic", "speech"),
               fn=lipsync_confidence_metric, higher_is_better=True,
               description=f"median minus minimum mean distance over offsets (Sync-C analogue); {_LIPSYNC}"),
        Metric(name="lipsync_area_envelope_distance", modalities=("semantic", "speech"),
               fn=lipsync_distance_metric, higher_is_better=False,
               description=f"minimum over offsets of the mean distance (Sync-D analogue); {_LIPSYNC}"),
        Metric(name="lipsync_area_envelope_abs_offset", modalities=("semantic", "speech"),
               fn=lipsync_abs_offset_metric, higher_is_better=False,
               description=f"|best audio-video offset| in frames (0: in sync); {_LIPSYNC}"),
        # ------------------------------------------------------------------ speech
        Metric(name="speech_mcd_dtw", modalities=("speech",), fn=mcd_dtw_metric, higher_is_better=False,
               description="mel-cepstral distortion c1..c13 with DTW in dB (archon_speech_soundstream."
               "mel_cepstral_distortion; MFCC-like cepstra, comparable between runs, not to papers)"),
        Metric(name="voice_cepstral_cosine", modalities=("speech",), fn=voice_cepstral_cosine_metric,
               higher_is_better=True,
               description="voice-identity PROXY: cosine of the mean mel-cepstrum c1..c13 over voiced "
               "frames (spectral envelope), not a speaker-verification embedding"),
        Metric(name="voice_pitch_error_semitones", modalities=("speech",), fn=voice_pitch_error_metric,
               higher_is_better=False,
               description="voice-identity PROXY: |12 log2| ratio of median F0 (autocorrelation pitch, "
               "voiced frames); NaN when a side has no voiced frame"),
        # ------------------------------------------------------------------ semantic video
        Metric(name="semantic_label_accuracy", modalities=("semantic",), fn=semantic_accuracy_metric,
               higher_is_better=True, description="fraction of pixels with the reference label"),
        Metric(name="semantic_mean_iou", modalities=("semantic",), fn=semantic_iou_metric,
               higher_is_better=True, description="mean IoU over the labels present in the reference"),
        Metric(name="semantic_label_area_frechet", modalities=("semantic",), fn=semantic_frechet_metric, set_level=True,
               higher_is_better=False,
               description="SET-LEVEL Frechet distance of Gaussians fitted to per-clip label-area "
               "features (mean and std over frames of each label's area fraction, 42-d); not FID"),
        # ------------------------------------------------------------------ image and video
        Metric(name="image_psnr", modalities=("image",), fn=image_psnr_metric, higher_is_better=True,
               description="PSNR in dB (peak 255; 148.1 dB caps a perfect match)"),
        Metric(name="image_ssim", modalities=("image",), fn=image_ssim_metric, higher_is_better=True,
               description="SSIM (Wang et al. 2004; 11x11 Gaussian sigma 1.5), mean of R, G, B"),
        Metric(name="image_colour_histogram_frechet", modalities=("image",), fn=image_frechet_metric, set_level=True,
               higher_is_better=False,
               description=f"SET-LEVEL Frechet distance of Gaussians fitted to per-channel {HISTOGRAM_BINS}-bin "
               "colour histograms; not FID"),
        Metric(name="video_psnr", modalities=("video",), fn=video_psnr_metric, higher_is_better=True,
               description="mean per-frame PSNR in dB"),
        Metric(name="video_ssim", modalities=("video",), fn=video_ssim_metric, higher_is_better=True,
               description="mean per-frame SSIM (Wang et al. 2004), mean of R, G, B"),
        Metric(name="video_colour_histogram_frechet", modalities=("video",), fn=video_frechet_metric, set_level=True,
               higher_is_better=False,
               description=f"SET-LEVEL Frechet distance of Gaussians fitted to per-channel {HISTOGRAM_BINS}-bin "
               "colour histograms over all frames; not FVD"),
        # ------------------------------------------------------------------ animation
        *animation_metrics(),
    ]
