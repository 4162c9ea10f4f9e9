"""Tokenizers: token counts, padding, bad input, save/load, the plugin and the conformance kit."""

import numpy as np
import pytest

from archon_framework import ClipMeta, RawValueError, VocabError
from archon_framework.testing import check_modality, check_tokenizer, make_registry
from archon_semantic_magvit import IMAGE, SEMANTIC, ImageTokenizer, SemanticTokenizer, image_num_tokens, semantic_num_tokens, toy_image, toy_label_video
from archon_semantic_magvit import _plugin


def meta(frames: int, clip_id: str = "c0") -> ClipMeta:
    return ClipMeta(clip_id=clip_id, duration=frames / 30.0, frame_rate=30.0, sample_rate=16_000)


@pytest.fixture(scope="module")
def semantic():
    return SemanticTokenizer.untrained()


@pytest.fixture(scope="module")
def image():
    return ImageTokenizer.untrained()


@pytest.fixture(scope="module")
def video6():
    return toy_label_video(6, rng=np.random.default_rng(0))


@pytest.mark.parametrize("frames,latent", [(1, 1), (5, 2), (9, 3), (17, 5), (2, 2), (4, 2), (6, 3), (10, 4), (18, 6)])
def test_semantic_token_counts(frames, latent):
    assert semantic_num_tokens(meta(frames)) == latent * 64
    assert image_num_tokens(meta(frames)) == 256


@pytest.mark.parametrize("frames", [1, 6])
def test_encode_gives_exact_counts_and_decode_the_frame_count(semantic, frames):
    video = toy_label_video(frames, rng=np.random.default_rng(frames))
    ids = semantic.encode(video, meta=meta(frames))
    assert ids.dtype == np.int32 and ids.shape == (semantic_num_tokens(meta(frames)),)
    assert 0 <= ids.min() and ids.max() < 1024
    out = semantic.decode(ids, meta=meta(frames))
    assert out.dtype == np.uint8 and out.shape == (frames, 128, 128) and out.max() <= 20


def test_end_padding_does_not_change_earlier_tokens(semantic, video6):
    # 6 frames are padded to 9 by repeating frame 5; frames 0..4 alone give the first 2 x 64 ids.
    six = semantic.encode(video6, meta=meta(6))
    nine = semantic.encode(np.concatenate([video6, np.repeat(video6[-1:], 3, 0)]), meta=meta(9))
    np.testing.assert_array_equal(six, nine)
    one = semantic.encode(video6[:1], meta=meta(1))
    np.testing.assert_array_equal(one, six[:64])  # frame 0 is tokenized on its own


@pytest.mark.parametrize(
    "bad,why",
    [
        (lambda v: np.where(v == 0, 21, v).astype(np.uint8), "0..20"),
        (lambda v: v.astype(np.float32), "dtype"),
        (lambda v: v[:, :64, :64], "shape"),
        (lambda v: v[:5], "shape"),
        (lambda v: v.astype(np.int16) - 1, "0..20"),
    ],
)
def test_bad_semantic_input_names_the_modality(semantic, video6, bad, why):
    with pytest.raises(RawValueError, match=r"semantic") as err:
        semantic.encode(bad(video6), meta=meta(6, "clip-7"))
    assert why in str(err.value) and "clip-7" in str(err.value)


def test_ids_outside_the_vocabulary_raise(semantic, image):
    with pytest.raises(VocabError, match="semantic"):
        semantic.decode(np.full(192, 1024, np.int32), meta=meta(6))
    with pytest.raises(VocabError, match="semantic"):
        semantic.decode(np.full(192, -1, np.int32), meta=meta(6))
    with pytest.raises(VocabError, match="semantic"):
        semantic.decode(np.zeros(64, np.int32), meta=meta(6))
    with pytest.raises(VocabError, match="image"):
        image.decode(np.full(256, 2**18, np.int32), meta=meta(1))


def test_bad_image_input(image):
    img = toy_image(rng=np.random.default_rng(0))
    with pytest.raises(RawValueError, match="image"):
        image.encode(img.astype(np.float32), meta=meta(1))
    with pytest.raises(RawValueError, match="image"):
        image.encode(img[:128], meta=meta(1))


def test_save_load_round_trip(semantic, video6, tmp_path):
    semantic.save(tmp_path / "semantic")
    again = _plugin.SEMANTIC.tokenizer(tmp_path / "semantic")
    np.testing.assert_array_equal(again.encode(video6, meta=meta(6)), semantic.encode(video6, meta=meta(6)))


def test_plugin_registers_both_modalities():
    reg = make_registry(("semantic_magvit", _plugin))
    assert {"semantic", "image"} <= set(reg.modalities)
    # the defaults are the tiny configs' codebooks: semantic 2^10 as in the paper, image 2^12
    assert reg.modality("semantic").vocabulary.size == 1024 and reg.modality("image").vocabulary.size == 2**12
    assert reg.modality("semantic").phrase == "semantic video" and not reg.modality("image").temporal


def test_the_vocabulary_follows_the_saved_config(tmp_path):
    """A tokenizer trained with the paper's config makes the layout hold 2^18 image ids; the
    registry reads the size from config.json alone (no weights are loaded)."""
    from archon_semantic_magvit import shipped_config

    reg = make_registry(("semantic_magvit", _plugin))
    (tmp_path / "image").mkdir()
    shipped_config("image_paper").save_json(tmp_path / "image" / "config.json")
    sized = reg.for_artifacts(tmp_path)
    assert sized.modality("image").vocabulary.size == 2**18 and sized.modality("semantic").vocabulary.size == 1024
    assert sized.layout().total_size == 2**18 + 1024
    assert ImageTokenizer.untrained().vocabulary.size == 2**12


def test_conformance_kit(semantic, image, video6):
    check_modality(SEMANTIC, meta=meta(6), raw=video6)
    check_tokenizer(SEMANTIC, semantic, meta=meta(6), raw=video6)
    img = toy_image(rng=np.random.default_rng(1))
    check_modality(IMAGE, meta=meta(6), raw=img)
    ids = check_tokenizer(IMAGE, image, meta=meta(6), raw=img)
    assert ids.shape == (256,) and ids.max() < 2**12
    assert image.decode(ids, meta=meta(6)).shape == (256, 256, 3)
