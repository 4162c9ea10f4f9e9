"""Training: both stages lower their loss, the whole trainer writes a loadable renderer and a
report; the held-out metrics tell a good video from a bad one."""

import attrs
import jax
import numpy as np
import pytest

from archon_framework import CompileCounter, ConfigError, DataError
from archon_framework.train import UndertrainedWarning
from archon_video_walt import (
    VIDEO,
    Autoencoder,
    AutoencoderTrainer,
    DenoiserTrainer,
    VideoRenderer,
    LatentWindows,
    encode_windows,
    label_accuracy,
    psnr,
    stage_steps,
)
from archon_video_walt._data import prepare_clips, sample_video_batch


@pytest.fixture(scope="module")
def training_clips(mini, clips):
    return prepare_clips(clips, mini)


def test_the_autoencoder_stage_lowers_the_reconstruction_loss(mini, training_clips):
    trainer = AutoencoderTrainer(mini, steps=60, seed=0)
    fixed = sample_video_batch(training_clips, 2, 5, 0, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    with CompileCounter() as compiles:  # the update (and `loss`, the same program) compiles once at most
        before = trainer.loss(fixed, key=jax.random.key(0))
        losses = [trainer.step(sample_video_batch(training_clips, 2, 5, 0, rng=rng))["loss"] for _ in range(60)]
    # at most once: test_video_walt_optimizer.py may already have compiled this shape in this process
    assert compiles.count("_autoencoder_update") <= 1, compiles.by_function
    assert all(np.isfinite(losses)) and trainer.step_count == 60
    assert trainer.loss(fixed, key=jax.random.key(0))["loss"] < 0.7 * before["loss"]
    assert trainer.loss(fixed, key=jax.random.key(0)) == trainer.loss(fixed, key=jax.random.key(0))  # no update


def test_the_denoiser_stage_lowers_the_v_loss(mini, training_clips):
    ae = Autoencoder(mini.autoencoder, key=jax.random.key(0))
    windows = encode_windows(ae, training_clips, mini)
    latents, refs = windows.latents(np.arange(len(windows))), windows.ref_latents(np.arange(len(training_clips)))
    assert windows.encoded == len(windows) and latents.shape[1:] == (4, 2, 8, 8) and refs.shape == (4, 4, 8, 8)
    np.testing.assert_allclose(latents.mean(axis=(0, 2, 3, 4)), 0.0, atol=1e-4)  # normalized per channel
    np.testing.assert_allclose(latents.std(axis=(0, 2, 3, 4)), 1.0, atol=1e-3)
    trainer = DenoiserTrainer(mini, steps=150, seed=0)
    # A validation loss: fixed windows, and fixed times, noise, dropout and continuation (the key).
    fixed = trainer.batch(windows, training_clips, mini.train.batch_size)
    with CompileCounter() as compiles:  # the update (and `loss`, the same program) compiles once
        before = trainer.loss(fixed, key=jax.random.key(5))
        for _ in range(150):
            trainer.step(trainer.batch(windows, training_clips, mini.train.batch_size))
        after = trainer.loss(fixed, key=jax.random.key(5))
    assert compiles.count("_denoiser_update") == 1, compiles.by_function
    assert np.isfinite(after) and after < 0.9 * before, (before, after)


def test_windows_are_encoded_when_a_batch_first_draws_them(mini, training_clips):
    ae = Autoencoder(mini.autoencoder, key=jax.random.key(0))
    eager = encode_windows(ae, training_clips, mini)
    assert len(eager) > 3
    lazy = LatentWindows(ae, training_clips, mini, stats_windows=2, seed=1)
    sample = set(lazy.encoded_windows.tolist())
    assert len(sample) == lazy.encoded == 2  # the statistics' sample only
    # The same sample gives the same statistics; measured on all windows, they differ a little.
    assert LatentWindows(ae, training_clips, mini, stats_windows=2, seed=1).stats == lazy.stats != eager.stats
    # Encoded on demand, a window's latent is the one encoding everything at once gives it.
    full = LatentWindows(ae, training_clips, mini, stats=lazy.stats).fill()
    trainer = DenoiserTrainer(mini, steps=3, seed=0)
    drawn: set[int] = set()
    for _ in range(3):
        state = trainer.rng.bit_generator.state
        idx = trainer.rng.integers(0, len(lazy), mini.train.batch_size)  # the draw `batch` makes next
        trainer.rng.bit_generator.state = state
        latents, _, refs, *_ = trainer.batch(lazy, training_clips, mini.train.batch_size)
        drawn |= set(idx.tolist())
        assert set(lazy.encoded_windows.tolist()) == sample | drawn
        np.testing.assert_allclose(latents, full.latents(idx), atol=1e-5)
        np.testing.assert_allclose(refs, full.ref_latents(lazy.clip_index[idx]), atol=1e-5)
    # Statistics given: nothing is encoded before a batch asks.
    assert LatentWindows(ae, training_clips, mini, stats=eager.stats).encoded == 0


def test_the_trainer_writes_a_renderer_and_a_report(mini, clips, tmp_path):
    mini = attrs.evolve(mini, train=attrs.evolve(mini.train, ae_min_steps=2, min_steps=5))
    with pytest.warns(UndertrainedWarning, match="video denoiser: 4 steps.* BELOW THE MINIMUM of 5 steps"):
        report = VIDEO.trainer(clips, out_dir=tmp_path, steps=6, seed=0, progress=False, config=mini)
    assert report["train_clips"] == 3 and report["eval_clips"] == 1
    assert report["autoencoder"]["steps"] == 2 and report["denoiser"]["steps"] == 4  # ae_fraction 0.3 of 6
    # 4 steps of 2 windows draw at most 8 of them; the statistics' sample is every window here.
    assert report["denoiser"]["encoded_windows"] <= report["denoiser"]["windows"]
    assert report["denoiser"]["encode_s"] > 0
    ae, dn = report["training"]  # one TrainReport per stage: compile and training seconds apart
    assert (ae["stage"], ae["steps"], ae["below_min"]) == ("video autoencoder", 2, False)
    assert (dn["stage"], dn["steps"], dn["below_min"]) == ("video denoiser", 4, True) and report["below_min"]
    # what a recipe is checked against when it loads is the split the trainer ran
    assert stage_steps(6, config=mini) == {"video autoencoder": (2, 2), "video denoiser": (4, 5)}
    # (compile_s may be 0: the tests above compiled the same steps in this process)
    assert all(s["compile_s"] >= 0 and s["train_s"] > 0 and s["first_step_s"] > 0 for s in (ae, dn))
    assert report["compile_s"] == pytest.approx(ae["compile_s"] + dn["compile_s"], abs=0.02)
    held = report["held_out"]
    assert {"generated", "no_semantic", "static_reference", "ground_truth", "autoencoder"} <= set(held)
    assert 0.0 <= held["generated"]["label_accuracy"] <= 1.0
    assert held["ground_truth"]["label_accuracy"] > 0.9  # the ceiling of the metric on these clips
    assert (tmp_path / "report.json").is_file()
    renderer = VIDEO.renderer(tmp_path)
    assert isinstance(renderer, VideoRenderer) and renderer.stats.std != (1.0,) * 4  # the trained statistics


def test_the_trainer_refuses_clips_it_cannot_use(mini, clips, tmp_path):
    with pytest.raises(DataError, match="no clips"):
        VIDEO.trainer([], out_dir=tmp_path, steps=1, progress=False, config=mini)
    no_video = [type(clips[0])(clips[0].meta, {k: v for k, v in clips[0].values.items() if k != "video"})]
    with pytest.raises(DataError, match="video"):
        VIDEO.trainer(no_video, out_dir=tmp_path, steps=1, progress=False, config=mini)
    big = [type(clips[0])(clips[0].meta, {**clips[0].values, "video": np.zeros((9, 32, 32, 3), np.uint8)})]
    with pytest.raises(DataError, match=r"clip 'toy/0/00000'.*output_size=64"):
        VIDEO.trainer(big, out_dir=tmp_path, steps=1, progress=False, config=mini)


def test_label_accuracy_scores_the_truth_high_and_a_still_or_recoloured_video_low(clips):
    clip = clips[1]
    video, semantic = clip["video"], clip["semantic"]
    truth = label_accuracy(video, video, semantic)
    assert truth["all"] > 0.9 and truth["moving"] > 0.8
    still = label_accuracy(np.repeat(video[:1], len(video), axis=0), video, semantic)
    assert still["moving"] < 0.2  # a still image is wrong wherever the labels moved
    swapped = label_accuracy(255 - video, video, semantic)
    assert swapped["all"] < truth["all"] - 0.3


def test_psnr():
    a = np.zeros((2, 4, 4, 3), np.uint8)
    assert psnr(a, a) == float("inf")
    assert psnr(a, a + 1) == pytest.approx(20 * np.log10(255.0))


def test_the_split_of_a_step_count_refuses_options_and_counts_below_one():
    assert VIDEO.trainer_stages is stage_steps
    assert stage_steps(340) == {"video autoencoder": (102, 100), "video denoiser": (238, 200)}
    with pytest.raises(ConfigError, match="takes no options, got ae_fraction"):
        stage_steps(340, {"ae_fraction": 0.5})
    with pytest.raises(ConfigError, match="at least 1, got 0"):
        stage_steps(0)
