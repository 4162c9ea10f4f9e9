"""Does the LM learn to use its conditions? One task, N training clips, held-out NLL gain (issue 20).

Trains the prefix LM on one task of the synthetic benchmark alone, on the first `--clips`
training clips (`archon_synthetic_heads.performed_clip`: speech, script, FLAME parameters and
description, nothing rendered, tokenized with a recipe run's tokenizers), and every `--every` steps measures on `--heldout`
stored held-out clips the **NLL gain**: the teacher-forced NLL of each clip's own target given
another clip's conditions minus given its own (`archon_framework.eval.target_nll`, nats per
target token, 95% bootstrap interval; positive: the model uses its conditions; for a task with
several inputs also ``gain_by_input``, each input alone taken from the other clip). Next to the
training cross-entropy it tells generalization from recall: with few clips the training CE
falls far below the held-out NLL. With `--code-info` it first prints how much of the level-0
expression code the speech's loudness determines (mouth-opening correlation, plug-in entropies).
With `--readout` it first measures what the tokens make learnable at all: a softmax regression
(no LM) from the first input's level-0 and level-1 codes in each output frame's time span, and
the frame's index, to the output's code of each of its first levels, fitted on 7/8 of the clips
(300 full-batch Adam steps) and scored on the rest against the codes' marginal and against the
frame index alone. Its gain over the frame index is about what an LM's NLL gain on that level
can reach against a shuffled-condition control (which keeps the frame structure).
`--embed-init codebook` starts the LM's code rows from the tokenizers' code vectors
(`ModelSection.embed_init`; docs/training.md "Embedding rows from code vectors").
`--sampled-control N` then generates the output for N held-out clips from their own and from
another clip's conditions (archon eval's control), at each `--temperature` (0: greedy) and
guidance weight; `--control-only` does only that, for a probe already trained in `--out` (without
`--sampled-control`: its NLL gain). `--heldout-data DIR` scores on another stored set of clips, e.g. the
training split under another seed (new voices and motion speaking the training sentences), which
tells a model that learned its training sentences from one that generalizes to new ones.
`--train-data DIR` trains on the first `--clips` clips of a stored dataset instead (rendered
clips: tasks with an image or a semantic video). `--frames N` cuts every training and held-out
clip to its first N video frames, keeping only the modalities the task reads (`first_frames`):
with N = 1 a semantic video is its first latent frame, which the image alone decides. `--also
TASK` trains other tasks beside `--task` (every figure stays `--task`'s): whether what one task
learns carries to another (the time-invariant `image(t)+expression(t)->semantic(t)` beside the
chain's `image(t)+expression(c)->semantic(c)`). Conditions and targets read time-invariantly
from a temporal modality (``semantic(t)``) are scored on their frame, as `archon eval` scores them.
Run again on the same `--out` with a larger `--steps`, a probe goes on from its latest checkpoint
(its learning-rate schedule then spans the new `--steps`).

    .venv/bin/python benchmarks/conditioning_probe.py --run runs/reference --clips 4096 --out runs/probe-4096
    .venv/bin/python benchmarks/conditioning_probe.py --run runs/reference --clips 512 --out runs/probe-512

(`--run`: a `archon pretrain --recipe ...` folder: its `tokenizers/` and `heldout/`.)
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

from archon_framework import (ArchonError, Chain, ChainStep, Clip, State, TaskSuite, cut_clip, load_registry,
                              parse_task, window_clip)
from archon_framework.data import slot_window_key
from archon_framework.eval import (derangement, heldout_clips, installed_main_metrics, paired_interval, step_controls,
                                   target_nll)
from archon_framework.infer import Ids, load_checkpoint
from archon_framework.model import Sampling
from archon_framework.train import CheckpointConfig, DataConfig, ModelSection, OptimConfig, TrainConfig, Trainer
from archon_synthetic_heads import performed_clip

PERFORMED = {"speech", "expression", "pose", "script", "identity", "description"}  # `performed_clip`: nothing rendered


def performed_clips(n: int, seed: int, seconds: float = 1.0) -> list[Clip]:
    """The first `n` training clips of `seconds` of the synthetic stream, unrendered."""
    return [performed_clip(i, seed=seed, seconds=seconds, split="train") for i in range(n)]


def check_lengths(held: Sequence[Clip], seconds: float, where: Path) -> None:
    """Refuse held-out clips whose length is not the training clips' `seconds` (a 1-s held-out split
    would score a model trained on 4-s windows on windows it never saw), naming the folder."""
    other = sorted({round(c.meta.duration, 3) for c in held} - {round(seconds, 3)})
    if other:
        raise SystemExit(f"{where}: held-out clips of {', '.join(f'{d:g}' for d in other)} s, the training clips "
                         f"are {seconds:g} s (--seconds); synthesize held-out clips of that length into another run "
                         f"folder (archon data synth --dataset synthetic_heads_test --seconds {seconds:g})")


def first_frames(clip: Clip, frames: int, modalities, keep: set[str]) -> Clip:
    """`clip` cut to its first `frames` video frames, with only the values of `keep`
    (`window_clip`)."""
    if frames > clip.meta.frames:
        raise SystemExit(f"--frames {frames}: clip {clip.clip_id!r} has {clip.meta.frames} frames")
    meta = clip.meta.window(0.0, frames / clip.meta.frame_rate, suffix=f"first{frames}")
    return window_clip(clip, meta, modalities, keep=keep)


def one_task_registry(task, also: Sequence = ()):
    """The installed registry with a suite of `task` alone, or with the tasks `also` beside it at
    equal weight (its name: "probe")."""
    registry = load_registry()
    suite = TaskSuite("probe", (task, *also))
    return attrs.evolve(registry, suites={**registry.suites, suite.name: suite})


def probe_config(out: Path, run: Path, *, steps: int, every: int, config: str = "small", loss: str = "level",
                 lr: float = 1e-3, seq_len: int = 2048, batch: int = 2, seed: int = 0, log_every: int = 10,
                 embed_init: str = "normal", codebook_share: float = 0.5, condition_dropout: float = 0.0) -> TrainConfig:
    """The train config of a one-task run on a recipe run's tokenizers (suite "probe")."""
    return TrainConfig(out_dir=str(out), steps=steps, log_every=log_every,
                       model=ModelSection(config=config, seed=seed, loss=loss, embed_init=embed_init,
                                          codebook_share=codebook_share),
                       optim=OptimConfig(peak_lr=lr, end_lr=lr / 10, warmup_fraction=0.1),
                       data=DataConfig(artifacts=str(run / "tokenizers"), suite="probe", weights="suite",
                                       seq_len=seq_len, batch_size=batch, packing_bins=4, seed=seed,
                                       condition_dropout=condition_dropout),
                       checkpoint=CheckpointConfig(every=every, keep=2))


def code_info(clips: list[Clip], trainer: Trainer, n: int = 800) -> dict:
    """Mouth opening vs loudness, and the level-0 expression code's entropy with and without it."""
    start = trainer.layout.range("expression").start
    width = int(trainer.levels.width[trainer.sampler.modality_names.index("expression")])
    codes, mouth, loud = [], [], []
    for k, clip in enumerate(clips[:n]):
        local = np.asarray(trainer.cache.get(k, "expression", "full")) - start
        level0 = np.flatnonzero(local // width == 0)
        ex, speech = clip["expression"], clip["speech"]
        frames = ex.shape[0]
        for j, pos in enumerate(level0):
            f0, f1 = j * frames // len(level0), (j + 1) * frames // len(level0)
            codes.append(int(local[pos] % width))
            mouth.append(float(ex[f0:f1, 0].mean()))
            s0, s1 = f0 * speech.shape[0] // frames, f1 * speech.shape[0] // frames
            loud.append(float(np.sqrt(np.mean(np.square(speech[s0:s1])))))
    c, m, v = np.asarray(codes), np.asarray(mouth), np.asarray(loud)
    means = {x: m[c == x].mean() for x in np.unique(c)}
    r2 = 1 - np.var(m - np.array([means[x] for x in c])) / np.var(m)
    octile = np.digitize(v, np.quantile(v, np.linspace(0, 1, 9)[1:-1]))

    def entropy(x: np.ndarray) -> float:
        p = np.bincount(x, minlength=width) / max(len(x), 1)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    given = sum((octile == b).mean() * entropy(c[octile == b]) for b in np.unique(octile))
    return {"positions": len(c), "mouth_loudness_corr": float(np.corrcoef(m, v)[0, 1]), "mouth_r2_given_code0": float(r2),
            "H_code0": entropy(c), "H_code0_given_loudness_octile": float(given)}


def _blocks(trainer: Trainer, tokenizers: dict, modality: str, ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Local codes ``[frames, levels]`` of a frame-ordered blocked payload, and its block width."""
    ranges = np.asarray(tokenizers[modality].token_ranges(len(ids)))
    lo = ranges[:, 0]
    levels = len(np.unique(lo))
    local = ids - trainer.layout.range(modality).start - lo
    return local.reshape(-1, levels), int(ranges[0, 1] - ranges[0, 0])


def level_codes(tok, value, meta) -> tuple[np.ndarray, int]:
    """A residual tokenizer's codes of one value, ``[steps, levels]`` local to each level, and
    the width (codes) of a level."""
    ids = np.asarray(tok.encode(value, meta=meta))
    ranges = np.asarray(tok.token_ranges(len(ids)))
    levels, width = len(np.unique(ranges[:, 0])), int(ranges[0, 1] - ranges[0, 0])
    return (ids - ranges[:, 0]).reshape(-1, levels), width


def span_histogram(codes: np.ndarray, frame: int, frames: int, width: int) -> np.ndarray:
    """Counts of the level-0 and level-1 codes (``codes``: ``[steps, levels]`` local codes of one
    input, `width` a level) in the time span of output frame `frame` of `frames`: ``[2 x width]``."""
    n = codes.shape[0]
    lo = frame * n // frames
    hi = max((frame + 1) * n // frames, lo + 1)
    hist = np.zeros(2 * width, np.float32)
    np.add.at(hist, codes[lo:hi, 0], 1.0)
    if codes.shape[1] > 1:
        np.add.at(hist, width + codes[lo:hi, 1], 1.0)
    return hist


def readout(trainer: Trainer, registry, artifacts: Path, task, n_clips: int, levels: int = 2,
            steps: int = 300) -> list[dict]:
    """Held-out NLL of a softmax regression from aligned input codes to each output level's code."""
    import jax
    import jax.numpy as jnp
    import optax

    inp, out = task.inputs[0], task.output
    tokenizers = {m: registry.tokenizer(m, artifacts) for m in {inp.modality, out.modality}}
    flat = sorted(m for m, t in tokenizers.items() if not hasattr(t, "token_ranges"))
    if flat:
        raise SystemExit(f"--readout reads residual levels: {', '.join(flat)} has a tokenizer without token_ranges")
    rows, frames_of, targets, groups = [], [], [], []
    for k in range(n_clips):
        a = trainer.cache.get(k, inp.modality, slot_window_key(task, inp))
        b = trainer.cache.get(k, out.modality, slot_window_key(task, out))
        if a is None or b is None:
            continue
        src, w_in = _blocks(trainer, tokenizers, inp.modality, a)
        dst, w_out = _blocks(trainer, tokenizers, out.modality, b)
        n_dst = dst.shape[0]
        for f in range(n_dst):
            rows.append(span_histogram(src, f, n_dst, w_in))
            frames_of.append(f)
            targets.append(dst[f, :levels])
            groups.append(k)
    x_codes, y, g = np.stack(rows), np.stack(targets), np.asarray(groups)
    frame = np.eye(max(frames_of) + 1, dtype=np.float32)[np.asarray(frames_of)]
    cut = np.quantile(g, 0.875)
    train, test = g < cut, g >= cut
    results = []
    for level in range(y.shape[1]):
        t = y[:, level]
        counts = np.bincount(t[train], minlength=w_out) + 1.0
        marginal = counts / counts.sum()
        entry = {"level": level, "marginal_nll": float(-np.log(marginal[t[test]]).mean())}
        for name, x in (("frame", frame), ("frame_and_codes", np.concatenate([frame, x_codes], axis=1))):
            params = (jnp.zeros((x.shape[1], w_out)), jnp.log(jnp.asarray(marginal)))
            opt = optax.adam(0.05)
            state = opt.init(params)

            def nll(p, xs, ys, l2):
                logits = xs @ p[0] + p[1]
                picked = jnp.take_along_axis(logits, ys[:, None], axis=-1)[:, 0]
                return (jax.nn.logsumexp(logits, axis=-1) - picked).mean() + l2 * jnp.sum(p[0] ** 2)

            grad = jax.jit(jax.grad(nll))
            xt, yt = jnp.asarray(x[train]), jnp.asarray(t[train])
            for _ in range(steps):
                updates, state = opt.update(grad(params, xt, yt, 1e-3), state)
                params = optax.apply_updates(params, updates)
            entry[f"{name}_nll"] = float(nll(params, jnp.asarray(x[test]), jnp.asarray(t[test]), 0.0))
        entry["gain_over_frame"] = entry["frame_nll"] - entry["frame_and_codes_nll"]
        results.append({k: round(v, 4) if isinstance(v, float) else v for k, v in entry.items()})
    return results


def shipped_run(name: str, folder: Path, *, heldout: int, seconds: float = 1.0) -> Path:
    """A run folder for a shipped model: ``tokenizers`` linked to its tokenizers and ``heldout``
    synthesized (the recipe's held-out split, seed 0; clips of `seconds`) unless already there."""
    from archon_framework.data import ClipDataset, synthesize
    from archon_framework.infer import shipped_models, tokenizers_folder

    if name not in shipped_models():
        raise SystemExit(f"--run {name}: neither a run folder nor a shipped model ({', '.join(shipped_models())})")
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "tokenizers"
    if link.is_symlink() and not link.exists():  # linked on a checkout that has moved: link again
        link.unlink()
    if not link.exists():
        link.symlink_to(tokenizers_folder(name), target_is_directory=True)
    try:
        have = len(ClipDataset(folder / "heldout"))
    except ArchonError:
        have = 0
    if have < heldout:
        synthesize(load_registry(), folder / "heldout", dataset="synthetic_heads_test", clips=heldout, seconds=seconds,
                   seed=0, resume=have > 0)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/reference"),
                        help="a recipe run (tokenizers/, heldout/), or a shipped model's name (cpu-reference): its "
                             "tokenizers, with held-out clips synthesized into OUT/source/heldout")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--task", default="speech(c)->expression(c)",
                        help=f"inputs and output among {sorted(PERFORMED)} (any stored modality with --train-data)")
    parser.add_argument("--train-data", type=Path, default=None,
                        help="train on the first --clips clips of this stored dataset instead of unrendered synthetic clips")
    parser.add_argument("--clips", type=int, default=4096)
    parser.add_argument("--frames", type=int, default=0,
                        help="cut every training and held-out clip to its first N video frames (0: whole clips)")
    parser.add_argument("--heldout", type=int, default=32)
    parser.add_argument("--heldout-data", type=Path, default=None, metavar="DIR",
                        help="score on the clips of this stored dataset instead of RUN/heldout (e.g. the training "
                             "split under another seed: new voices and motion speaking the training sentences)")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="length of the synthesized training clips (and of the held-out clips synthesized for a "
                             "shipped model); a task with a past input reads each clip's past and current windows (cut_clip)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--also", action="append", default=[], metavar="TASK",
                        help="train this task too, at --task's weight (repeat); every figure is --task's")
    parser.add_argument("--config", default="small")
    parser.add_argument("--loss", default="level", choices=("range", "level", "full"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seq-len", type=int, default=2048, help="packed window (a speech->expression example is 276 tokens)")
    parser.add_argument("--batch", type=int, default=2, help="windows a step")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--embed-init", default="normal", choices=("normal", "codebook"),
                        help="start the code rows from the tokenizers' code vectors (ModelSection.embed_init)")
    parser.add_argument("--codebook-share", type=float, default=0.5, help="their variance share in each row")
    parser.add_argument("--condition-dropout", type=float, default=0.0,
                        help="drop the conditions of this share of examples (for classifier-free guidance)")
    parser.add_argument("--code-info", action="store_true")
    parser.add_argument("--readout", action="store_true", help="first fit the softmax-regression ceiling (no LM)")
    parser.add_argument("--sampled-control", type=int, default=0, metavar="N",
                        help="after training, generate the output for N held-out clips from their own and from another "
                             "clip's conditions and compare them by the output's main metric (archon eval's control)")
    parser.add_argument("--guidance", type=float, action="append", default=[],
                        help="classifier-free guidance weight of the sampled control (repeat; default 0)")
    parser.add_argument("--sampling-seeds", type=int, default=1, help="sampling seeds of the sampled control")
    parser.add_argument("--temperature", type=float, action="append", default=[],
                        help="sampling temperature of the sampled control, top-p 0.9 (repeat; 0 is greedy; default 1)")
    parser.add_argument("--control-only", action="store_true",
                        help="no training: the control of the model already trained in --out, sampled with "
                             "--sampled-control N, else its NLL gain")
    args = parser.parse_args()

    if args.frames < 0:
        parser.error(f"--frames must be >= 0 (0: whole clips), got {args.frames}")
    task = parse_task(args.task)
    also = [parse_task(t) for t in args.also]
    read = set().union(*(_read(t) for t in (task, *also)))
    missing = sorted(read - PERFORMED) if args.train_data is None else []
    if missing:
        parser.error(f"--task {args.task}: {', '.join(missing)} needs rendering; use {sorted(PERFORMED)}")
    registry = one_task_registry(task, also)
    if not args.run.is_dir():
        args.run = shipped_run(str(args.run), args.out / "source", heldout=max(args.heldout, args.sampled_control),
                               seconds=args.seconds)
    if any(t < 0 for t in args.temperature):
        parser.error(f"--temperature must be >= 0 (0 is greedy), got {', '.join(map(str, args.temperature))}")
    if args.sampled_control and task.has_past:
        parser.error(f"--sampled-control: {args.task} reads a past window; score its samples with "
                     "benchmarks/edit_check.py (an editing chain's voice condition is the clip's past)")
    heldout = args.heldout_data or args.run / "heldout"
    if args.control_only and not (args.out / "checkpoints").is_dir():
        parser.error(f"--control-only: {args.out} holds no trained probe (no checkpoints/)")
    held, _ = heldout_clips(registry, n=max(args.heldout, args.sampled_control), data=heldout)
    if args.train_data is None:  # before any clip is sampled from, or made and tokenized
        check_lengths(held, args.seconds, heldout)
    if args.control_only and args.sampled_control:
        _print_control(args, registry, task, heldout)
        return
    held = [_cut(c, args.frames, registry, _read(task)) for c in held[:args.heldout]]
    perm = derangement(len(held), args.seed)
    if args.control_only:
        model = load_checkpoint(args.out, registry)
        print(json.dumps({"heldout": str(heldout), "clips": len(held),
                          **nll_gain(model, task, held, perm, seed=args.seed)}), flush=True)
        return
    t0 = time.perf_counter()
    if args.train_data is not None:
        from archon_framework.data import ClipDataset

        stored = ClipDataset(args.train_data)
        lacking = sorted(read - set(stored[0].values)) if len(stored) else []
        if lacking:
            parser.error(f"--train-data {args.train_data}: its clips lack {', '.join(lacking)}")
        clips = [_cut(stored[i], args.frames, registry, read) for i in range(min(args.clips, len(stored)))]
    else:
        clips = [_cut(c, args.frames, registry, read) for c in performed_clips(args.clips, args.seed, args.seconds)]
    print(json.dumps({"clips": len(clips), "perform_s": round(time.perf_counter() - t0, 1)}), flush=True)
    config = probe_config(args.out, args.run, steps=args.steps, every=args.every, config=args.config, loss=args.loss,
                          lr=args.lr, seq_len=args.seq_len, batch=args.batch, seed=args.seed,
                          embed_init=args.embed_init, codebook_share=args.codebook_share,
                          condition_dropout=args.condition_dropout)
    t0 = time.perf_counter()
    trainer = Trainer(config, registry, clips=clips, progress=False)
    print(json.dumps({"token_cache_s": round(time.perf_counter() - t0, 1)}), flush=True)
    if args.code_info:
        print(json.dumps({"code_info": code_info(clips, trainer)}), flush=True)
    if args.readout:
        for row in readout(trainer, trainer.registry, args.run / "tokenizers", task, args.clips):
            print(json.dumps({"readout": row}), flush=True)
    done = trainer.manager.latest_step() or 0  # a probe run again with a larger --steps goes on from its checkpoint
    while done < args.steps:
        done = min(done + args.every, args.steps)
        t0 = time.perf_counter()
        trainer.train(steps=done)
        model = load_checkpoint(args.out, registry)
        records = [json.loads(line) for line in (args.out / "metrics.jsonl").read_text().splitlines()]
        train_ce = float(np.mean([r["ce"] for r in records if done - args.every < r["step"] <= done]))
        print(json.dumps({"step": done, "train_s": round(time.perf_counter() - t0, 1), "train_ce": round(train_ce, 4),
                          **nll_gain(model, task, held, perm, seed=args.seed)}), flush=True)
    if args.sampled_control:
        _print_control(args, registry, task, heldout)


def nll_gain(model, task, held: Sequence[Clip], perm: Sequence[int], *, seed: int) -> dict:
    """The held-out NLL of each clip's own output given its own conditions and given clip
    ``perm[k]``'s, their paired gain with its 95% interval, and with several inputs the gain of
    each input alone taken from the other clip (``gain_by_input``)."""
    real = [target_nll(model, *scored(model, task, c, c)) for c in held]
    control = [target_nll(model, *scored(model, task, c, held[perm[k]])) for k, c in enumerate(held)]
    gain = paired_interval([b - a for a, b in zip(real, control)], seed=seed)
    by_input = {}
    for name in (sorted({s.modality for s in task.inputs}) if len(task.inputs) > 1 else []):
        alone = [target_nll(model, *scored(model, task, c, held[perm[k]], only=name)) for k, c in enumerate(held)]
        g = paired_interval([b - a for a, b in zip(real, alone)], seed=seed)
        by_input[name] = {"gain": round(g[0], 4), "ci95": [round(g[1], 4), round(g[2], 4)]}
    return {"heldout_nll": round(float(np.mean(real)), 4), "control_nll": round(float(np.mean(control)), 4),
            "gain": round(gain[0], 4), "ci95": [round(gain[1], 4), round(gain[2], 4)],
            **({"gain_by_input": by_input} if by_input else {})}


def _read(task) -> set[str]:
    return {s.modality for s in (*task.inputs, task.output)}


def _cut(clip: Clip, frames: int, registry, keep: set[str]) -> Clip:
    """`clip` with the modalities `keep` alone, and with `frames` cut to its first frames
    (`first_frames`): a rendered clip's video, which no probe task here reads, is most of its memory."""
    if frames:
        return first_frames(clip, frames, registry.modalities, keep)
    return Clip(clip.meta, {k: clip[k] for k in keep})


def scored(model, task, clip: Clip, source: Clip, *, only: str | None = None) -> tuple[Clip, dict, object]:
    """What `target_nll` scores: `clip`'s own output given `source`'s conditions (with `only`, the
    inputs of that modality from `source` and the others from `clip`). For a task with a past
    input (``speech(p)``), the output is the current window of the clip's past/current split
    (`cut_clip`), its current inputs come from a current window and its past inputs are the token
    ids of a past window."""
    def origin(slot) -> Clip:
        return source if only is None or slot.modality == only else clip

    if not task.has_past:
        return clip, {s: origin(s)[s.modality] for s in task.inputs}, task.output
    mods = model.registry.modalities
    conditions = {}
    for s in task.inputs:
        if s.state is State.PAST:
            past = cut_clip(origin(s), State.PAST, mods)
            conditions[s] = Ids(model.codec(s.modality).encode(past[s.modality], past.meta), local=False)
        else:
            conditions[s] = cut_clip(origin(s), State.CURRENT, mods)[s.modality]
    return cut_clip(clip, State.CURRENT, mods), conditions, task.output


def _print_control(args: argparse.Namespace, registry, task, heldout: Path) -> None:
    for row in sampled_control(args.out, registry, task, heldout, n=args.sampled_control,
                               guidance=args.guidance or [0.0], seeds=args.sampling_seeds,
                               temperatures=args.temperature or [1.0], frames=args.frames):
        print(json.dumps({"sampled_control": row}), flush=True)


def sampled_control(out: Path, registry, task, heldout: Path, *, n: int, guidance: list[float], seeds: int,
                    temperatures: Sequence[float] = (1.0,), frames: int = 0) -> list[dict]:
    """The step's sampled outputs (each temperature, top-p 0.9; temperature 0: greedy) from each
    held-out clip's own conditions against another's, judged by the output's main metric
    (`archon_framework.eval.step_controls` on the one-step chain of `task`), at each guidance
    weight and sampling seed; with `frames`, on each clip's first frames (`first_frames`)."""
    model = load_checkpoint(out, registry)
    held, _ = heldout_clips(registry, n=n, data=heldout)
    held = [_cut(c, frames, registry, _read(task)) for c in held]
    chain = Chain("probe", tuple(task.inputs), (ChainStep(task.output, tuple(task.inputs)),))
    preferred = installed_main_metrics(registry)
    rows = []
    for w in guidance:
        for t in temperatures:
            sampling = (Sampling(greedy=True, guidance=w) if t == 0 else
                        Sampling(temperature=t, top_p=0.9, guidance=w))
            for seed in range(seeds):  # the seed also picks the control's derangement
                for c in step_controls(model, held, chain, registry.metrics, preferred=preferred,
                                       sampling=sampling, seed=seed):
                    rows.append({"guidance": w, "temperature": t, "seed": seed, "clips": len(c.real), "metric": c.metric,
                                 "real": round(float(np.nanmean(c.real)), 4), "control": round(float(np.nanmean(c.control)), 4),
                                 "baseline": round(float(np.nanmean(c.baseline)), 4), "difference": round(c.difference, 4),
                                 "ci95": [round(c.low, 4), round(c.high, 4)]})
    return rows


if __name__ == "__main__":
    main()
