"""The shipped configs load, paper.toml holds the paper's numbers, bad configs are named."""

from importlib import resources

import pytest

from archon_framework import ConfigError
from archon_semantic_magvit import IMAGE, NUM_LABELS, SEMANTIC
from archon_video_walt import SHIPPED_CONFIGS, VideoConfig, load_video_config, shipped_config
from archon_video_walt._denoiser import NUM_LABELS as DECODER_LABELS


@pytest.mark.parametrize("name", SHIPPED_CONFIGS)
def test_shipped_configs_load_from_the_package_and_from_their_files(name, tmp_path):
    cfg = shipped_config(name)
    path = resources.files("archon_video_walt").joinpath("configs", f"{name}.toml")
    assert load_video_config(path) == cfg
    cfg.save_json(tmp_path / "c.json")
    assert load_video_config(tmp_path / "c.json") == cfg  # the JSON saved with a renderer round-trips
    assert VideoConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("name", SHIPPED_CONFIGS)
def test_shipped_configs_take_the_framework_s_semantic_and_image_values(name):
    cfg = shipped_config(name)
    assert SEMANTIC.raw.shape[1:] == (cfg.semantic_size, cfg.semantic_size)
    assert IMAGE.raw.shape[:2] == (cfg.image_size, cfg.image_size)
    assert DECODER_LABELS == NUM_LABELS == 21  # Table H


def test_paper_config_matches_the_paper():
    cfg = shipped_config("paper")
    # Sec. 3.3: reference images at 256 x 256, output videos at 512 x 512 (the semantic modality
    # of this framework is 128 x 128, Sec. C.1, so semantic_size is 128: documented in the TOML).
    assert cfg.image_size == 256 and cfg.output_size == 512
    # Sec. 3.3 / Table I: semantic latents concatenated channel-wise, reference + mask joined with text.
    assert cfg.conditioning.text and cfg.conditioning.joint_cross_attention
    # Implementation details: Adafactor, 6,000-step linear warm-up from 0 to 1.2e-4, then constant; batch 128.
    tc = cfg.train
    assert (tc.optimizer, tc.warmup_steps, tc.learning_rate, tc.schedule, tc.batch_size) == (
        "adafactor", 6000, pytest.approx(1.2e-4), "constant", 128)
    # WALT: 8x spatial, 4x temporal compression, 17 frames -> 5 latent frames, alternating windows.
    ae = cfg.autoencoder
    assert (ae.spatial_downsample, ae.temporal_downsample, ae.latent_frames(cfg.chunk_frames)) == (8, 4, 5)
    assert cfg.denoiser.depth % 2 == 0 and cfg.denoiser.causal_time
    assert cfg.diffusion.shift == 1.0  # the plain cosine schedule


def test_the_paper_schedule_is_constant_after_warm_up():
    from archon_video_walt import lr_schedule

    tc = shipped_config("paper").train
    sched = lr_schedule(tc.learning_rate, tc.warmup_steps, tc.steps, tc.schedule)
    assert float(sched(0)) == 0.0
    assert float(sched(3000)) == pytest.approx(0.6e-4, rel=1e-3)
    assert float(sched(6000)) == float(sched(150_000)) == pytest.approx(1.2e-4)
    tiny = shipped_config("tiny").train
    cosine = lr_schedule(tiny.learning_rate, tiny.warmup_steps, tiny.steps, tiny.schedule)
    assert float(cosine(tiny.steps)) == pytest.approx(0.1 * tiny.learning_rate, rel=1e-3)


BAD = {
    "unknown key": ({"denoiser": {"colour": 1}}, "unknown key.*colour"),
    "window": ({"denoiser": {"window": [3, 3]}}, "denoiser.window"),
    "heads": ({"denoiser": {"heads": 3}}, "denoiser.heads=3"),
    "chunk": ({"chunk_frames": 8}, "chunk_frames=8"),
    "output size": ({"output_size": 100}, "output_size=100"),
    "semantic size": ({"semantic_size": 48}, "semantic_size=48"),
    "strides": ({"autoencoder": {"temporal_strides": [3]}}, "temporal_strides"),
    "schedule": ({"train": {"schedule": "linear"}}, "schedule"),
    "crop": ({"train": {"ae_crop": 100}}, "ae_crop=100"),
    "guidance drop": ({"diffusion": {"guidance_drop": ["colour"]}}, "guidance_drop"),
    "probability": ({"conditioning": {"drop_text": 1.5}}, "drop_text"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_configs_name_the_field(case):
    change, match = BAD[case]
    data = shipped_config("tiny").to_dict()
    for key, value in change.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError, match=match):
        VideoConfig.from_dict(data, source="bad.toml")


def test_unknown_shipped_config_is_named():
    with pytest.raises(ConfigError, match="huge"):
        shipped_config("huge")
