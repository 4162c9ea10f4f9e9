"""Held-out evaluation of a speech codec: MCD-DTW when decoding with n RVQ levels, vs silence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from archon_framework import ClipMeta

from ._constants import SAMPLE_RATE
from ._metrics import mel_cepstral_distortion
from ._tokenizer import SoundStreamTokenizer

__all__ = ["evaluate_levels"]


def evaluate_levels(
    tokenizer: SoundStreamTokenizer,
    waves: Sequence[np.ndarray],
    *,
    levels: Sequence[int] = (1, 4),
    order: int = 13,
) -> dict[str, float | dict]:
    """Mean MCD-DTW (c0 excluded, K = 10 sqrt(2) / ln 10) of reconstructions with each number of
    levels, and of an all-silence "reconstruction" as a baseline.

    Returns:
        ``{"mcd_dtw_levels_1": ..., "mcd_dtw_levels_4": ..., "mcd_dtw_silence": ...,
        "protocol": {...}}``; waves are 16 kHz mono.
    """
    scores: dict[str, list[float]] = {f"mcd_dtw_levels_{n}": [] for n in levels}
    scores["mcd_dtw_silence"] = []
    for i, wave in enumerate(waves):
        meta = ClipMeta(clip_id=f"eval{i}", duration=len(wave) / SAMPLE_RATE, frame_rate=25.0, sample_rate=SAMPLE_RATE)
        wave = np.asarray(wave, np.float32)[: meta.samples]
        for n in levels:
            recon = tokenizer.reconstruct(wave, meta=meta, levels=n)
            scores[f"mcd_dtw_levels_{n}"].append(float(mel_cepstral_distortion(wave, recon, order=order)))
        silence = np.zeros_like(wave)
        scores["mcd_dtw_silence"].append(float(mel_cepstral_distortion(wave, silence, order=order)))
    out: dict[str, float | dict] = {k: float(np.mean(v)) for k, v in scores.items()}
    out["protocol"] = {
        "metric": "MCD-DTW",
        "sr": SAMPLE_RATE,
        "order": order,
        "include_c0": False,
        "constant": "10*sqrt(2)/ln(10)",
        "cepstra": "DCT-II of ln mel amplitude (80 mels, n_fft 1024, hop 256)",
        "clips": len(waves),
        "seconds": float(sum(len(w) for w in waves) / SAMPLE_RATE),
    }
    return out
