"""SentencePiece codec, script and description tokenizers: round trips, bad input, conformance."""

from __future__ import annotations

import json

import numpy as np
import pytest
from archon_framework import ClipMeta, ConfigError, DataError, RawValueError, VocabError
from archon_framework.testing import check_modality, check_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_text_t5 import (
    DEFAULT_MODEL_FILE,
    DESCRIPTION_EXAMPLE,
    SentencePieceText,
    TextConfig,
    UnparsedDescription,
    canonicalize_description,
    description_json,
    make_script_tokenizer,
)
from archon_framework import words_window as window_script
from archon_text_t5._plugin import make_modalities

META = ClipMeta(clip_id="c1", duration=2.0, frame_rate=30.0, sample_rate=16000)


@pytest.fixture(scope="module")
def modalities():
    return {m.name: m for m in make_modalities(TextConfig())}


@pytest.fixture(scope="module")
def script(modalities):
    return modalities["script"].tokenizer(None)


@pytest.fixture(scope="module")
def description(modalities):
    return modalities["description"].tokenizer(None)


def test_default_vocabulary(script, description):
    assert script.vocabulary == description.vocabulary
    assert script.vocabulary.name == "text" and script.vocabulary.size == 2000
    codec = script.codec
    assert (codec.pieces, codec.extra_ids, codec.eos_id, codec.pad_id, codec.unk_id) == (1900, 100, 1, 0, 2)


def test_extra_ids_follow_t5(script):
    codec = script.codec
    assert codec.extra_id(0) == 1999 and codec.extra_id(99) == 1900
    assert codec.id_to_piece(1999) == "<extra_id_0>"
    hello = codec.encode_text("hello")
    ids = np.concatenate([hello, [codec.extra_id(3)]]).astype(np.int32)
    assert codec.decode_text(ids) == "hello<extra_id_3>"
    # literal sentinel text stays text: it cannot forge a sentinel id
    assert codec.extra_id(3) not in codec.encode_text("<extra_id_3>").tolist()
    with pytest.raises(VocabError):
        codec.extra_id(100)


def test_extra_ids_optional():
    codec = SentencePieceText(DEFAULT_MODEL_FILE, extra_ids=0)
    assert codec.vocabulary.size == 1900
    with pytest.raises(VocabError):
        codec.decode_text(np.array([1900]))


def test_conformance(modalities, script, description):
    check_modality(modalities["script"], meta=META, raw="Hello everyone, welcome back!")
    ids = check_tokenizer(
        modalities["script"], script, meta=META, raw="Hello everyone, welcome back!",
        compare=lambda a, b: _eq(a, b),
    )
    assert ids.dtype == np.int32 and ids.size > 0
    check_modality(modalities["description"], meta=META, raw=dict(DESCRIPTION_EXAMPLE))
    check_tokenizer(
        modalities["description"], description, meta=META, raw=dict(DESCRIPTION_EXAMPLE),
        compare=lambda a, b: _eq(canonicalize_description(a), b),
    )


def _eq(a, b):
    if a != b:
        raise AssertionError(f"{a!r} != {b!r}")


def test_script_normalization(script):
    text = "  Hello,\tworld!\n ﬁne ①  Ａ "
    ids = script.encode(text, meta=META)
    assert script.decode(ids, meta=META) == "Hello, world! fine 1 A" == script.normalize_text(text)


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=60))
def test_script_round_trip_up_to_normalization(script, text):
    ids = script.encode(text, meta=META)
    assert ids.dtype == np.int32 and ids.ndim == 1
    assert np.all((ids >= 0) & (ids < script.codec.pieces))  # byte fallback: never an extra id
    assert script.codec.unk_id not in ids.tolist()
    decoded = script.decode(ids, meta=META)
    assert decoded == script.normalize_text(text)
    assert script.normalize_text(decoded) == decoded  # normalization is idempotent here


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8), max_size=8))
def test_script_exact_round_trip_of_plain_ascii(script, words):
    text = " ".join(words)  # printable ASCII, single spaces: normalization changes nothing
    assert script.decode(script.encode(text, meta=META), meta=META) == text


_value = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=15).filter(
    lambda s: s.strip()
)


@settings(max_examples=60, deadline=None)
@given(gender=_value, colors=st.lists(_value, min_size=1, max_size=4), background=_value)
def test_description_round_trip_exact(description, gender, colors, background):
    desc = canonicalize_description(DESCRIPTION_EXAMPLE)
    desc["appearance"]["gender"] = gender
    desc["appearance"]["clothing"]["dominant_colors"] = colors
    desc["environment"]["background_description"] = background
    try:
        canonical = canonicalize_description(desc)
    except RawValueError:
        return
    ids = description.encode(desc, meta=META)
    assert description.decode(ids, meta=META) == canonical
    # equal descriptions give equal tokens, whatever their key order
    shuffled = dict(reversed(list(desc.items())))
    assert np.array_equal(description.encode(shuffled, meta=META), ids)


def test_unparsed_description_is_reported(description):
    ids = description.encode(DESCRIPTION_EXAMPLE, meta=META)
    cut = description.decode(ids[:40], meta=META)
    assert isinstance(cut, UnparsedDescription)
    assert cut.text.startswith('{"appearance":{"gender":"male"') and cut.error.startswith("not JSON")
    broken = canonicalize_description(DESCRIPTION_EXAMPLE)
    broken["appearance"]["gender"] = 5
    text = json.dumps(broken, separators=(",", ":"))
    out = description.decode(description.encode_text(text), meta=META)
    assert isinstance(out, UnparsedDescription) and out.value == broken
    assert "description.appearance.gender: expected a string, got int" in out.error


def test_description_text_is_canonical_json(description):
    text = description.to_text(DESCRIPTION_EXAMPLE)
    assert text == description_json(DESCRIPTION_EXAMPLE)
    assert text.isascii() and " " not in text
    assert description.from_text(text) == canonicalize_description(DESCRIPTION_EXAMPLE)


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"caf\xe9", "text is not valid UTF-8 \\(byte 3"),
        ("abc\udcff", "text is not valid UTF-8 \\(lone surrogate U\\+DCFF"),
        ("hello\x00world", "control character U\\+0000"),
        ("ring\x07", "control character U\\+0007"),
        (42, "expected text \\(str\\), got int"),
    ],
)
def test_script_bad_input(script, raw, match):
    with pytest.raises(RawValueError, match=f"modality 'script' \\(clip 'c1'\\): {match}"):
        script.encode(raw, meta=META)


def test_script_utf8_bytes_accepted(script):
    assert script.decode(script.encode("café".encode(), meta=META), meta=META) == "café"


def test_over_budget_is_refused():
    tok = make_script_tokenizer(None, config=TextConfig(script_max_tokens=8))
    with pytest.raises(RawValueError, match="over the budget of 8.*script_max_tokens"):
        tok.encode("one two three four five six seven eight nine ten", meta=META)
    assert tok.encode("hello", meta=META).size <= 8


def test_description_budget(modalities, description):
    n = description.encode(DESCRIPTION_EXAMPLE, meta=META).size
    assert n <= modalities["description"].max_tokens
    from archon_text_t5 import make_description_tokenizer

    tok = make_description_tokenizer(None, config=TextConfig(description_max_tokens=n - 1))
    with pytest.raises(RawValueError, match=f"{n} tokens, over the budget of {n - 1}"):
        tok.encode(DESCRIPTION_EXAMPLE, meta=META)


def test_decode_refuses_out_of_range(script, description):
    for tok in (script, description):
        with pytest.raises(VocabError, match="local id 2000"):
            tok.decode(np.array([5, 2000]), meta=META)
        with pytest.raises(VocabError, match="local id -1"):
            tok.decode(np.array([-1]), meta=META)


def test_missing_model_file(tmp_path):
    missing = tmp_path / "nope.model"
    with pytest.raises(DataError, match=str(missing)):
        SentencePieceText(missing)


def test_corrupt_model_file(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"this is not a sentencepiece model")
    with pytest.raises(DataError, match=f"{bad}.*corrupt"):
        SentencePieceText(bad)


def test_save_and_load_artifacts(tmp_path, script, description):
    script.save(tmp_path / "script")
    loaded = make_script_tokenizer(tmp_path / "script")
    assert loaded.vocabulary == script.vocabulary
    text = "Thanks for watching, see you soon."
    assert np.array_equal(loaded.encode(text, meta=META), script.encode(text, meta=META))
    with pytest.raises(ConfigError, match="has no text_t5.json"):
        make_script_tokenizer(tmp_path / "empty")


def test_config_file(tmp_path, monkeypatch):
    from archon_text_t5 import load_text_config

    cfg = tmp_path / "text.toml"
    cfg.write_text('spm_model = "m.model"\nextra_ids = 0\nscript_max_tokens = 64\n')
    (tmp_path / "m.model").write_bytes(DEFAULT_MODEL_FILE.read_bytes())
    monkeypatch.setenv("ARCHON_TEXT_T5_CONFIG", str(cfg))
    config, base = load_text_config()
    assert config.model_path(base) == tmp_path / "m.model"
    mods = {m.name: m for m in make_modalities()}
    assert mods["script"].vocabulary.size == 1900 and mods["script"].max_tokens == 64
    cfg.write_text("extra_idz = 3\n")
    with pytest.raises(ConfigError, match="extra_idz"):
        load_text_config()
    monkeypatch.setenv("ARCHON_TEXT_T5_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match="absent.toml"):
        load_text_config()


def test_window_script_splits_words_without_loss():
    text = "one two three four five six"
    past = window_script(text, META, 0.0, 1.0)
    current = window_script(text, META, 1.0, 1.0)
    assert past == "one two three" and current == "four five six"
    assert window_script("", META, 0.0, 1.0) == ""
