"""The description and script file loaders of manifest ingestion (archon_text_t5._load)."""

from __future__ import annotations

import json

import pytest
from archon_framework import ClipMeta, DataWarning, RawValueError
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_text_t5 import DESCRIPTION_EXAMPLE, TextConfig, canonicalize_description
from archon_text_t5._load import TimedWord, load_description, load_script, read_captions, words_in_clip
from archon_text_t5._plugin import make_modalities

META = ClipMeta(clip_id="c1", duration=2.0, frame_rate=30.0, sample_rate=16000)

# "hello" ends inside the clip, "there" straddles its start, "again" straddles its end,
# "later" starts exactly at its end (excluded), "um" is a zero-length word inside it.
WORDS = [
    {"word": "before", "start": -1.0, "duration": 0.5},
    {"word": "there", "start": -0.2, "duration": 0.4},
    {"word": "hello", "start": 0.3, "duration": 0.4},
    {"word": "um", "start": 1.0, "duration": 0.0},
    {"word": "again", "start": 1.8, "duration": 0.5},
    {"word": "later", "start": 2.0, "duration": 0.3},
]
SCRIPT = "there hello um again"


@pytest.fixture(scope="module")
def modalities():
    return {m.name: m for m in make_modalities(TextConfig())}


def test_description_json_loads_canonical_and_validates(tmp_path, modalities):
    raw = canonicalize_description(DESCRIPTION_EXAMPLE)
    raw["appearance"]["gender"] = "  Male "  # normalized to the canonical form
    (tmp_path / "d.json").write_text(json.dumps(raw), encoding="utf-8")
    loaded = load_description(tmp_path / "d.json", META)
    assert loaded == canonicalize_description(DESCRIPTION_EXAMPLE)
    assert modalities["description"].load is load_description
    assert modalities["description"].check_raw(loaded, META) == loaded


def test_descriptions_violating_the_schema_are_refused_naming_file_and_field(tmp_path):
    bad = canonicalize_description(DESCRIPTION_EXAMPLE)
    bad["appearance"]["hair_color"] = 3
    (tmp_path / "type.json").write_text(json.dumps(bad))
    with pytest.raises(RawValueError, match=r"type\.json\): description\.appearance\.hair_color: expected a list"):
        load_description(tmp_path / "type.json", META)
    bad = canonicalize_description(DESCRIPTION_EXAMPLE)
    bad["mood"] = "happy"
    (tmp_path / "key.json").write_text(json.dumps(bad))
    with pytest.warns(DataWarning, match=r"description\.mood: unknown key dropped"):  # as captioners write
        assert "mood" not in load_description(tmp_path / "key.json", META)
    del bad["mood"], bad["environment"]
    (tmp_path / "missing.json").write_text(json.dumps(bad))
    with pytest.warns(DataWarning, match=r"description\.environment: missing, read as unknown"):
        assert load_description(tmp_path / "missing.json", META)["environment"]["time_of_day"] == "unknown"
    (tmp_path / "broken.json").write_text('{"appearance": \n {')
    with pytest.raises(RawValueError, match=r"broken\.json\): not valid JSON \(line 2"):
        load_description(tmp_path / "broken.json", META)
    with pytest.raises(RawValueError, match=r"nope\.json\): cannot read"):
        load_description(tmp_path / "nope.json", META)


@pytest.mark.parametrize(
    "payload",
    [WORDS, {"words": WORDS}, {"segments": [{"words": WORDS[:3]}, {"words": WORDS[3:]}]}],
    ids=["list", "words", "whisper-segments"],
)
def test_json_captions_give_the_words_overlapping_the_clip(tmp_path, modalities, payload):
    (tmp_path / "c.json").write_text(json.dumps(payload))
    assert read_captions(tmp_path / "c.json") == [TimedWord(w["word"], w["start"], w["duration"]) for w in WORDS]
    script = load_script(tmp_path / "c.json", META)
    assert script == SCRIPT
    assert modalities["script"].load is load_script
    assert modalities["script"].check_raw(script, META) == SCRIPT


def test_csv_tsv_srt_and_vtt_captions(tmp_path):
    rows = "\n".join(f"{w['word']},{w['start']},{w['start'] + w['duration']}" for w in WORDS)
    (tmp_path / "c.csv").write_text("Word,Start,End\n" + rows + "\n")
    assert load_script(tmp_path / "c.csv", META) == SCRIPT
    rows = "\n".join(f"{w['word']}\t{w['start']}\t{w['duration']}" for w in WORDS)
    (tmp_path / "c.tsv").write_text("text\tstart\tduration\n" + rows + "\n")
    assert load_script(tmp_path / "c.tsv", META) == SCRIPT
    (tmp_path / "c.srt").write_text(
        "1\n00:00:00,100 --> 00:00:00,500\nGood <i>morning</i>\n\n"
        "2\n00:00:01,900 --> 00:00:02,400\nto you\n\n"
        "3\n00:00:02,000 --> 00:00:02,500\nall\n"
    )
    assert load_script(tmp_path / "c.srt", META) == "Good morning to you"
    (tmp_path / "c.vtt").write_text(
        "WEBVTT\n\n00:00.100 --> 00:00.500\nGood\n\n00:00:01.000 --> 00:00:01.500\nevening\n"
    )
    assert load_script(tmp_path / "c.vtt", META) == "Good evening"


def test_plain_text_is_the_untimed_script(tmp_path):
    (tmp_path / "s.txt").write_text("  Hello\n  world,  again.\n", encoding="utf-8")
    assert load_script(tmp_path / "s.txt", META) == "Hello world, again."


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("a.json", json.dumps([{"word": "hi", "duration": 0.2}]), r"a\.json, word 0\): needs 'start'"),
        ("b.json", json.dumps([{"word": "hi", "start": 0.1}]), r"b\.json, word 0\): needs 'duration' or 'end'"),
        ("c.json", json.dumps([{"word": "", "start": 0.1, "duration": 1}]), r"c\.json, word 0\): needs a non-empty 'word'"),
        ("d.json", json.dumps([{"word": "hi", "start": "soon", "duration": 1}]), r"d\.json, word 0\): 'start' must be a number"),
        ("e.json", json.dumps([{"word": "hi", "start": 1.0, "end": 0.5}]), r"e\.json, word 0\): negative duration"),
        ("f.json", json.dumps({"text": "hello"}), r"f\.json\): expected a list of words"),
        ("g.json", "[{", r"g\.json\): not valid JSON"),
        ("h.csv", "word,begin\nhi,0.1\n", r"h\.csv\): the header needs columns"),
        ("i.csv", "word,start,duration\nhi,0.1,nan\n", r"i\.csv, line 2\): 'duration' must be finite"),
        ("j.srt", "just some text\n", r"j\.srt\): no subtitle cue"),
        ("k.docx", "x", r"k\.docx\): expected word-level captions"),
        ("l.txt", "bell\x07", r"l\.txt\).*control character"),
    ],
)
def test_bad_scripts_are_refused_naming_the_file(tmp_path, name, content, match):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(RawValueError, match=match):
        load_script(tmp_path / name, META)


def test_missing_and_non_utf8_script_files_are_refused(tmp_path):
    with pytest.raises(RawValueError, match=r"gone\.json\): cannot read"):
        load_script(tmp_path / "gone.json", META)
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(RawValueError, match=r"latin\.txt\): not UTF-8"):
        load_script(tmp_path / "latin.txt", META)


_word = st.builds(
    TimedWord,
    text=st.sampled_from(["a", "b", "c", "d"]),
    start=st.floats(-2, 6, allow_nan=False),
    duration=st.one_of(st.just(0.0), st.floats(0, 2, allow_nan=False)),
)


@settings(max_examples=100, deadline=None)
@given(words=st.lists(_word, max_size=12), split=st.floats(0.05, 1.95))
def test_a_clip_split_in_two_keeps_every_word_and_the_order(words, split):
    whole = {i for i, w in enumerate(words) if w.overlaps(0.0, 2.0)}
    first = {i for i, w in enumerate(words) if w.overlaps(0.0, split)}
    second = {i for i, w in enumerate(words) if w.overlaps(split, 2.0)}
    assert first | second == whole  # no word of the clip is lost by splitting it
    assert all(i not in first or i not in second for i in whole if words[i].duration == 0)  # instants: one side
    assert words_in_clip(words, 2.0) == " ".join(words[i].text for i in sorted(whole))  # file order
    assert words_in_clip(words, 2.0 - split, start=split) == " ".join(words[i].text for i in sorted(second))
