"""Description schema (Fig. L): validation errors with JSON paths, canonical form."""

from __future__ import annotations

import copy
import json

import pytest
from archon_framework import ClipMeta, RawValueError
from hypothesis import given, settings
from hypothesis import strategies as st

from archon_text_t5 import (
    DESCRIPTION_EXAMPLE,
    DESCRIPTION_SCHEMA,
    STRING,
    STRING_LIST,
    canonicalize_description,
    description_paths,
    validate_description,
)


@pytest.fixture
def desc() -> dict:
    return canonicalize_description(DESCRIPTION_EXAMPLE)


def _err(obj) -> str:
    with pytest.raises(RawValueError) as info:
        validate_description(obj)
    return str(info.value)


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


def test_string_field_given_list(desc):
    desc["appearance"]["gender"] = ["male"]
    assert _err(desc) == "description.appearance.gender: expected a string, got list"


def test_missing_key(desc):
    del desc["environment"]["time_of_day"]
    assert _err(desc) == "description.environment.time_of_day: missing key (expected a string)"


def test_missing_object(desc):
    del desc["action"]
    assert _err(desc) == "description.action: missing key (expected an object)"


def test_unknown_top_level_key(desc):
    desc["audio"] = {}
    assert _err(desc).startswith("description.audio: unknown key; allowed here: appearance, action, environment")


def test_unknown_nested_key(desc):
    desc["appearance"]["clothing"]["hat"] = "cap"
    assert _err(desc).startswith("description.appearance.clothing.hat: unknown key")


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
