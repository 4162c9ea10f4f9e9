"""Where a trained speech codec's held-out error lies: per mel band, in time, against white noise.

Run by hand on the output folder of ``benchmarks/speech_train_mcd.py`` (its ``codec.eqx`` and
cached ``clips_validation.npz``):

    .venv/bin/python benchmarks/speech_codec_errors.py /tmp/archon_speech_codec --clips 8

Prints, over the first ``--clips`` held-out clips:
- the rms error of the log-mel spectrum (80 mels, `np_stft_magnitude` with 1024-point Hann frames, hop 256, in dB) on each
  reference's loud frames (within 10 dB of its loudest), per band and overall, with 1 and 4
  levels, and what is left after averaging reference and reconstruction over 3 and 9 frames or
  8 neighbouring bands (an error that shrinks there is fine detail, not the envelope);
- MCD-DTW on speech frames (the benchmark's protocol) of the references plus white noise at
  20, 30 and 40 dB below each clip's RMS, to read the codec's score as a noise floor;
- `rate_tones`: the tones at multiples of 250 Hz in the reconstructions' long-term spectrum.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from archon_framework import ClipMeta
from archon_speech_soundstream import (
    SoundStreamTokenizer,
    mel_cepstral_distortion,
    mel_cepstrum,
    mel_filterbank,
    np_stft_magnitude,
)
from scipy.ndimage import uniform_filter1d
from speech_train_mcd import SAMPLE_RATE, rate_tones


def log_mel_db(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``([frames, 80] log-mel power in dB, [frames] frame energy in dB re the loudest frame)``."""
    power = np_stft_magnitude(wave, n_fft=1024, hop=256) ** 2  # [frames, 513]
    mel = power @ mel_filterbank(SAMPLE_RATE, 1024, 80).T.astype(np.float64)  # [frames, 80]
    energy = 10 * np.log10(power.sum(-1) + 1e-20)
    return 10 * np.log10(np.maximum(mel, 1e-10)), energy - energy.max()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a speech_train_mcd.py output folder")
    parser.add_argument("--clips", type=int, default=8)
    args = parser.parse_args()
    tok = SoundStreamTokenizer.load(args.run)
    with np.load(args.run / "clips_validation.npz") as data:
        waves = [np.asarray(w, np.float32) for w in data["waves"][: args.clips]]
    np.set_printoptions(precision=1, suppress=True, linewidth=120)
    for levels in (1, 4):
        errors: dict[str, list[np.ndarray]] = {"per frame": [], "3 frames": [], "9 frames": [], "8 bands": []}
        for i, wave in enumerate(waves):
            meta = ClipMeta(clip_id=f"e{i}", duration=len(wave) / SAMPLE_RATE, frame_rate=25.0, sample_rate=SAMPLE_RATE)
            ref, energy = log_mel_db(wave)
            est, _ = log_mel_db(tok.reconstruct(wave, meta=meta, levels=levels))
            loud = energy >= -10.0
            errors["per frame"].append((est - ref)[loud])
            for name, size in (("3 frames", 3), ("9 frames", 9)):
                smooth = uniform_filter1d(est, size, axis=0) - uniform_filter1d(ref, size, axis=0)
                errors[name].append(smooth[loud])
            errors["8 bands"].append((uniform_filter1d(est, 8, axis=1) - uniform_filter1d(ref, 8, axis=1))[loud])
        per_frame = np.concatenate(errors["per frame"])  # [loud frames, 80]
        print(f"{levels} level(s): rms log-mel error per band on loud frames (dB), low to high:")
        print(np.sqrt(np.mean(per_frame**2, axis=0)))
        summary = {name: round(float(np.sqrt(np.mean(np.concatenate(v) ** 2))), 2) for name, v in errors.items()}
        print(f"{levels} level(s): overall rms (dB) {summary}")
    rng = np.random.default_rng(0)
    for snr in (20, 30, 40):
        scores = []
        for wave in waves:
            noisy = wave + rng.normal(size=wave.shape) * np.sqrt(np.mean(np.square(wave))) * 10 ** (-snr / 20)
            score = mel_cepstral_distortion(
                mel_cepstrum(wave), mel_cepstrum(noisy), cepstra=True, speech_frames_db=40.0
            )
            scores.append(float(score))
        print(f"white noise {snr} dB below the clip RMS: MCD-DTW on speech frames {np.mean(scores):.2f}")
    print("tones at multiples of 250 Hz (dB above the bins between them):", rate_tones(tok, waves))


if __name__ == "__main__":
    main()
