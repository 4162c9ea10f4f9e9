"""Description schema (Fig. L): validation errors with JSON paths, canonical form."""

from __future__ import annotations

import copy
import json
import warnings

import pytest
from archon_framework import ClipMeta, DataWarning, RawValueError
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_text_t5 import (
    DESCRIPTION_EXAMPLE,
    DESCRIPTION_SCHEMA,
    STRING,
    DescriptionPolicy,
    STRING_LIST,
    canonicalize_description,
    description_paths,
    validate_description,
)


@pytest.fixture
def desc() -> dict:
    return canonicalize_description(DESCRIPTION_EXAMPLE)


STRICT = DescriptionPolicy(missing="error", unknown_keys="error")


def _err(obj, policy=None) -> str:
    with pytest.raises(RawValueError) as info:
        validate_description(obj, policy=policy)
    return str(info.value)


def _said(obj, policy=None) -> tuple[dict, str]:
    """The canonical form and the one DataWarning that says what was read leniently."""
    with pytest.warns(DataWarning) as record:
        out = validate_description(obj, policy=policy)
    assert len(record) == 1
    return out, str(record[0].message)


def test_schema_shape():
    assert list(DESCRIPTION_SCHEMA) == ["appearance", "action", "environment"]
    assert DESCRIPTION_SCHEMA["appearance"]["clothing"]["upper_body"] == STRING_LIST
    assert DESCRIPTION_SCHEMA["appearance"]["gender"] == STRING
    assert DESCRIPTION_SCHEMA["environment"]["scene_context"] == STRING
    paths = description_paths()
    assert len(paths) == len(set(paths)) == 40
    assert paths[0] == "appearance.gender" and paths[-1] == "environment.scene_context"
    with pytest.raises(TypeError):
        DESCRIPTION_SCHEMA["appearance"]["gender"] = STRING_LIST  # read-only


def test_example_is_valid_and_canonical(desc):
    assert desc == json.loads(json.dumps(DESCRIPTION_EXAMPLE, default=dict))
    assert canonicalize_description(desc) == desc


def test_wrong_type_names_path(desc):
    desc["appearance"]["hair_color"] = 3
    assert _err(desc) == "description.appearance.hair_color: expected a list of strings, got int"


def test_wrong_item_type_names_index(desc):
    desc["action"]["emotion"] = ["calm", None]
    assert _err(desc) == "description.action.emotion[1]: expected a string, got null"


def test_string_field_given_one_item_list_reads_it_and_says_so(desc):
    desc["appearance"]["gender"] = ["Male"]
    out, said = _said(desc)
    assert out["appearance"]["gender"] == "male" and "appearance.gender: a one-item list read as its string" in said
    desc["appearance"]["gender"] = ["male", "female"]
    assert _err(desc) == "description.appearance.gender: expected a string, got list"


def test_missing_key_reads_as_unknown_or_is_refused(desc):
    del desc["environment"]["time_of_day"]
    out, said = _said(desc)
    assert out["environment"]["time_of_day"] == "unknown"
    assert list(out["environment"]) == list(DESCRIPTION_SCHEMA["environment"])  # one canonical key order
    assert "description.environment.time_of_day: missing, read as unknown" in said
    assert _err(desc, STRICT) == "description.environment.time_of_day: missing key (expected a string)"


def test_missing_object_and_null_read_as_unknown(desc):
    del desc["action"]
    desc["appearance"]["ethnicity"] = None
    out, said = _said(desc)
    assert out["action"]["emotion"] == ["unknown"] and out["action"]["blink_frequency"] == "unknown"
    assert out["appearance"]["ethnicity"] == ["unknown"]
    assert "description.action: missing" in said and "description.appearance.ethnicity: null" in said
    assert "description.action: missing key (expected an object)" in _err(desc, STRICT)


def test_unknown_keys_dropped_kept_or_refused_by_configuration(desc):
    desc["audio"] = {"Music Genre": "Jazz", "instruments": ["Piano", "piano"]}
    desc["appearance"]["clothing"]["hat"] = "Flat cap"
    dropped, said = _said(desc)
    assert "audio" not in dropped and "hat" not in dropped["appearance"]["clothing"]
    assert "description.audio: unknown key dropped" in said and "description.appearance.clothing.hat: unknown key dropped" in said
    assert dropped == canonicalize_description(DESCRIPTION_EXAMPLE)
    kept, said = _said(desc, DescriptionPolicy(unknown_keys="keep"))
    assert list(kept) == ["appearance", "action", "environment", "audio"]  # after the schema's keys
    assert kept["audio"] == {"instruments": ["piano"], "music_genre": "jazz"}
    assert list(kept["appearance"]["clothing"])[-1] == "hat" and kept["appearance"]["clothing"]["hat"] == "flat_cap"
    assert "unknown key kept" in said
    with pytest.warns(DataWarning, match="unknown key kept"):  # kept keys are said each time they are read
        assert canonicalize_description(kept, policy=DescriptionPolicy(unknown_keys="keep")) == kept  # fixed point
    message = _err(desc, STRICT)
    assert "description.audio: unknown key; allowed here: appearance, action, environment" in message
    assert "description.appearance.clothing.hat: unknown key" in message


def test_two_violations_are_both_reported(desc):
    desc["appearance"]["hair_color"] = 3
    desc["action"]["expression"] = "   "
    message = _err(desc)
    assert message.startswith("2 problems: ")
    assert "description.appearance.hair_color: expected a list of strings, got int" in message
    assert "description.action.expression: empty string" in message


def test_a_complete_canonical_description_is_read_without_a_warning(desc):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        assert validate_description(desc) == desc


def test_nested_not_object(desc):
    desc["appearance"]["clothing"] = "suit"
    assert _err(desc) == "description.appearance.clothing: expected an object, got str"


def test_not_an_object():
    assert _err([1]) == "description: expected an object, got list"


def test_empty_values(desc):
    desc["appearance"]["teeth"] = []
    assert "description.appearance.teeth: empty list" in _err(desc)
    desc = canonicalize_description(DESCRIPTION_EXAMPLE)
    desc["action"]["expression"] = "   "
    assert "description.action.expression: empty string" in _err(desc)


def test_control_character(desc):
    desc["action"]["expression"] = "smi\x07le"
    assert "description.action.expression: control character U+0007" in _err(desc)


def test_clip_id_in_error(desc):
    desc["appearance"]["gender"] = 1
    meta = ClipMeta(clip_id="clip7", duration=1.0, frame_rate=30, sample_rate=16000)
    with pytest.raises(RawValueError, match="clip clip7.*description.appearance.gender"):
        validate_description(desc, meta)


def test_duplicate_key_after_normalization(desc):
    desc["appearance"]["Gender"] = "female"
    assert "given twice" in _err(desc)
    desc = canonicalize_description(DESCRIPTION_EXAMPLE)
    desc["Audio"], desc["audio"] = "a", "b"
    assert "description.audio: given twice" in _err(desc, DescriptionPolicy(unknown_keys="keep"))


def test_canonicalization(desc):
    messy = copy.deepcopy(desc)
    messy["environment"] = dict(reversed(list(messy["environment"].items())))  # key order
    messy["environment"]["Context"] = messy["environment"].pop("scene_context")  # Fig. K alias
    messy["action"]["Eye_brow_Action"] = messy["action"].pop("eyebrow_action")  # Fig. L spelling
    messy["appearance"]["hair_style"] = ["  Short ", "short"]  # case, spaces, duplicate
    messy["environment"]["background_description"] = "Light colored  wall\twith a framed certificate"
    out = canonicalize_description(messy)
    assert list(out["environment"]) == list(DESCRIPTION_SCHEMA["environment"])
    assert out["appearance"]["hair_style"] == ["short"]
    assert out["environment"]["scene_context"] == "indoor"
    assert out["environment"]["background_description"] == "light_colored_wall_with_a_framed_certificate"
    assert json.dumps(out) == json.dumps(canonicalize_description(out))


_value = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=12).filter(
    lambda s: s.strip()
)


@settings(max_examples=50, deadline=None)
@given(gender=_value, colors=st.lists(_value, min_size=1, max_size=4))
def test_canonical_is_fixed_point(gender, colors):
    desc = canonicalize_description(DESCRIPTION_EXAMPLE)
    desc["appearance"]["gender"] = gender
    desc["appearance"]["clothing"]["dominant_colors"] = colors
    try:
        once = canonicalize_description(desc)
    except RawValueError:
        return  # e.g. a value that canonicalizes to nothing
    assert canonicalize_description(once) == once
    assert " " not in once["appearance"]["gender"]
