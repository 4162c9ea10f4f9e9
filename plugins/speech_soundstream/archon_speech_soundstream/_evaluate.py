"""Held-out evaluation of a speech codec per number of RVQ levels, against a silence baseline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from archon_framework import ClipMeta

from ._constants import SAMPLE_RATE
from ._metrics import log_mel_distance, mel_cepstral_distortion
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
) -> dict[str, float | dict]:
    """Mean scores of reconstructions with each number of levels, and of silence as a baseline.

    Per level ``n`` in ``levels`` (and ``silence``): ``mcd_dtw_levels_n`` (MCD-DTW, c0 excluded,
    K = 10 sqrt(2) / ln 10), ``log_mel_db_levels_n`` (:func:`log_mel_distance`, time-aligned,
    level included) and ``rms_ratio_levels_n`` (RMS of the reconstruction over the reference's).
    Waves are 16 kHz mono.

    Returns:
        those keys plus ``"protocol"`` describing the metric.
    """
    names = [f"levels_{n}" for n in levels] + ["silence"]
    scores: dict[str, list[float]] = {
        f"{metric}_{name}": [] for name in names for metric in ("mcd_dtw", "log_mel_db", "rms_ratio")
    }
    for i, wave in enumerate(waves):
        meta = ClipMeta(clip_id=f"eval{i}", duration=len(wave) / SAMPLE_RATE, frame_rate=25.0, sample_rate=SAMPLE_RATE)
        wave = np.asarray(wave, np.float32)[: meta.samples]
        outputs = {f"levels_{n}": tokenizer.reconstruct(wave, meta=meta, levels=n) for n in levels}
        outputs["silence"] = np.zeros_like(wave)
        for name, est in outputs.items():
            scores[f"mcd_dtw_{name}"].append(float(mel_cepstral_distortion(wave, est, order=order)))
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
        "clips": len(waves),
        "seconds": float(sum(len(w) for w in waves) / SAMPLE_RATE),
    }
    return out
