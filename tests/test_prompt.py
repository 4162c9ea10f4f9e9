"""The prompt serializer: structure, ranges, loss mask, and parse(serialize(x)) == x."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_framework import PromptError, PromptSerializer, Slot, TaskError

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "", '"', "\\", '\\"', "}", "{", "]}", '"}, {"modality": "speech audio", "state": "current", "tokens": 3, "value":',
        '}], "output": {"modality": "script", "state": "current", "value":', "value:", "\x00\x1f", "héllo — 世界 🙂",
    ]),
)


@pytest.fixture(scope="module")
def serializer(toy_registry, byte_codec):
    return PromptSerializer(toy_registry.layout(), toy_registry.modalities, byte_codec)


def _ids(draw, size, lo=0, n=None):
    return np.asarray(draw(st.lists(st.integers(lo, size - 1), min_size=n or 0, max_size=n or 12)), dtype=np.int32)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), script=HOSTILE, out_text=HOSTILE)
def test_parse_inverts_serialize_with_hostile_text(serializer, data, script, out_text):
    speech = serializer.payload(Slot("speech", "c"), local_ids=_ids(data.draw, 16))
    text_in = serializer.payload(Slot("script", "p"), text=script)
    image = serializer.payload(Slot("image", "t"), local_ids=_ids(data.draw, 64, n=2))
    inputs = data.draw(st.permutations([speech, text_in, image]))
    # A text output (free length, ends with EOS) and an array output (exact count).
    for output in (serializer.payload(Slot("script", "c"), text=out_text),
                   serializer.payload(Slot("expression", "c"), local_ids=_ids(data.draw, 32, n=data.draw(st.integers(1, 6))))):
        ex = serializer.serialize(inputs, output)
        parsed = serializer.parse(ex.tokens, ex.prefix_len)
        assert parsed.inputs == tuple(inputs)
        assert parsed.output == output.slot and parsed.target == output
        assert ex.loss_mask.sum() == ex.target_len and not ex.loss_mask[: ex.prefix_len].any()
        for p in parsed.inputs:
            if p.slot.modality == "script":
                assert serializer.decode_text_payload(p.global_ids) == script
        # The generation prompt is exactly the training prefix.
        fixed = output.slot.modality != "script"
        prompt = serializer.serialize(inputs, output.slot, target_tokens=len(output) if fixed else None)
        assert np.array_equal(prompt.tokens, ex.tokens[: ex.prefix_len])
        assert serializer.parse(prompt.tokens).target is None


def test_payloads_live_in_their_ranges(serializer, toy_registry):
    layout = toy_registry.layout()
    p = serializer.payload(Slot("speech", "c"), local_ids=[0, 15])
    assert list(p.global_ids) == [layout.range("speech").start, layout.range("speech").start + 15]
    with pytest.raises(PromptError, match="outside 0..15"):
        serializer.payload(Slot("speech", "c"), local_ids=[16])
    with pytest.raises(PromptError, match="pass text="):
        serializer.payload(Slot("script", "c"), local_ids=[1])
    with pytest.raises(PromptError, match="not installed"):
        serializer.payload(Slot("lidar", "c"), local_ids=[1])


def test_text_payload_is_escaped_json(serializer, byte_codec, toy_registry):
    p = serializer.payload(Slot("script", "c"), text='say "}], hi')
    text = byte_codec.decode_text(toy_registry.layout().range("text").to_local(p.global_ids))
    assert text == '"say \\"}], hi"'


def test_target_ends_with_eos_only_for_text(serializer):
    speech = serializer.payload(Slot("speech", "c"), local_ids=[1, 2, 3])
    ex = serializer.serialize([speech], serializer.payload(Slot("script", "c"), text="ok"))
    assert ex.tokens[-1] == serializer.eos_global
    ex = serializer.serialize([serializer.payload(Slot("script", "c"), text="ok")], speech)
    assert ex.target_len == 3


def test_parse_errors_name_the_position(serializer):
    speech = serializer.payload(Slot("speech", "c"), local_ids=[1, 2, 3])
    with pytest.raises(PromptError, match="target_tokens"):
        serializer.serialize([speech], Slot("expression", "c"))
    ex = serializer.serialize([speech], Slot("expression", "c"), target_tokens=4)
    with pytest.raises(PromptError, match="no output header"):
        serializer.parse(ex.tokens[:-3])
    with pytest.raises(PromptError, match="expected structural text"):
        serializer.parse(np.concatenate([speech.global_ids, ex.tokens]))
    with pytest.raises(PromptError, match="prefix_len"):
        serializer.parse(ex.tokens, prefix_len=3)


def test_serialize_refuses_malformed_tasks(serializer):
    speech = serializer.payload(Slot("speech", "c"), local_ids=[1])
    with pytest.raises(PromptError, match="at least one token"):
        serializer.serialize([speech], serializer.payload(Slot("expression", "c"), local_ids=[]))
    with pytest.raises(PromptError, match="at least one input"):
        serializer.serialize([], Slot("script", "c"))
    with pytest.raises(TaskError, match="also an input"):
        serializer.serialize([speech], Slot("speech", "c"))


# ---------------------------------------------------------------- the parse contract (issue 28, defect 5)
def _reserialize(serializer, byte_codec, toy_registry, parsed, tokens):
    """What `serialize` writes for what `parse` read: equal to the tokens iff they were valid."""
    if parsed.target is not None:
        return serializer.serialize(parsed.inputs, parsed.target).tokens
    n = None
    if parsed.output.modality != "script":
        # A prompt ends with its output header, all structural text: read its count back.
        text = byte_codec.decode_text(toy_registry.layout().range("text").to_local(tokens[-25:]))
        n = int(re.search(r'"tokens": (\d+), "value":$', text).group(1))
    return serializer.serialize(parsed.inputs, parsed.output, target_tokens=n).tokens


@st.composite
def _mutated_prompts(draw, serializer):
    speech = serializer.payload(Slot("speech", "c"), local_ids=_ids(draw, 16, n=draw(st.integers(0, 4))))
    script = serializer.payload(Slot("script", "p"), text=draw(HOSTILE))
    image = serializer.payload(Slot("image", "t"), local_ids=_ids(draw, 64, n=2))
    inputs = draw(st.permutations([speech, script, image]))[: draw(st.integers(1, 3))]
    names = {p.slot.modality for p in inputs}
    out_name = draw(st.sampled_from([m for m in ("script", "expression") if m not in names] or ["expression"]))
    if out_name == "script":
        output = serializer.payload(Slot("script", "c"), text=draw(HOSTILE))
    else:
        output = serializer.payload(Slot("expression", "c"), local_ids=_ids(draw, 32, n=draw(st.integers(1, 4))))
    if draw(st.booleans()):
        ex = serializer.serialize(inputs, output)
        tokens, prefix_len = ex.tokens.copy(), ex.prefix_len
    else:
        n = len(output) if out_name != "script" else None
        tokens, prefix_len = serializer.serialize(inputs, output.slot, target_tokens=n).tokens.copy(), None
    text = serializer.layout.range("text")
    top = serializer.layout.total_size
    for _ in range(draw(st.integers(1, 3))):
        if not len(tokens):  # truncated to nothing: no more mutations
            break
        i = draw(st.integers(0, len(tokens) - 1))
        kind = draw(st.sampled_from(["replace", "ascii", "delete", "insert", "truncate", "swap", "duplicate"]))
        if kind == "replace":
            tokens[i] = draw(st.integers(-3, top + 3))
        elif kind == "ascii":  # damage a key or a quote: the mutation that forged 0-input parses
            tokens[i] = text.start + 2 + draw(st.integers(0x20, 0x7E))
        elif kind == "delete":
            tokens = np.delete(tokens, i)
        elif kind == "insert":
            tokens = np.insert(tokens, i, draw(st.integers(-3, top + 3)))
        elif kind == "truncate":
            tokens = tokens[:i]
        elif kind == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[[i, j]] = tokens[[j, i]]
        else:
            j = draw(st.integers(i, len(tokens)))
            tokens = np.concatenate([tokens[:j], tokens[i:j], tokens[j:]])
    if prefix_len is not None and draw(st.booleans()):
        prefix_len = None
    return tokens.astype(np.int32), prefix_len


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_parse_is_total_on_mutated_prompts(serializer, byte_codec, toy_registry, data):
    tokens, prefix_len = data.draw(_mutated_prompts(serializer))
    try:
        parsed = serializer.parse(tokens, prefix_len)
    except PromptError as err:
        assert re.match(r"token \d+: ", str(err)), str(err)
        return
    # It parsed: then it is a valid prompt, which serialize writes back token for token.
    assert parsed.inputs, "a prompt parsed with no inputs"
    again = _reserialize(serializer, byte_codec, toy_registry, parsed, tokens)
    assert np.array_equal(again, tokens)


@pytest.mark.parametrize("damage", ['"modality"', '"inputs"', '"state"', '"output"', '"tokens"'])
def test_a_damaged_key_is_refused_not_skipped(serializer, byte_codec, toy_registry, damage):
    script = serializer.payload(Slot("script", "c"), text="hi")
    speech = serializer.payload(Slot("speech", "c"), local_ids=[1, 2])
    ex = serializer.serialize([speech, script], serializer.payload(Slot("expression", "c"), local_ids=[3]))
    text = toy_registry.layout().range("text")
    raw = byte_codec.decode_text(text.to_local(ex.tokens[: ex.prefix_len][text.contains(ex.tokens[: ex.prefix_len])]))
    assert damage in raw
    at = byte_codec.encode_text(raw[: raw.index(damage)]).shape[0] + 1  # a byte inside the first such key
    # Find that byte in the token sequence (payload ids are interleaved, so walk the text ids).
    where = np.flatnonzero(text.contains(ex.tokens))[at]
    bad = ex.tokens.copy()
    bad[where] = text.start + 2 + ord("X")
    with pytest.raises(PromptError, match=r"^token \d+: "):
        serializer.parse(bad, ex.prefix_len)


@pytest.mark.parametrize("tokens", [[], [-1], [10**9], np.zeros((2, 2), dtype=np.int32), [0.5]])
def test_parse_refuses_garbage_with_an_offset(serializer, tokens):
    with pytest.raises(PromptError, match=r"^token \d+: "):
        serializer.parse(tokens)


def test_byte_codec_refuses_lone_surrogates_as_the_real_codec_does(byte_codec):
    from archon_framework import RawValueError

    with pytest.raises(RawValueError, match="surrogates"):
        byte_codec.encode_text("a\ud800b")


def test_an_empty_payload_round_trips(serializer):
    """A dropped condition (no value, as condition dropout writes it) is a valid prompt."""
    from archon_framework import Payload

    inputs = [Payload(Slot("script", "p"), np.zeros(0, np.int32)), Payload(Slot("speech", "c"), np.zeros(0, np.int32))]
    ex = serializer.serialize(inputs, serializer.payload(Slot("expression", "c"), local_ids=[1]))
    parsed = serializer.parse(ex.tokens, ex.prefix_len)
    assert parsed.inputs == tuple(inputs)


def test_tokens_carry_their_times(serializer, toy_registry):
    """Temporal payloads spread over the window (a past one a window earlier); text, headers and
    time-invariant payloads sit at time 0; a generation prompt's times are the training prefix's."""
    from archon_framework import State, token_times

    layout = toy_registry.layout()
    speech = serializer.payload(Slot("speech", "p"), local_ids=np.arange(8))
    image = serializer.payload(Slot("image", "t"), local_ids=[1, 2])
    target = serializer.payload(Slot("expression", "c"), local_ids=[3, 4, 5, 6])
    ex = serializer.serialize([speech, image], target)
    assert ex.times.shape == ex.tokens.shape
    in_range = {m: layout.range(m).contains(ex.tokens) for m in ("speech", "image", "expression", "text")}
    np.testing.assert_array_equal(ex.times[in_range["speech"]], token_times(8, State.PAST))
    np.testing.assert_array_equal(ex.times[in_range["expression"]], token_times(4, State.CURRENT))
    assert not ex.times[in_range["image"] | in_range["text"]].any()
    np.testing.assert_array_equal(serializer.slot_times(target.slot, 4), ex.times[ex.prefix_len:])
    prompt = serializer.serialize([speech, image], target.slot, target_tokens=4)
    np.testing.assert_array_equal(prompt.times, ex.times[: ex.prefix_len])
    text = serializer.serialize([speech], serializer.payload(Slot("script", "c"), text="ok"))
    assert not text.times[text.prefix_len:].any()  # a free-length text target has no time
