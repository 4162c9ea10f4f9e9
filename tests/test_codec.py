"""The slot codec and the tokenizer capabilities: one crossing between raw values and global ids."""

from __future__ import annotations

import types
import warnings

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import (
    BlockedTokenizer,
    ClipMeta,
    Modality,
    PluginError,
    PromptSerializer,
    RawSpec,
    Renderer,
    Slot,
    SlotCodec,
    TextTokenizer,
    Vocabulary,
    VocabError,
    hookimpl,
)
from archon_framework.infer import StepRanges, step_ranges
from archon_framework.testing import ByteTextTokenizer, ConformanceError, check_renderer, check_tokenizer, make_registry
from archon_framework.train import LevelTable
from core_toys import ArrayTokenizer, array_modality

META = ClipMeta(clip_id="c0", duration=0.4, frame_rate=10, sample_rate=100)
LEVELS, CODES = 3, 8


class Levelled(ArrayTokenizer):
    """Three interleaved levels of 8 codes: position i draws from block (i % 3)."""

    def __init__(self) -> None:
        super().__init__(Vocabulary("levels", LEVELS * CODES))

    def token_ranges(self, num_tokens: int) -> np.ndarray:
        lo = (np.arange(num_tokens) % LEVELS) * CODES
        return np.stack([lo, lo + CODES], axis=1)

    def encode(self, raw, *, meta):
        codes = np.clip((np.asarray(raw, np.float32).ravel() * CODES).astype(np.int32), 0, CODES - 1)
        return (codes + (np.arange(codes.shape[0]) % LEVELS) * CODES).astype(np.int32)

    def decode(self, local_ids, *, meta):
        ids = np.asarray(local_ids)
        if ids.size and (ids.min() < 0 or ids.max() >= LEVELS * CODES):
            raise VocabError("out of range")
        return ((ids % CODES + 0.5) / CODES).astype(np.float32).reshape(-1, 2)


class HalfText(ByteTextTokenizer):
    """Claims the text capability with to_text only."""

    from_text = None


def levelled_modality() -> Modality:
    tok = Levelled()
    return Modality(name="levels", vocabulary=tok.vocabulary, temporal=True, phrase="levelled signal",
                    raw=RawSpec(kind="array", dtype="float32", shape=("frames", 2), value_range=(0.0, 1.0)),
                    num_tokens=lambda meta: 2 * meta.frames, tokenizer=lambda path: tok)


class Plugin:
    def __init__(self, *mods: Modality) -> None:
        self.mods = mods

    @hookimpl
    def archon_modalities(self):
        return list(self.mods)


@pytest.fixture(scope="module")
def registry():
    return make_registry(("toy_codec", Plugin(array_modality("speech", 16, phrase="speech audio"), levelled_modality())),
                         with_byte_text=True)


@pytest.fixture(scope="module")
def serializer(registry):
    return PromptSerializer(registry.layout(), registry.modalities, ByteTextTokenizer())


def codec(registry, serializer, name):
    return SlotCodec(registry.modality(name), registry.tokenizer(name), serializer)


# ---------------------------------------------------------------------- encode / decode
@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(0.0, 0.75, width=32), min_size=8, max_size=8))
def test_encode_is_tokenizer_then_to_global_and_decode_inverts_it(registry, serializer, values):
    raw = np.asarray(values, np.float32).reshape(4, 2)
    for name in ("speech", "levels"):
        c = codec(registry, serializer, name)
        ids = c.encode(raw, META)
        local = registry.tokenizer(name).encode(raw, meta=META)
        assert np.array_equal(ids, serializer.layout.range(name).to_global(local))
        assert np.array_equal(c.encode(c.decode(ids, META), META), ids)  # quantized values are fixed points


@given(text=st.text(max_size=30))
def test_text_goes_through_to_text_and_the_escaped_payload(registry, serializer, text):
    c = codec(registry, serializer, "script")
    assert c.capabilities.text and c.is_text
    ids = c.encode(text, META)
    assert np.array_equal(ids, serializer.encode_text_payload(text))
    assert np.array_equal(serializer.payload(Slot("script", "c"), text=text).global_ids, ids)
    assert c.decode(ids, META) == text


def test_a_text_modality_without_the_capability_carries_str(registry, serializer):
    class Plain:  # a Tokenizer of the text vocabulary, without to_text/from_text
        vocabulary = ByteTextTokenizer().vocabulary

        def encode(self, raw, *, meta):
            return ByteTextTokenizer().encode_text(raw)

        def decode(self, local_ids, *, meta):
            return ByteTextTokenizer().decode_text(local_ids)

    c = SlotCodec(registry.modality("script"), Plain(), serializer)
    assert not c.capabilities.text
    assert np.array_equal(c.encode(12, META), serializer.encode_text_payload("12"))
    assert c.decode(c.encode("hi", META), META) == "hi"


def test_a_count_that_disagrees_with_num_tokens_names_clip_and_modality(registry, serializer):
    mod = attrs.evolve(registry.modality("speech"), num_tokens=lambda meta: 3)
    with pytest.raises(PluginError, match=r"clip 'c0', modality 'speech': its tokenizer gave 8 ids, num_tokens says 3"):
        SlotCodec(mod, registry.tokenizer("speech"), serializer).encode(np.zeros((4, 2), np.float32), META)


def test_an_id_outside_the_vocabulary_is_refused(registry, serializer):
    c = codec(registry, serializer, "speech")
    with pytest.raises(VocabError):
        c.from_local([16])
    with pytest.raises(VocabError):
        c.decode(np.array([serializer.layout.range("speech").stop]), META)


# ---------------------------------------------------------------------- ranges and levels
def test_ranges_and_levels_come_from_one_validation(registry, serializer):
    c = codec(registry, serializer, "levels")
    start = serializer.layout.range("levels").start
    r = c.ranges(6)
    assert r.width == CODES and r.starts.tolist() == [start + CODES * (i % 3) for i in range(6)]
    assert np.array_equal(step_ranges(Levelled(), serializer.layout.range("levels"), 6, modality="levels").starts, r.starts)
    blocks, width = c.levels(6)
    assert blocks.tolist() == [0, 8, 16] and width == CODES
    table = LevelTable.from_codecs(("speech", "levels"), {"levels": c, "speech": codec(registry, serializer, "speech")},
                                   {"levels": 6, "speech": 8})
    assert table.names == ("levels/level0", "levels/level1", "levels/level2") and table.start[1] == start
    whole = codec(registry, serializer, "speech").ranges(5)
    assert whole.width == 16 and set(whole.starts.tolist()) == {serializer.layout.range("speech").start}
    assert codec(registry, serializer, "speech").levels(5) is None


@pytest.mark.parametrize("table, match", [
    (lambda n: np.array([[0, 8], [8, 20]] * (n // 2)), "one positive width"),
    (lambda n: np.array([[0, 8], [4, 12]] * (n // 2)), "overlap"),
    (lambda n: np.array([[0, 8], [24, 32]] * (n // 2)), "exceed the vocabulary"),
    (lambda n: np.zeros((n, 3), np.int64), r"\[num_tokens, 2\]"),
])
def test_a_broken_token_ranges_is_refused_alike_by_decoding_and_levels(registry, serializer, table, match):
    bad = types.SimpleNamespace(token_ranges=table)
    rng = serializer.layout.range("levels")
    for call in (lambda: step_ranges(bad, rng, 4, modality="levels"),
                 lambda: LevelTable.build(("levels",), serializer.layout, {"levels": "levels"}, {"levels": bad}, {"levels": 4})):
        with pytest.raises(PluginError, match=rf"modality 'levels': token_ranges\(4\).*{match}"):
            call()


# ---------------------------------------------------------------------- capabilities
def test_the_protocols_describe_the_built_in_test_tokenizers():
    assert isinstance(ByteTextTokenizer(), TextTokenizer) and not isinstance(ByteTextTokenizer(), BlockedTokenizer)
    assert isinstance(Levelled(), BlockedTokenizer) and not isinstance(Levelled(), TextTokenizer)


def test_a_partial_capability_is_refused_naming_the_plugin():
    half = Modality(name="script", vocabulary=ByteTextTokenizer().vocabulary, temporal=True, phrase="script",
                    raw=RawSpec(kind="text"), num_tokens=lambda meta: None, max_tokens=16,
                    tokenizer=lambda path: HalfText())
    reg = make_registry(("half_text", Plugin(half)))
    with pytest.raises(PluginError, match=r"modality 'script' \(plugin half_text\).*to_text but not from_text"):
        reg.tokenizer("script")
    with pytest.raises(ConformanceError, match="to_text but not from_text"):
        check_tokenizer(half, HalfText(), meta=META, raw="hi")


def test_text_outside_the_text_vocabulary_is_refused(registry):
    class Texty(ArrayTokenizer):
        def to_text(self, raw):
            return str(raw)

        def from_text(self, text):
            return text

    mod = attrs.evolve(registry.modality("speech"), tokenizer=lambda path: Texty(Vocabulary("speech", 16)))
    with pytest.raises(PluginError, match=r"plugin texty\).*only for modalities in the 'text' vocabulary"):
        make_registry(("texty", Plugin(mod))).tokenizer("speech")


def test_a_factory_that_makes_no_tokenizer_is_refused():
    mod = attrs.evolve(array_modality("speech", 16), tokenizer=lambda path: object())
    with pytest.raises(PluginError, match=r"modality 'speech' \(plugin nothing\).*Tokenizer protocol"):
        make_registry(("nothing", Plugin(mod))).tokenizer("speech")


def test_the_kit_checks_what_each_capability_returns(registry):
    class Astray(Levelled):  # ids of position 0 in level 1's block
        def encode(self, raw, *, meta):
            ids = super().encode(raw, meta=meta)
            ids[0] += CODES
            return ids

    raw = np.full((4, 2), 0.3, np.float32)
    check_tokenizer(registry.modality("levels"), Levelled(), meta=META, raw=raw)
    with pytest.raises(ConformanceError, match=r"id 10 at position 0, outside its token_ranges block \[0, 8\)"):
        check_tokenizer(registry.modality("levels"), Astray(), meta=META, raw=raw)
    check_tokenizer(registry.modality("script"), ByteTextTokenizer(), meta=META, raw="héllo")


# ---------------------------------------------------------------------- renderers
class Brightness:
    def render(self, inputs, *, meta, seed=0):
        level = float(np.asarray(inputs["speech"]).mean())
        return np.full((meta.frames, 8, 8, 3), int(255 * level), np.uint8)


def video(**factory) -> Modality:
    return Modality(name="video", vocabulary=None, temporal=True, phrase="video",
                    raw=RawSpec(kind="array", dtype="uint8", shape=("frames", 8, 8, 3)),
                    num_tokens=lambda meta: None, derived_from=("speech",), **factory)


def test_a_renderer_is_declared_apart_from_tokenizers():
    mod = video(renderer=lambda path: Brightness())
    reg = make_registry(("video", Plugin(mod, array_modality("speech", 16))))
    renderer = reg.renderer("video")
    assert isinstance(renderer, Renderer) and mod.tokenizer is None
    with pytest.raises(PluginError, match="is rendered: it has a renderer"):
        reg.tokenizer("video")
    with pytest.raises(PluginError, match="has tokens: it has a tokenizer"):
        reg.renderer("speech")
    out = check_renderer(mod, renderer, meta=META, inputs={"speech": np.full((4, 2), 0.5, np.float32)})
    assert out.shape == (4, 8, 8, 3)
    with pytest.raises(ConformanceError, match="differ from derived_from"):
        check_renderer(mod, renderer, meta=META, inputs={})


def test_the_old_form_still_loads_with_a_warning_and_bad_declarations_are_refused():
    with pytest.warns(DeprecationWarning, match="renderer="):
        old = video(tokenizer=lambda path: Brightness())
    assert old.tokenizer is None and isinstance(old.renderer(None), Brightness)
    with pytest.raises(PluginError, match="needs a renderer factory"):
        video()
    with pytest.raises(PluginError, match="only a rendered modality"):
        attrs.evolve(array_modality("speech", 16), renderer=lambda path: Brightness())
    with pytest.raises(PluginError, match="needs a tokenizer factory"):
        attrs.evolve(array_modality("speech", 16), tokenizer=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = make_registry(("broken", Plugin(video(renderer=lambda path: object()), array_modality("speech", 16))))
    with pytest.raises(PluginError, match=r"modality 'video' \(plugin broken\) is rendered.*without render\(\)"):
        reg.renderer("video")


def test_step_ranges_of_a_plain_tokenizer_is_the_whole_range(serializer):
    rng = serializer.layout.range("speech")
    r = StepRanges.of("speech", ArrayTokenizer(Vocabulary("speech", 16)), rng, 3)
    assert r.width == rng.size and r.contains(np.array([rng.start, rng.stop - 1, rng.stop])).tolist() == [True, True, False]
