"""Example values of the description schema, from the paper's Fig. K and Fig. L (data only)."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

__all__ = ["VALUE_EXAMPLES", "DESCRIPTION_EXAMPLE"]


def _freeze(tree: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType({k: _freeze(v) if isinstance(v, Mapping) else v for k, v in tree.items()})


VALUE_EXAMPLES: Mapping[str, tuple[str, ...]] = types.MappingProxyType(
    {
        "appearance.gender": ("male", "female", "non-binary", "unknown"),
        "appearance.age_group": (
            "child", "preteen", "teenager", "young_adult", "adult", "older_adult", "senior",
            "unknown",
        ),
        "appearance.ethnicity": (
            "caucasian", "asian", "african_american", "hispanic", "middle-eastern", "unknown",
        ),
        "appearance.body_build": ("slim", "average", "athletic", "muscular", "heavy", "unknown"),
        "appearance.hair_color": (
            "black", "brown", "blonde", "red", "gray", "white", "green", "blue", "pink", "other",
            "unknown",
        ),
        "appearance.hair_style": ("bald", "long", "short", "curly", "straight", "wavy"),
        "appearance.eye_color": ("light_brown", "dark_brown", "light_blue"),
        "appearance.eye_style": ("long_eyelashes", "short_eyelashes"),
        "appearance.teeth": ("straight", "missing_teeth"),
        "appearance.facial_features": (
            "glasses", "beard", "wrinkly_skin", "elastic_skin", "clean_skin", "sideburns",
            "mustache", "freckles", "none_discernible",
        ),
        "appearance.clothing.upper_body": (
            "t-shirt", "dress_shirt", "blouse", "hoodie", "jacket", "sweater", "tank_top",
            "sports_bra", "suit", "tie", "button-down_shirt_over_t-shirt", "none",
        ),
        "appearance.clothing.lower_body": (
            "jeans", "trousers", "skirt", "shorts", "leggings", "sweatpants", "none",
        ),
        "appearance.clothing.footwear": ("none", "sneakers", "boots", "dress_shoes", "sandals"),
        "appearance.clothing.accessories": ("watch", "ring", "bracelet", "necklace", "earrings"),
        "appearance.clothing.dominant_colors": ("black", "blue", "white", "red", "gray", "green"),
        "appearance.physical_attributes.visible_tattoos": (
            "none", "full_sleeve_right_arm", "small_design_neck",
        ),
        "appearance.physical_attributes.visible_piercings": ("none", "ear", "nose"),
        "appearance.physical_attributes.distinctive_marks": ("none", "mole_on_left_cheek"),
        "appearance.physical_attributes.posture": ("upright", "slouched", "leaning_forward"),
        "appearance.physical_attributes.gait": ("not_applicable", "steady", "brisk"),
        "appearance.physical_attributes.physical_aids": ("none", "glasses", "hearing_aid"),
        "action.activity_type": (
            "dancing", "singing", "playing_instrument", "speaking", "acting", "sports",
            "walking", "running", "sitting", "standing", "other",
        ),
        "action.expression": ("smile", "frown", "closed_mouth", "neutral"),
        "action.overall_impression": (
            "gesturing_with_hands_while_speaking", "head_turn_to_the_left",
            "raising_her_left_arm",
        ),
        "action.emotion": ("positive_and_engaging", "enthusiastic", "animated_and_joyful", "calm"),
        "action.energy_level": ("low", "medium", "medium_to_high", "high", "consistently_low-key"),
        "action.mouth_action": (
            "wide_opening", "narrow_opening", "relaxed_lips", "pulling_of_lip_corners",
        ),
        "action.eyebrow_action": (
            "raising_inner_eyebrows", "raising_outer_eyebrows", "brow_furrowing",
        ),
        "action.blink_frequency": ("low", "medium", "high"),
        "action.head_action": ("mostly_centered", "tilts_inquisitively", "nods_rhythmically"),
        "action.eye_state": ("fully_wide_alert", "half_closed", "closed"),
        "action.gaze_direction": ("straight_ahead", "fixed_forward_focus", "looking_left"),
        "action.nonverbal_habits": ("habitual_eyebrow_flicks", "frequent_micro-nods", "none"),
        "action.interactions": ("with_object_e.g._microphone/instrument", "none"),
        "action.props_used": ("microphone", "none"),
        "environment.lighting_conditions": (
            "bright", "dim", "natural_light", "artificial_light", "backlit",
        ),
        "environment.background_description": (
            "blurred_trees", "crowded_street", "empty_white_wall",
        ),
        "environment.time_of_day": ("morning", "afternoon", "evening", "night", "unknown"),
        "environment.weather_conditions": (
            "sunny", "cloudy", "rainy", "snowy", "indoor_not_applicable",
        ),
        "environment.scene_context": (
            "indoor", "outdoor", "stage", "street", "home", "office", "natural_environment",
        ),
    }
)
"""Typical canonical values per attribute path, from Fig. K and Fig. L (inspiration, not a
closed set: any string is valid)."""


# Fig. K, adapted to the schema: upper/lower_body as lists, "context" -> "scene_context", and
# the Fig. L-only fields eye_color, eye_style, teeth added.
DESCRIPTION_EXAMPLE: Mapping[str, Any] = _freeze(
    {
        "appearance": {
            "gender": "male",
            "age_group": "adult",
            "ethnicity": ["caucasian"],
            "body_build": ["average"],
            "hair_color": ["black"],
            "hair_style": ["short"],
            "eye_color": ["dark_brown"],
            "eye_style": ["short_eyelashes"],
            "teeth": ["straight"],
            "facial_features": ["none_discernible"],
            "clothing": {
                "upper_body": ["button-down_shirt_over_t-shirt"],
                "lower_body": ["none"],
                "footwear": "none",
                "accessories": ["watch", "ring", "bracelet"],
                "dominant_colors": ["black", "blue", "white", "red"],
            },
            "physical_attributes": {
                "visible_tattoos": "none",
                "visible_piercings": "none",
                "distinctive_marks": "none",
                "posture": "upright",
                "gait": "not_applicable",
                "physical_aids": ["none"],
            },
        },
        "action": {
            "activity_type": "speaking",
            "expression": "smile",
            "overall_impression": [
                "gesturing_with_hands_while_speaking", "raising_hands_to_chest_level",
                "making_a_fist",
            ],
            "emotion": ["positive_and_engaging", "enthusiastic"],
            "energy_level": ["medium_to_high", "animated"],
            "mouth_action": [
                "wide_opening", "narrow_opening", "relaxed_lips", "pulling_of_lip_corners",
                "synchronization_and_precision_with_spoken_words",
            ],
            "eyebrow_action": [
                "raising_inner_eyebrows", "raising_outer_eyebrows", "brow_furrowing",
            ],
            "blink_frequency": "medium",
            "head_action": [
                "mostly_centered", "tilts_inquisitively", "nods_rhythmically",
                "amplitude_and_tempo_of_movements", "directional_changes_pitch/yaw/roll",
                "frequency_of_changes", "transitions_between_stillness_and_motion",
            ],
            "eye_state": ["fully_wide_alert"],
            "gaze_direction": ["straight_ahead", "fixed_forward_focus"],
            "nonverbal_habits": [
                "habitual_eyebrow_flicks", "frequent_micro-nods", "timing_and_context_of_cues",
                "consistency_of_cues", "typical_amplitude_subtle_vs_pronounced",
            ],
            "interactions": ["with_object_e.g._microphone/instrument", "none"],
            "props_used": ["microphone", "none"],
        },
        "environment": {
            "lighting_conditions": "bright",
            "background_description": (
                "light_colored_wall_with_a_framed_certificate_and_a_model_of_a_watch_on_a_shelf"
            ),
            "time_of_day": "unknown",
            "weather_conditions": "indoor_not_applicable",
            "scene_context": "indoor",
        },
    }
)
"""Fig. K adapted to the schema, in canonical form (read-only; call
:func:`canonicalize_description` on it for a mutable plain dict)."""
