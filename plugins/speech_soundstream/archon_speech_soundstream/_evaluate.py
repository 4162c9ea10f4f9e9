"""Held-out evaluation of a speech codec per number of RVQ levels, against a silence baseline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from archon_framework import ClipMeta

from ._constants import SAMPLE_RATE
from ._metrics import log_mel_distance, mel_cepstral_distortion, mel_cepstrum
from ._tokenizer import SoundStreamTokenizer

__all__ = ["evaluate_levels"]


def _rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))


def evaluate_levels(
    tokenizer: SoundStreamTokenizer,
    waves: Sequence[np.ndarray],
    *,
    levels: Sequence[int] = (1, 4),
    order: int = 13,
    per_clip: bool = False,
    speech_frames_db: float | None = 40.0,
) -> dict[str, float | dict]:
    """Mean scores of reconstructions with each number of levels, and of silence as a baseline.

    Per level ``n`` in ``levels`` (and ``silence``): ``mcd_dtw_levels_n`` (MCD-DTW, c0 excluded,
    K = 10 sqrt(2) / ln 10), ``log_mel_db_levels_n`` (:func:`log_mel_distance`, time-aligned,
    level included) and ``rms_ratio_levels_n`` (RMS of the reconstruction over the reference's);
    with ``speech_frames_db`` also ``mcd_dtw_speech_levels_n``, MCD-DTW over the frames within
    that many dB of each reference's loudest (silence excluded, see
    :func:`mel_cepstral_distortion`). Waves are 16 kHz mono.

    Returns:
        those keys plus ``"protocol"`` describing the metric, and with ``per_clip`` a
        ``"per_clip"`` mapping of each key to its per-wave values (for paired comparisons).
    """
    names = [f"levels_{n}" for n in levels] + ["silence"]
    scores: dict[str, list[float]] = {
        f"{metric}_{name}": []
        for name in names
        for metric in ("mcd_dtw", "log_mel_db", "rms_ratio") + (("mcd_dtw_speech",) if speech_frames_db else ())
    }
    for i, wave in enumerate(waves):
        meta = ClipMeta(clip_id=f"eval{i}", duration=len(wave) / SAMPLE_RATE, frame_rate=25.0, sample_rate=SAMPLE_RATE)
        wave = np.asarray(wave, np.float32)[: meta.samples]
        outputs = {f"levels_{n}": tokenizer.reconstruct(wave, meta=meta, levels=n) for n in levels}
        outputs["silence"] = np.zeros_like(wave)
        c_ref = mel_cepstrum(wave, order=order)  # once per wave, shared by every score below
        for name, est in outputs.items():
            c_est = mel_cepstrum(est, order=order)
            scores[f"mcd_dtw_{name}"].append(float(mel_cepstral_distortion(c_ref, c_est, order=order, cepstra=True)))
            if speech_frames_db:
                scores[f"mcd_dtw_speech_{name}"].append(
                    float(
                        mel_cepstral_distortion(
                            c_ref, c_est, order=order, cepstra=True, speech_frames_db=speech_frames_db
                        )
                    )
                )
            scores[f"log_mel_db_{name}"].append(log_mel_distance(wave, est))
            scores[f"rms_ratio_{name}"].append(_rms(est) / max(_rms(wave), 1e-12))
    out: dict[str, float | dict] = {k: float(np.mean(v)) for k, v in scores.items()}
    out["protocol"] = {
        "metric": "MCD-DTW",
        "sr": SAMPLE_RATE,
        "order": order,
        "include_c0": False,
        "constant": "10*sqrt(2)/ln(10)",
        "cepstra": "DCT-II of ln mel amplitude (80 mels, n_fft 1024, hop 256, floor 1e-5)",
        "log_mel_db": "mean over frames of the RMS over 80 mels of the 20 log10 amplitude difference",
        "mcd_dtw_speech": (
            None if not speech_frames_db
            else f"MCD-DTW over the frames within {speech_frames_db:g} dB of the reference's loudest"
        ),
        "clips": len(waves),
        "seconds": float(sum(len(w) for w in waves) / SAMPLE_RATE),
    }
    if per_clip:
        out["per_clip"] = {k: [round(x, 4) for x in v] for k, v in scores.items()}
    return out
