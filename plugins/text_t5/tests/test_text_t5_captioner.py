"""Descriptions as a captioner writes them (issue 25, item 3): the paper's own Fig. K output and
a Fig. L-shaped answer validate, canonicalize deterministically and round-trip through the
description tokenizer."""

from __future__ import annotations

import json
import random

import pytest
from archon_framework import ConfigError, DataWarning, RawValueError

from archon_text_t5 import (
    DESCRIPTION_EXAMPLE,
    DescriptionPolicy,
    canonicalize_description,
    description_json,
    make_description_tokenizer,
    parse_description,
    validate_description,
)

# Fig. K of the paper, verbatim: upper_body/lower_body as strings, "context" for scene_context,
# and no eye_color, eye_style or teeth (the Fig. L prompt asks for them).
FIG_K = json.loads("""
{
  "appearance": {
    "gender": "male", "age_group": "adult", "ethnicity": ["caucasian"], "body_build": ["average"],
    "hair_color": ["black"], "hair_style": ["short"], "facial_features": ["none_discernible"],
    "clothing": {
      "upper_body": "button-down_shirt_over_t-shirt", "lower_body": "none", "footwear": "none",
      "accessories": ["watch", "ring", "bracelet"], "dominant_colors": ["black", "blue", "white", "red"]
    },
    "physical_attributes": {
      "visible_tattoos": "none", "visible_piercings": "none", "distinctive_marks": "none",
      "posture": "upright", "gait": "not_applicable", "physical_aids": ["none"]
    }
  },
  "action": {
    "activity_type": "speaking", "expression": "smile",
    "overall_impression": ["gesturing_with_hands_while_speaking", "raising_hands_to_chest_level", "making_a_fist"],
    "emotion": ["positive_and_engaging", "enthusiastic"],
    "energy_level": ["medium_to_high", "animated"],
    "mouth_action": ["wide_opening", "narrow_opening", "relaxed_lips", "pulling_of_lip_corners", "synchronization_and_precision_with_spoken_words"],
    "eyebrow_action": ["raising_inner_eyebrows", "raising_outer_eyebrows", "brow_furrowing"],
    "blink_frequency": "medium",
    "head_action": ["mostly_centered", "tilts_inquisitively", "nods_rhythmically", "amplitude_and_tempo_of_movements", "directional_changes_pitch/yaw/roll", "frequency_of_changes", "transitions_between_stillness_and_motion"],
    "eye_state": ["fully_wide_alert"],
    "gaze_direction": ["straight_ahead", "fixed_forward_focus"],
    "nonverbal_habits": ["habitual_eyebrow_flicks", "frequent_micro-nods", "timing_and_context_of_cues", "consistency_of_cues", "typical_amplitude_subtle_vs_pronounced"],
    "interactions": ["with_object_e.g._microphone/instrument", "none"],
    "props_used": ["microphone", "none"]
  },
  "environment": {
    "lighting_conditions": "bright",
    "background_description": "light_colored_wall_with_a_framed_certificate_and_a_model_of_a_watch_on_a_shelf",
    "time_of_day": "unknown", "weather_conditions": "indoor_not_applicable", "context": "indoor"
  }
}
""")

# An answer shaped like the Fig. L prompt: only the keys it spells out (the rest is "..."),
# with its capitalized key spellings and list-valued clothing.
FIG_L = {
    "appearance": {
        "gender": "female", "age_group": "young_adult", "ethnicity": ["asian"], "body_build": ["slim"],
        "hair_color": ["black"], "hair_style": ["long", "straight"], "eye_color": ["dark_brown"],
        "eye_style": ["long_eyelashes"], "teeth": ["straight"], "facial_features": ["clean_skin"],
        "clothing": {"upper_body": ["blouse"], "lower_body": ["jeans"]},
        "physical_attributes": {"visible_tattoos": "none"},
    },
    "action": {
        "activity_type": "singing", "expression": "smile",
        "overall_impression": ["head_turn_to_the_left"], "emotion": ["animated_and_joyful"],
        "energy_level": ["consistently_low-key"], "Mouth_Action": ["wide_opening"],
        "Eye_brow_Action": ["raising_inner_eyebrows"], "Head_Action": ["nods_rhythmically"],
    },
    "environment": {
        "lighting_conditions": "natural_light", "background_description": "blurred_trees",
        "time_of_day": "afternoon", "weather_conditions": "sunny", "scene_context": "outdoor",
    },
}


@pytest.fixture(scope="module")
def tokenizer():
    return make_description_tokenizer()


def test_fig_k_validates_says_what_it_read_and_round_trips(tokenizer):
    with pytest.warns(DataWarning) as record:
        canonical = validate_description(FIG_K)
    said = str(record[0].message)
    assert "appearance.clothing.upper_body: a string read as a one-item list" in said
    assert "appearance.eye_color: missing, read as unknown" in said
    expected = canonicalize_description(DESCRIPTION_EXAMPLE)
    for key in ("eye_color", "eye_style", "teeth"):  # Fig. K does not give them
        expected["appearance"][key] = ["unknown"]
    expected["appearance"]["clothing"]["lower_body"] = ["none"]
    assert canonical == expected
    ids = tokenizer.encode(canonical)
    assert tokenizer.decode(ids) == canonical  # through the tokens and back
    assert parse_description(description_json(canonical)) == canonical


def test_fig_l_shaped_answer_validates_with_the_elided_keys_unknown(tokenizer):
    with pytest.warns(DataWarning, match="missing, read as unknown"):
        canonical = validate_description(FIG_L)
    assert canonical["action"]["mouth_action"] == ["wide_opening"]
    assert canonical["action"]["eyebrow_action"] == ["raising_inner_eyebrows"]
    assert canonical["appearance"]["clothing"]["footwear"] == "unknown"
    assert canonical["action"]["props_used"] == ["unknown"]
    assert tokenizer.decode(tokenizer.encode(canonical)) == canonical


def test_canonicalization_is_deterministic_whatever_the_key_order(tokenizer):
    rng = random.Random(0)

    def shuffled(node):
        if not isinstance(node, dict):
            return node
        items = list(node.items())
        rng.shuffle(items)
        return {k: shuffled(v) for k, v in items}

    texts = set()
    for _ in range(5):
        with pytest.warns(DataWarning):
            texts.add(description_json(validate_description(shuffled(FIG_K))))
    assert len(texts) == 1  # one form: the LM sees one token sequence
    assert len({tuple(tokenizer.encode(json.loads(t))) for t in texts}) == 1


def test_strict_policy_refuses_fig_k_naming_every_missing_key():
    with pytest.raises(RawValueError) as caught:
        validate_description(FIG_K, policy=DescriptionPolicy(missing="error", unknown_keys="error"))
    message = str(caught.value)
    assert message.startswith("3 problems: ")
    for key in ("eye_color", "eye_style", "teeth"):
        assert f"description.appearance.{key}: missing key" in message


def test_the_plugin_config_sets_the_policy(tmp_path, monkeypatch):
    from archon_text_t5._config import CONFIG_ENV, load_text_config

    (tmp_path / "text.toml").write_text('[description]\nunknown_keys = "keep"\n')
    assert load_text_config(tmp_path / "text.toml")[0].description == DescriptionPolicy(unknown_keys="keep")
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "text.toml"))
    with pytest.warns(DataWarning, match="unknown key kept"):
        out = validate_description({**FIG_K, "camera": "Handheld"})
    assert out["camera"] == "handheld"
    (tmp_path / "bad.toml").write_text('[description]\nunknown_keys = "ignore"\n')
    with pytest.raises(ConfigError, match="unknown_keys"):
        load_text_config(tmp_path / "bad.toml")
