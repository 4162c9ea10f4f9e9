"""The prompt parse contract (issue 28, defect 5) with the real SentencePiece text codec: valid
prompts parse back, and mutations of them parse to a valid prompt or raise PromptError naming
the offset (never TaskError, VocabError or a silent empty parse)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from archon_framework import Modality, PromptError, PromptSerializer, RawSpec, Slot, Vocabulary, hookimpl
from archon_framework.testing import make_registry
from hypothesis import given, settings
from hypothesis import strategies as st

import archon_text_t5._plugin as text_plugin
from archon_text_t5 import DESCRIPTION_EXAMPLE


class _Signal:
    """A small array modality beside the text plugin's two."""

    @hookimpl
    def archon_modalities(self):
        vocab = Vocabulary("signal", 16)
        return [Modality(name="signal", vocabulary=vocab, temporal=True, phrase="signal",
                         raw=RawSpec(kind="array", dtype="int32", shape=(None,)), num_tokens=lambda meta: 4,
                         tokenizer=lambda path: None)]


@pytest.fixture(scope="module")
def serializer():
    registry = make_registry(("text_t5", text_plugin), ("signal", _Signal()))
    return PromptSerializer(registry.layout(), registry.modalities, registry.text_codec())


def _examples(serializer):
    description = dict(DESCRIPTION_EXAMPLE)
    signal = serializer.payload(Slot("signal", "c"), local_ids=[1, 2, 3, 4])
    script = serializer.payload(Slot("script", "c"), text='she said "hi" }], {')
    desc_text = serializer.payload(Slot("description", "t"), text=str(sorted(description))[:60])
    yield serializer.serialize([signal, desc_text], serializer.payload(Slot("script", "c"), text="good morning"))
    yield serializer.serialize([script], serializer.payload(Slot("signal", "c"), local_ids=[0, 15, 7, 7]))
    yield serializer.serialize([script, signal], Slot("description", "t"))


def test_real_codec_prompts_round_trip(serializer):
    for ex in _examples(serializer):
        parsed = serializer.parse(ex.tokens, ex.prefix_len)
        again = serializer.serialize(parsed.inputs, parsed.target if parsed.target is not None else parsed.output)
        assert np.array_equal(again.tokens, ex.tokens)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_real_codec_prompts_keep_the_contract(serializer, data):
    ex = data.draw(st.sampled_from(list(_examples(serializer))))
    tokens = ex.tokens.copy()
    top = serializer.layout.total_size
    for _ in range(data.draw(st.integers(1, 3))):
        if not len(tokens):
            break
        i = data.draw(st.integers(0, len(tokens) - 1))
        kind = data.draw(st.sampled_from(["replace", "delete", "insert", "truncate"]))
        if kind == "replace":
            tokens[i] = data.draw(st.integers(-2, top + 2))
        elif kind == "delete":
            tokens = np.delete(tokens, i)
        elif kind == "insert":
            tokens = np.insert(tokens, i, data.draw(st.integers(-2, top + 2)))
        else:
            tokens = tokens[:max(i, 1)]
    prefix_len = ex.prefix_len if data.draw(st.booleans()) else None
    try:
        parsed = serializer.parse(tokens, prefix_len)
    except PromptError as err:
        assert re.match(r"token \d+: ", str(err)), str(err)
        return
    assert parsed.inputs  # a prompt never parses to nothing
    if parsed.target is not None:  # it parsed: it is what serialize writes
        assert np.array_equal(serializer.serialize(parsed.inputs, parsed.target).tokens, tokens)
