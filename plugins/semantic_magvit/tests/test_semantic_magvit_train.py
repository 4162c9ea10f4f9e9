"""Learning: a few dozen steps of the tiny semantic tokenizer lower the loss and raise accuracy."""

import attrs
import numpy as np
import pytest

from archon_framework import Clip, ClipMeta, CompileCounter
from archon_semantic_magvit import SemanticTokenizer, shipped_config, toy_label_video, train_semantic
from archon_semantic_magvit._evaluate import evaluate_semantic


def small_config(size: int = 32):
    cfg = shipped_config("semantic_tiny")
    # Same topology as the tiny config, on 32 x 32 frames so that the test fits CI's budget.
    return attrs.evolve(
        cfg,
        model=attrs.evolve(cfg.model, frame_size=size),
        train=attrs.evolve(cfg.train, batch_size=4, clip_frames=5, crop_size=0, warmup_steps=5, eval_clips=2, checkpoint_every=1000),
        loss=attrs.evolve(cfg.loss, adv_start=0),  # full eq. (3) from step 0: one compile
    )


def clips(n: int, size: int = 32):
    rng = np.random.default_rng(0)
    return [
        Clip(ClipMeta(clip_id=f"toy{i}", duration=5 / 30, frame_rate=30, sample_rate=16_000),
             {"semantic": toy_label_video(5, size, rng=rng, num_shapes=2)})
        for i in range(n)
    ]


@pytest.mark.slow
def test_training_lowers_the_loss_and_raises_label_accuracy(tmp_path):
    cfg = small_config()
    data = clips(8)
    before = evaluate_semantic(SemanticTokenizer.untrained(cfg), data[:6], data[6:])
    report = train_semantic(data, out_dir=tmp_path / "sem", steps=30, progress=False, config=cfg)
    assert report["steps"] == 30 and report["eval_clips"] == 2
    assert report["final_loss"] < 0.7 * report["first_loss"]
    assert report["label_accuracy"] > before["label_accuracy"] + 0.1
    assert (tmp_path / "sem" / "model.eqx").is_file() and (tmp_path / "sem" / "report.json").is_file()
    loaded = SemanticTokenizer.load(tmp_path / "sem")
    assert loaded.config == cfg


@pytest.mark.slow
def test_image_trainer_saves_a_loadable_tokenizer_and_reports_psnr(tmp_path):
    from archon_semantic_magvit import ImageTokenizer, toy_image, train_image

    cfg = shipped_config("image_tiny")
    cfg = attrs.evolve(
        cfg,
        model=attrs.evolve(cfg.model, frame_size=32, base_channels=4, norm_groups=2),
        train=attrs.evolve(cfg.train, batch_size=2, warmup_steps=1, eval_clips=1, min_steps=3),
        loss=attrs.evolve(cfg.loss, adv_start=1),  # the discriminator joins at the second step
    )
    rng = np.random.default_rng(0)
    data = [Clip(ClipMeta(clip_id=f"im{i}", duration=1.0, frame_rate=30, sample_rate=16_000), {"image": toy_image(32, rng=rng)})
            for i in range(3)]
    with CompileCounter() as compiles:
        report = train_image(data, out_dir=tmp_path / "img", steps=3, progress=False, config=cfg)
    # One compiled update for the run: the discriminator's start is a traced flag, not a recompile.
    assert compiles.count("_update") == 1, compiles.by_function
    assert report["steps"] == 3 and np.isfinite(report["final_loss"])
    (training,) = report["training"]
    assert training["steps"] == 3 and training["min_steps"] == 3 and report["below_min"] is False
    assert training["compile_s"] > 0 and training["train_s"] > 0 and training["compiles"] >= 1
    assert np.isfinite(report["psnr_db"]) and np.isfinite(report["baseline_mean_colour_psnr_db"])
    tok = ImageTokenizer.load(tmp_path / "img")
    ids = tok.encode(data[0]["image"], meta=data[0].meta)
    assert ids.shape == (4,) and ids.max() < 2**18  # 32 / 16 = 2 x 2 tokens at this test size
