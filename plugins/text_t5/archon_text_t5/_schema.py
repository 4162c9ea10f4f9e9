"""The description schema of the Archon paper (Sec. D.1, Fig. K and Fig. L), its validator and
its canonical form.

The schema is public data (:data:`DESCRIPTION_SCHEMA`): a read-only nested mapping whose leaves
are :data:`STRING` (one string) or :data:`STRING_LIST` (a list of strings) and whose inner nodes
are nested objects. The three top-level objects are ``appearance``, ``action`` and
``environment``.

Decisions where the paper is silent or contradicts itself (Fig. K is an example *output*, Fig. L
is the *prompt*, i.e. the schema; the schema below is the union of both):

* ``appearance.clothing.upper_body`` / ``lower_body``: Fig. L asks for a list, Fig. K shows a
  string. We follow Fig. L (the schema): **list of strings**. ``footwear`` (only in Fig. K) is a
  string, as Fig. K shows it.
* ``environment.scene_context`` (Fig. L and the text of Sec. D.1) is the key; Fig. K's
  ``context`` is accepted as an alias of it. Likewise Fig. L's ``Eye_brow_Action`` spelling is an
  alias of ``eyebrow_action``.
* ``eye_color``, ``eye_style`` and ``teeth`` (only in Fig. L) are lists of strings, as Fig. L
  asks. Fields of Fig. K that Fig. L elides with ``...`` take Fig. K's type.
* Every field is **required** (missing keys are errors; use ``"unknown"``/``"none"`` as the
  paper does). Lists must not be empty for the same reason.
* Unknown keys are errors **at every level**, not only at the top: a fixed key set keeps the
  canonical form (and so the token sequence) well defined, and a generated description with an
  invented key is malformed.
* Keys are matched after key normalization (NFKC, lower-case, spaces and hyphens to
  underscores), so ``"Mouth Action"`` is ``mouth_action``; two keys that normalize to one are an
  error.

Canonical form (:func:`canonicalize_description`): keys in schema order; each value string NFKC
normalized, stripped, lower-cased, with runs of whitespace replaced by one underscore (Fig. L:
"strings with underscores instead of space"); duplicate list items dropped (first occurrence
kept); list order otherwise kept, since it may carry salience (e.g. ``dominant_colors``). Equal
descriptions therefore give equal canonical JSON text and equal tokens, and the canonical form
is a fixed point (canonicalizing it again changes nothing).
"""

from __future__ import annotations

import types
import unicodedata
from collections.abc import Mapping
from typing import Any

from archon_framework import RawValueError

__all__ = [
    "STRING",
    "STRING_LIST",
    "DESCRIPTION_SCHEMA",
    "DESCRIPTION_KEY_ALIASES",
    "DESCRIPTION_EXAMPLE",
    "VALUE_EXAMPLES",
    "description_paths",
    "validate_description",
    "canonicalize_description",
]

STRING = "string"
"""Schema leaf: the field holds one string."""
STRING_LIST = "list_of_strings"
"""Schema leaf: the field holds a non-empty list of strings."""


def _freeze(tree: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(
        {k: _freeze(v) if isinstance(v, Mapping) else v for k, v in tree.items()}
    )


DESCRIPTION_SCHEMA: Mapping[str, Any] = _freeze(
    {
        "appearance": {
            "gender": STRING,
            "age_group": STRING,
            "ethnicity": STRING_LIST,
            "body_build": STRING_LIST,
            "hair_color": STRING_LIST,
            "hair_style": STRING_LIST,
            "eye_color": STRING_LIST,
            "eye_style": STRING_LIST,
            "teeth": STRING_LIST,
            "facial_features": STRING_LIST,
            "clothing": {
                "upper_body": STRING_LIST,
                "lower_body": STRING_LIST,
                "footwear": STRING,
                "accessories": STRING_LIST,
                "dominant_colors": STRING_LIST,
            },
            "physical_attributes": {
                "visible_tattoos": STRING,
                "visible_piercings": STRING,
                "distinctive_marks": STRING,
                "posture": STRING,
                "gait": STRING,
                "physical_aids": STRING_LIST,
            },
        },
        "action": {
            "activity_type": STRING,
            "expression": STRING,
            "overall_impression": STRING_LIST,
            "emotion": STRING_LIST,
            "energy_level": STRING_LIST,
            "mouth_action": STRING_LIST,
            "eyebrow_action": STRING_LIST,
            "blink_frequency": STRING,
            "head_action": STRING_LIST,
            "eye_state": STRING_LIST,
            "gaze_direction": STRING_LIST,
            "nonverbal_habits": STRING_LIST,
            "interactions": STRING_LIST,
            "props_used": STRING_LIST,
        },
        "environment": {
            "lighting_conditions": STRING,
            "background_description": STRING,
            "time_of_day": STRING,
            "weather_conditions": STRING,
            "scene_context": STRING,
        },
    }
)
"""The Fig. L schema (union with Fig. K's fields); see the module docstring for decisions."""

DESCRIPTION_KEY_ALIASES: Mapping[str, str] = types.MappingProxyType(
    {
        "context": "scene_context",  # Fig. K spelling
        "eye_brow_action": "eyebrow_action",  # Fig. L spelling ("Eye_brow_Action")
    }
)
"""Normalized alternative key spellings found in the paper -> schema key."""

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


def description_paths() -> list[str]:
    """Dotted attribute paths of every schema leaf, in schema order.

    Returns:
        e.g. ``["appearance.gender", ..., "environment.scene_context"]``.
    """
    out: list[str] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, sub in node.items():
            if isinstance(sub, Mapping):
                walk(sub, f"{prefix}{key}.")
            else:
                out.append(f"{prefix}{key}")

    walk(DESCRIPTION_SCHEMA, "")
    return out


def _normalize_key(key: str) -> str:
    norm = unicodedata.normalize("NFKC", key).strip().lower()
    norm = "_".join(norm.replace("-", " ").split())
    return DESCRIPTION_KEY_ALIASES.get(norm, norm)


def _canonical_value(value: str) -> str:
    return "_".join(unicodedata.normalize("NFKC", value).lower().split())


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _fail(path: str, message: str, where: str) -> RawValueError:
    return RawValueError(f"{where}{path}: {message}")


def _check_string(value: Any, path: str, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"expected a string, got {_type_name(value)}", where)
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs") and ch not in " \t\n\r":
            raise _fail(
                path, f"control character U+{ord(ch):04X} in {value!r}; remove it", where
            )
    canonical = _canonical_value(value)
    if not canonical:
        raise _fail(path, 'empty string; use "unknown" or "none"', where)
    return canonical


def _walk(obj: Any, schema: Mapping[str, Any], path: str, where: str) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        raise _fail(path, f"expected an object, got {_type_name(obj)}", where)
    resolved: dict[str, tuple[str, Any]] = {}
    for raw_key, value in obj.items():
        if not isinstance(raw_key, str):
            raise _fail(path, f"keys must be strings, got {_type_name(raw_key)}", where)
        key = _normalize_key(raw_key)
        if key not in schema:
            allowed = ", ".join(schema)
            raise _fail(
                f"{path}.{raw_key}", f"unknown key; allowed here: {allowed}", where
            )
        if key in resolved:
            raise _fail(
                f"{path}.{key}",
                f"given twice (as {resolved[key][0]!r} and {raw_key!r})",
                where,
            )
        resolved[key] = (raw_key, value)
    out: dict[str, Any] = {}
    for key, kind in schema.items():  # schema order: the canonical key order
        sub_path = f"{path}.{key}"
        if key not in resolved:
            expected = "an object" if isinstance(kind, Mapping) else (
                "a string" if kind == STRING else "a list of strings"
            )
            raise _fail(sub_path, f"missing key (expected {expected})", where)
        value = resolved[key][1]
        if isinstance(kind, Mapping):
            out[key] = _walk(value, kind, sub_path, where)
        elif kind == STRING:
            out[key] = _check_string(value, sub_path, where)
        else:
            if not isinstance(value, (list, tuple)):
                raise _fail(
                    sub_path, f"expected a list of strings, got {_type_name(value)}", where
                )
            if not value:
                raise _fail(sub_path, 'empty list; use ["unknown"] or ["none"]', where)
            items: list[str] = []
            for i, item in enumerate(value):
                canonical = _check_string(item, f"{sub_path}[{i}]", where)
                if canonical not in items:
                    items.append(canonical)
            out[key] = items
    return out


def _where(meta: Any) -> str:
    clip_id = getattr(meta, "clip_id", None)
    return f"modality 'description' (clip {clip_id}): " if clip_id else ""


def canonicalize_description(obj: Any) -> dict[str, Any]:
    """Return the canonical form of a description (validating it on the way).

    Args:
        obj: a Fig. K style description (nested dicts, strings, lists of strings).

    Returns:
        A new dict: keys in schema order, values NFKC-normalized, lower-case, whitespace runs
        replaced by ``_``, list duplicates dropped. Idempotent.

    Raises:
        RawValueError: as :func:`validate_description`.
    """
    return _walk(obj, DESCRIPTION_SCHEMA, "description", "")


def validate_description(obj: Any, meta: Any = None) -> dict[str, Any]:
    """Check a description against :data:`DESCRIPTION_SCHEMA` and return its canonical form.

    Usable as ``Modality.validate`` (``(value, meta) -> value``).

    Args:
        obj: the description to check.
        meta: optional ``ClipMeta``; its ``clip_id`` is named in errors.

    Returns:
        The canonical form (see :func:`canonicalize_description`).

    Raises:
        RawValueError: missing key, unknown key (at any level), wrong type, empty list or
            string, or a control character, with the JSON path, e.g.
            ``description.appearance.hair_color: expected a list of strings, got int``.
    """
    return _walk(obj, DESCRIPTION_SCHEMA, "description", _where(meta))


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
