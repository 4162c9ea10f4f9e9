"""The ``video`` modality and its renderer: the conformance kit, bad input, files, frame counts."""

import json

import numpy as np
import pytest

from archon_framework import CheckpointError, ClipMeta, ConfigError, RawValueError, Renderer
from archon_framework.testing import check_modality, check_tokenizer, make_registry
from archon_video_walt import VIDEO, VideoRenderer, decode, make_renderer, shipped_config
from archon_video_walt import _plugin


def meta(frames: int, clip_id: str = "c0") -> ClipMeta:
    return ClipMeta(clip_id=clip_id, duration=frames / 30.0, frame_rate=30.0, sample_rate=16_000)


def test_the_plugin_declares_a_rendered_video_modality():
    reg = make_registry(("video_walt", _plugin))
    video = reg.modality("video")
    assert video.rendered and video.vocabulary is None and video.temporal
    assert set(video.derived_from) == {"semantic", "image", "description"}
    assert video.token_count(meta(9)) == 0


def test_conformance_kit(renderer, clips):
    clip = clips[0]
    check_modality(VIDEO, meta=meta(9), raw=clip["video"])
    assert isinstance(renderer, Renderer)
    assert check_tokenizer(VIDEO, renderer, meta=meta(9), raw=clip["video"]).size == 0
    out = renderer.render({k: clip[k] for k in ("semantic", "image", "description")}, meta=meta(9), seed=0)
    VIDEO.check_raw(out, meta(9))  # what it renders, the modality accepts


@pytest.mark.parametrize("value, match", [
    (np.zeros((9, 64, 48, 3), np.uint8), "square"),
    (np.zeros((9, 4, 4, 3), np.uint8), "at least 8x8"),
    (np.zeros((9, 64, 64, 3), np.float32), "dtype uint8"),
    (np.zeros((8, 64, 64, 3), np.uint8), "shape"),
])
def test_the_modality_refuses_bad_raw_videos(value, match):
    with pytest.raises(RawValueError, match=rf"clip 'c0', modality 'video'.*{match}"):
        VIDEO.check_raw(value, meta(9))


def test_the_factory_gives_the_untrained_tiny_renderer_or_loads_a_directory(tmp_path):
    tiny = make_renderer(None)
    assert isinstance(tiny, VideoRenderer) and tiny.config == shipped_config("tiny")
    with pytest.raises(CheckpointError, match="config.json is missing"):
        make_renderer(tmp_path)


def _inputs(clip, **changes):
    values = {"semantic": clip["semantic"], "image": clip["image"], "description": clip["description"]}
    values.update(changes)
    return values


BAD = {
    "semantic smaller than the config": ({"semantic": np.zeros((9, 16, 16), np.uint8)}, "input 'semantic' frames of 16x16"),
    "image smaller than the semantic": ({"image": np.zeros((32, 32, 3), np.uint8)}, "input 'image' of 32x32"),
    "image of another dtype": ({"image": np.zeros((64, 64, 3), np.float32)}, "input 'image'.*uint8.*float32"),
    "image without colour": ({"image": np.zeros((64, 64), np.uint8)}, "input 'image'.*uint8"),
    "semantic of floats": ({"semantic": np.zeros((9, 32, 32), np.float32)}, "input 'semantic'.*integer labels.*float32"),
    "semantic of one frame map": ({"semantic": np.zeros((32, 32), np.uint8)}, "input 'semantic'.*integer labels"),
    "label 21": ({"semantic": np.full((9, 32, 32), 21, np.uint8)}, r"input 'semantic' labels must lie in 0\.\.20.*21"),
    "label -1": ({"semantic": np.full((9, 32, 32), -1, np.int16)}, r"input 'semantic' labels must lie in 0\.\.20"),
    "no frames": ({"semantic": np.zeros((0, 32, 32), np.uint8)}, "input 'semantic' has no frames"),
    "empty description": ({"description": {}}, "input 'description'.*empty"),
    "blank description": ({"description": {"appearance": {"hair": " ", "colors": []}}}, "input 'description'.*empty"),
    "description as text": ({"description": ""}, "input 'description'.*description dict"),
    "no description": ({"description": None}, "input 'description'.*description dict"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_inputs_raise_a_raw_value_error_naming_the_modality_and_the_input(renderer, clips, case):
    changes, match = BAD[case]
    with pytest.raises(RawValueError, match=rf"modality 'video'.*{match}"):
        renderer.generate(**_inputs(clips[0], **changes))


def test_more_bad_inputs(renderer, clips):
    clip = clips[0]
    with pytest.raises(RawValueError, match=r"clip 'c0', modality 'video': input 'semantic' has 9 frames.*has 6"):
        renderer.render(_inputs(clip), meta=meta(6))
    with pytest.raises(RawValueError, match="modality 'video'.*missing description"):
        renderer.render({"semantic": clip["semantic"], "image": clip["image"]}, meta=meta(9))
    with pytest.raises(RawValueError, match=r"input 'image_semantic'.*values 30\.\.30"):
        renderer.generate(**_inputs(clip), image_semantic=np.full((32, 32), 30, np.uint8))
    with pytest.raises(RawValueError, match="unknown condition"):
        renderer.generate(**_inputs(clip), drop=("colour",))
    with pytest.raises(ConfigError, match="steps=0"):
        renderer.generate(**_inputs(clip), steps=0)
    with pytest.raises(RawValueError, match=r"modality 'video'.*uint8 \[batch, frames, H, W, 3\]"):
        renderer.encode_video(clip["video"])  # no batch axis
    with pytest.raises(RawValueError, match="modality 'video'.*1 \\+ n \\* 4.*pad_frames"):
        renderer.encode_video(clip["video"][None, :6])  # 6 frames: not 1 + 4n


def test_a_frame_count_the_autoencoder_cannot_take_is_padded_and_trimmed(renderer, clips):
    clip = clips[2]
    assert renderer.reconstruct(clip["video"][:6]).shape == (6, 64, 64, 3)
    out = renderer.generate(clip["semantic"][:7], clip["image"], clip["description"])
    assert out.shape == (7, 64, 64, 3)


def test_a_saved_renderer_renders_the_same_video(random_renderer, clips, tmp_path):
    clip = clips[3]
    random_renderer.save(tmp_path / "r")
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"config.json", "autoencoder.eqx", "denoiser.eqx",
                                                           "latent_stats.json"}
    loaded = make_renderer(tmp_path / "r")
    assert loaded.config == random_renderer.config and loaded.stats == random_renderer.stats
    inputs = _inputs(clip)
    np.testing.assert_array_equal(loaded.render(inputs, meta=meta(9), seed=2),
                                  random_renderer.render(inputs, meta=meta(9), seed=2))
    # The one-call entry point loads the same directory.
    np.testing.assert_array_equal(decode(**inputs, artifact_dir=tmp_path / "r", seed=2),
                                  random_renderer.generate(**inputs, seed=2))


def test_broken_renderer_directories_are_named(random_renderer, tmp_path):
    random_renderer.save(tmp_path)
    (tmp_path / "denoiser.eqx").unlink()
    with pytest.raises(CheckpointError, match="denoiser.eqx is missing"):
        VideoRenderer.load(tmp_path)
    random_renderer.save(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["denoiser"]["width"] = 64
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="does not match"):
        VideoRenderer.load(tmp_path)
    cfg["denoiser"]["colour"] = 1
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="colour"):
        VideoRenderer.load(tmp_path)
    (tmp_path / "config.json").write_text("{ half a file")
    with pytest.raises(ConfigError, match="config.json: not a readable JSON config"):
        VideoRenderer.load(tmp_path)


def test_without_text_conditioning_no_description_is_needed(make_config, renderer, clips):
    clip = clips[0]
    no_text = VideoRenderer(make_config(conditioning={"text": False}), renderer.autoencoder, renderer.denoiser,
                            renderer.stats)  # only the input checks are exercised here
    *_, text = no_text.check_inputs(clip["semantic"], clip["image"], None)
    assert text.shape == (256,) and not text.any()
    with pytest.raises(RawValueError, match="input 'description'"):
        renderer.check_inputs(clip["semantic"], clip["image"], None)


class _Unparsed:
    """Stands in for archon-text-t5's UnparsedDescription (duck-typed: text, error, value)."""

    def __init__(self, text, value=None):
        self.text, self.error, self.value = text, "not a description", value


def test_a_description_the_lm_did_not_finish_still_conditions_the_video(renderer, clips):
    from archon_video_walt import canonical_json, description_bytes

    clip = clips[0]
    assert canonical_json(_Unparsed('{"appearance": {"hair": "bl')) == '{"appearance": {"hair": "bl'
    assert canonical_json(_Unparsed("{}", value=clip["description"])) == canonical_json(clip["description"])
    assert not np.array_equal(description_bytes(_Unparsed("garbled"), 64), description_bytes(_Unparsed("other"), 64))
    with pytest.raises(RawValueError, match="generated description is empty"):
        canonical_json(_Unparsed("  "))
    out = renderer.render(_inputs(clip, description=_Unparsed("half a descr")), meta=meta(9), seed=0)
    VIDEO.check_raw(out, meta(9))
