"""The Fig. K/L description of a synthetic clip, written from what was really generated.

Appearance fields come from the drawn :class:`Appearance` (all of it is visible in the image);
action fields are measured on the generated motion (blinks counted, head motion ranges, brow
raises, mouth opening), so description <-> image and description <-> animation agree.
Ethnicity is ``unknown``: the generator draws a skin tone, written as a facial feature
(``<tone>_skin_tone``), and does not map skin tones to ethnicities.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from archon_synthetic_heads._appearance import Appearance
from archon_synthetic_heads._contracts import validate_description
from archon_synthetic_heads._motion import Motion, Style

__all__ = ["describe", "blink_frequency", "head_actions"]

_BACKGROUND_TEXT = {
    "light_gray_wall": "plain_light_gray_wall", "beige_wall": "plain_beige_wall",
    "light_blue_wall": "plain_light_blue_wall", "white_wall": "empty_white_wall",
    "dark_gray_wall": "plain_dark_gray_wall", "green_wall": "plain_pale_green_wall",
    "warm_orange_wall": "plain_warm_orange_wall",
}
_COLOUR_TEXT = {"navy": "navy_blue"}
_EYE_TEXT = {"eye_green": "green", "eye_gray": "gray"}
_SKIN_TEXT = {"brown_skin": "brown"}


def blink_frequency(blinks: int, seconds: float) -> str:
    """Blink frequency label from the number of blinks in the clip."""
    rate = blinks / max(seconds, 1e-6)
    if rate == 0:
        return "none"
    return "low" if rate < 0.6 else "medium" if rate < 1.1 else "high"


def head_actions(pose: np.ndarray) -> list[str]:
    """Head-action labels measured on a pose track (float32 [frames, 6])."""
    euler = Rotation.from_rotvec(pose[:, :3]).as_euler("xyz")  # [frames, 3] pitch, yaw, roll
    pitch, yaw, roll = euler[:, 0], euler[:, 1], euler[:, 2]
    out = []
    if np.ptp(yaw) > 0.25:
        out += ["turns_side_to_side", "directional_changes_yaw"]
    if np.std(np.diff(pitch)) > 0.012 and np.ptp(pitch) > 0.08:
        out.append("nods_rhythmically")
    if np.abs(roll[len(roll) // 2:]).mean() > 0.08:
        out.append("tilts_inquisitively")
    if not out:
        out = ["mostly_centered", "still"]
    return out


def describe(app: Appearance, style: Style, motion: Motion, *, seconds: float) -> dict:
    """The description dict of a clip, valid under the text plugin's schema (Fig. L).

    Raises:
        RawValueError: never for generated clips; the text plugin's validator is the judge.
    """
    features = [f"{_SKIN_TEXT.get(app.skin_tone, app.skin_tone)}_skin_tone"]
    if app.glasses:
        features.append("glasses")
    if app.beard == "beard":
        features += ["beard", "mustache"]
    elif app.beard == "mustache":
        features.append("mustache")
    features.append("wrinkly_skin" if app.age_group == "senior" else "clean_skin")
    hair_style = {"short": ["short", "straight"], "long": ["long", "straight"], "curly": ["curly", "short"],
                  "bun": ["bun", "tied_up"], "bald": ["bald"]}[app.hair_style]
    hair_color = ["none"] if app.hair_style == "bald" else [app.hair_color]
    accessories = []
    if app.headwear != "none":
        accessories.append({"cap": "baseball_cap", "beanie": "beanie"}[app.headwear])
    if app.accessory != "none":
        accessories.append(app.accessory)
    colours = [_COLOUR_TEXT.get(app.clothes_color, app.clothes_color)]
    if app.upper_body in ("jacket", "dress_shirt", "sweater", "hoodie") or app.headwear != "none":
        colours.append(_COLOUR_TEXT.get(app.clothes_color2, app.clothes_color2))
    upper = {"jacket": ["jacket", "shirt"], "dress_shirt": ["dress_shirt"]}.get(app.upper_body, [app.upper_body])

    expr = motion.expression
    jaw, brow, furrow = expr[:, 0], expr[:, 6], expr[:, 7]
    mouth = ["wide_opening" if jaw.max() > 0.6 else "narrow_opening"]
    if style.mood == "smile":
        mouth.append("pulling_of_lip_corners")
    mouth.append("synchronization_and_precision_with_spoken_words")
    brows = []
    if brow.max() > 0.3:
        brows.append("raising_eyebrows")
    if furrow.max() > 0.3:
        brows.append("brow_furrowing")
    heads = head_actions(motion.pose)
    gaze = float(expr[:, 8].mean())
    gaze_text = ["looking_left"] if gaze < -0.3 else ["looking_right"] if gaze > 0.3 else ["straight_ahead"]
    habits = []
    if (brow > 0.3).sum() >= 2 and brow.max() > 0.3:
        habits.append("habitual_eyebrow_flicks")
    if "nods_rhythmically" in heads:
        habits.append("frequent_micro-nods")
    energy = "low" if style.energy < 0.85 else "medium" if style.energy < 1.15 else "high"
    emotion = {"smile": ["positive_and_engaging"], "neutral": ["calm"], "frown": ["serious", "concerned"]}[style.mood]
    desc = {
        "appearance": {
            "gender": app.gender,
            "age_group": app.age_group,
            "ethnicity": ["unknown"],
            "body_build": [app.body_build],
            "hair_color": hair_color,
            "hair_style": hair_style,
            "eye_color": [_EYE_TEXT.get(app.eye_color, app.eye_color)],
            "eye_style": ["long_eyelashes" if app.long_lashes else "short_eyelashes"],
            "teeth": ["straight"],
            "facial_features": features,
            "clothing": {
                "upper_body": upper,
                "lower_body": ["none"],
                "footwear": "none",
                "accessories": accessories or ["none"],
                "dominant_colors": colours,
            },
            "physical_attributes": {
                "visible_tattoos": "none",
                "visible_piercings": "ear" if app.accessory == "earrings" else "none",
                "distinctive_marks": "none",
                "posture": "upright",
                "gait": "not_applicable",
                "physical_aids": ["glasses"] if app.glasses else ["none"],
            },
        },
        "action": {
            "activity_type": "speaking",
            "expression": {"smile": "smile", "neutral": "neutral", "frown": "frown"}[style.mood],
            "overall_impression": ["speaking_to_the_camera", "head_and_shoulders_shot"],
            "emotion": emotion,
            "energy_level": [energy],
            "mouth_action": mouth,
            "eyebrow_action": brows or ["relaxed_eyebrows"],
            "blink_frequency": blink_frequency(motion.blinks, seconds),
            "head_action": heads,
            "eye_state": ["fully_wide_alert"],
            "gaze_direction": gaze_text,
            "nonverbal_habits": habits or ["none"],
            "interactions": ["none"],
            "props_used": ["none"],
        },
        "environment": {
            "lighting_conditions": app.lighting,
            "background_description": _BACKGROUND_TEXT[app.background],
            "time_of_day": "unknown",
            "weather_conditions": "indoor_not_applicable",
            "scene_context": "indoor",
        },
    }
    return validate_description(desc)
