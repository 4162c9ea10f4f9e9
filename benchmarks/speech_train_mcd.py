"""Train a small speech codec on espeak speech and report held-out MCD-DTW per number of RVQ levels.

Run by hand (not a test); the issue-5 figure is the 15-minute run on 2 cores:

    .venv/bin/python benchmarks/speech_train_mcd.py --seconds 900 --out /tmp/archon_speech_codec

Data: the espeak-ng speech of ``archon_synthetic_heads.generate_clip`` clips (video off), the
``train`` split for training and the ``validation`` split (disjoint sentences and voices'
streams) held out for the report. The generated waves are cached per split in
``OUT/clips_<split>.npz`` (keyed by the data arguments), so re-runs do not regenerate them.

Report (printed and written to ``OUT/report.json``): MCD-DTW (c0 excluded, K = 10 sqrt(2)/ln 10)
of reconstructions with 1, 2, 3, 4 (and 8) levels and of silence, over all frames and over the
reference's speech frames (within 40 dB of its loudest; silence excluded), the log-mel spectral
distance and the RMS ratio (reconstruction / reference) per level (means and per clip), the
paired 1-vs-4-level MCD gaps (mean, relative, standard error, clips where 4 levels win), codebook
usage per level, the tones at multiples of 250 Hz (`rate_tones`: the decoder's 250 Hz -> 2 kHz
up-sampling), the steps and seconds trained, the mean mel loss of each tenth of training and the
final training losses. ``--set section.key=value`` overrides any field of the config (values
parsed as JSON), for experiments.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from archon_framework.config import atomic_write_text
from archon_speech_soundstream import (
    SoundStreamConfig,
    SoundStreamTokenizer,
    SoundStreamTrainer,
    evaluate_levels,
    load_soundstream_config,
    np_stft_magnitude,
    shipped_config,
)

SAMPLE_RATE = 16_000


def espeak_clips(
    out: Path, *, train: int, held_out: int, seconds: float, seed: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Speech of ``train`` train-split and ``held_out`` validation-split synthetic clips, cached.

    Each split is cached in ``out/clips_<split>.npz`` with the arguments that produced it and
    reused only when those match, so changing the held-out count keeps the training clips.
    """
    import attrs
    from archon_synthetic_heads import SynthConfig, generate_clip
    from rich.progress import track

    cfg = attrs.evolve(SynthConfig(), with_video=False)
    out.mkdir(parents=True, exist_ok=True)
    waves: dict[str, list[np.ndarray]] = {}
    for split, count in (("train", train), ("validation", held_out)):
        cache = out / f"clips_{split}.npz"
        key = np.array([count, seconds, seed], np.float64)
        if cache.is_file():
            with np.load(cache) as data:
                if data["key"].shape == key.shape and np.allclose(data["key"], key):
                    waves[split] = list(data["waves"])
                    continue
        jobs = track(range(count), description=f"espeak {split} clips")
        clips = [generate_clip(i, seed=seed, seconds=seconds, split=split, config=cfg) for i in jobs]
        waves[split] = [np.asarray(clip["speech"], np.float32) for clip in clips]
        tmp = out / f".clips_{split}.tmp.npz"
        np.savez(tmp, key=key, waves=np.stack(waves[split]))
        tmp.replace(cache)
    return waves["train"], waves["validation"]


def apply_overrides(cfg: SoundStreamConfig, settings: list[str]) -> SoundStreamConfig:
    """``section.key=value`` overrides (value parsed as JSON, else taken as a string)."""
    data = cfg.to_dict()
    for item in settings:
        path, _, raw = item.partition("=")
        section, _, field = path.partition(".")
        if section not in data or field not in data[section]:
            raise SystemExit(f"--set {item!r}: no config field {path!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        data[section][field] = value
    return SoundStreamConfig.from_dict(data, source="--set")


def codebook_usage(tok: SoundStreamTokenizer, waves: list[np.ndarray]) -> list[int]:
    """Distinct codes used per level on ``waves``."""
    from archon_framework import ClipMeta

    used: list[set[int]] = [set() for _ in range(tok.cfg.codec.levels)]
    for i, w in enumerate(waves):
        meta = ClipMeta(clip_id=f"u{i}", duration=len(w) / SAMPLE_RATE, frame_rate=25.0, sample_rate=SAMPLE_RATE)
        codes = tok.encode_codes(w, meta=meta, levels=tok.cfg.codec.levels)
        for level in range(codes.shape[1]):
            used[level].update(codes[:, level].tolist())
    return [len(u) for u in used]


def residual_ratios(tok: SoundStreamTokenizer, waves: list[np.ndarray]) -> list[float]:
    """``rms(r_l) / rms(x)`` for l = 0..levels on held-out latents: what each RVQ level leaves."""
    import jax.numpy as jnp

    totals = np.zeros(tok.cfg.codec.levels + 1)
    for w in waves:
        frames = len(w) // tok.cfg.codec.hop_length
        z = tok.codec.encoder(jnp.asarray(w[: frames * tok.cfg.codec.hop_length])).T  # [frames, D]
        out = tok.codec.quantizer(tok.state, z)
        res = np.asarray(out.residuals)  # [frames, levels, D]: the input of each level
        last = res[:, -1] - np.asarray(tok.state.codebooks[-1])[np.asarray(out.codes[:, -1])]
        stack = np.concatenate([res, last[:, None]], axis=1)  # [frames, levels + 1, D]
        totals += np.mean(np.square(stack), axis=(0, 2))
    return [round(float(np.sqrt(t / totals[0])), 4) for t in totals]


def rate_tones(tok: SoundStreamTokenizer, waves: list[np.ndarray], *, rate: float = 250.0) -> dict[str, float]:
    """How much louder the bins at multiples of ``rate`` Hz are than the bins between them, in dB.

    Long-term power spectra (`np_stft_magnitude`: Hann, 1024 points, hop 256) over each reference's loud frames
    (within 10 dB of its loudest), of the references and of their all-level reconstructions.
    Speech has no such comb; a decoder whose up-sampling repeats a pattern every ``16000 / rate``
    samples (a transposed convolution's checkerboard) adds tones at exactly those multiples.
    """
    from archon_framework import ClipMeta

    power = {"reference": 0.0, "reconstruction": 0.0}
    for i, w in enumerate(waves):
        meta = ClipMeta(clip_id=f"t{i}", duration=len(w) / SAMPLE_RATE, frame_rate=25.0, sample_rate=SAMPLE_RATE)
        est = tok.reconstruct(w, meta=meta, levels=tok.cfg.codec.levels)
        spectra = {
            name: np_stft_magnitude(x, n_fft=1024, hop=256) ** 2  # [frames, 513]
            for name, x in (("reference", w), ("reconstruction", est))
        }
        energy = 10 * np.log10(spectra["reference"].sum(-1) + 1e-20)
        loud = energy >= energy.max() - 10.0
        for name in power:
            power[name] = power[name] + spectra[name][loud].sum(0)
    phase = (np.fft.rfftfreq(1024, 1 / SAMPLE_RATE) % rate) / rate
    on, off = (phase < 0.05) | (phase > 0.95), (phase > 0.2) & (phase < 0.8)
    out = {}
    for name, p in power.items():
        db = 10 * np.log10(p + 1e-20)
        out[name] = round(float(db[on].mean() - db[off].mean()), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=900.0, help="wall-clock training budget")
    parser.add_argument(
        "--steps", type=int, default=None,
        help="step cap (default: the config's train.steps when it decays the learning rate, else none)",
    )  # fmt: skip
    parser.add_argument("--config", default="small", help="shipped config name (tiny, small, paper) or a TOML path")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--train-clips", type=int, default=64)
    parser.add_argument("--held-out-clips", type=int, default=16)
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/archon_speech_codec"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--levels", default="1,2,3,4,8", help="levels to evaluate")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    if args.config in ("tiny", "small", "paper"):
        cfg = shipped_config(args.config)
    else:
        cfg = load_soundstream_config(args.config)
    cfg = apply_overrides(cfg, args.set)
    train_waves, held_out = espeak_clips(
        args.out, train=args.train_clips, held_out=args.held_out_clips, seconds=args.clip_seconds, seed=args.data_seed
    )
    steps = args.steps
    if steps is None and (cfg.train.final_lr_fraction < 1.0):
        steps = cfg.train.steps  # the schedule's length: stopped early, the decay would not finish
    trainer = SoundStreamTrainer(cfg, seed=args.seed, steps=steps)
    start = time.monotonic()
    history = trainer.fit(
        train_waves, out_dir=args.out, steps=steps, seconds=args.seconds, progress=not args.no_progress
    )
    elapsed = time.monotonic() - start
    tok = SoundStreamTokenizer(cfg, trainer.codec, trainer.state)
    levels = tuple(int(n) for n in args.levels.split(",") if int(n) <= cfg.codec.levels)
    tail = history[-max(1, len(history) // 10) :]
    report: dict[str, Any] = {
        "config": args.config,
        "overrides": args.set,
        "steps": trainer.step,
        "schedule_steps": steps,
        "seconds": round(elapsed, 1),
        "train_audio_seconds": round(sum(len(w) for w in train_waves) / SAMPLE_RATE, 1),
        "final_losses_mean_last_10pct": {k: float(np.mean([h[k] for h in tail if k in h])) for k in tail[-1]},
        "first_losses": history[0],
        "mel_loss_per_tenth": [
            round(float(np.mean([h["mel"] for h in part])), 2) for part in np.array_split(history, 10) if len(part)
        ],
        "codebook_usage_held_out": codebook_usage(tok, held_out),
        "residual_rms_ratio_per_level": residual_ratios(tok, held_out),
        "tones_at_250_hz_multiples_db": rate_tones(tok, held_out),
    }
    report.update(evaluate_levels(tok, held_out, levels=levels, per_clip=True))
    if 1 in levels and 4 in levels:
        for metric in ("mcd_dtw", "mcd_dtw_speech"):
            per = report["per_clip"]
            gap = np.subtract(per[f"{metric}_levels_1"], per[f"{metric}_levels_4"])
            report[f"{metric}_gap_1_minus_4"] = {
                "mean": round(float(gap.mean()), 3),
                "relative": round(float(gap.mean() / report[f"{metric}_levels_1"]), 4),
                "stderr": round(float(gap.std(ddof=1) / np.sqrt(len(gap))), 3) if len(gap) > 1 else None,
                "clips_4_below_1": f"{int((gap > 0).sum())}/{len(gap)}",
            }
    atomic_write_text(args.out / "report.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
