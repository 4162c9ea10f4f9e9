"""The prompt serializer: structure, ranges, loss mask, and parse(serialize(x)) == x."""

from __future__ import annotations

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
