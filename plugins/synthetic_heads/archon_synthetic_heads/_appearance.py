"""Random appearance of a synthetic person: attributes, colours, FLAME-like identity and voice.

Every attribute drawn here is visible in the rendered image (or audible in the voice) and is
written into the description, so description <-> image and description <-> voice are learnable.

Identity vector (``float32 [FlameDims.shape]``, standard-normal-like units): the leading
components change the rendered geometry, the rest are zero (the renderer has no geometry for
them). Gender and age shift the means (e.g. wider jaws for men, bigger eyes for children).

==== ================ =====================================================
dim  name             rendered effect (+1 unit)
==== ================ =====================================================
0    face_width       face half-width +6 %
1    face_length      face half-height +5 %
2    jaw_width        less taper of the lower face (wider jaw)
3    eye_spacing      eyes further apart (+0.04 face widths)
4    eye_size         eyes 10 % larger
5    nose_length      nostrils lower (+0.04 face heights)
6    nose_width       nostrils further apart, larger
7    mouth_width      mouth 10 % wider
8    lip_thickness    lips 20 % thicker
9    ear_size         ears 15 % larger
10   ear_height       ears lower (+0.05 face heights)
11   brow_height      brows higher above the eyes
12   eye_height       eyes lower on the face (+0.03 face heights)
13   neck_width       neck 10 % wider
==== ================ =====================================================
"""

from __future__ import annotations

import attrs
import numpy as np

from archon_synthetic_heads._espeak import Voice

__all__ = ["IDENTITY_COMPONENTS", "Appearance", "sample_appearance", "COLOURS"]

#: Names of the identity components that the renderer uses, in vector order.
IDENTITY_COMPONENTS: tuple[str, ...] = (
    "face_width", "face_length", "jaw_width", "eye_spacing", "eye_size", "nose_length",
    "nose_width", "mouth_width", "lip_thickness", "ear_size", "ear_height", "brow_height",
    "eye_height", "neck_width",
)

#: Named colours (sRGB 0..255) used for hair, clothes, eyes, skin and backgrounds.
COLOURS: dict[str, tuple[int, int, int]] = {
    # hair
    "black": (28, 24, 24), "brown": (100, 62, 32), "blonde": (222, 188, 110),
    "red": (170, 66, 30), "gray": (150, 150, 152), "white": (232, 232, 228),
    # clothes (besides black/white/gray/red/brown)
    "blue": (40, 80, 170), "navy": (30, 40, 90), "green": (40, 130, 70), "yellow": (230, 190, 40),
    "purple": (110, 60, 150), "orange": (230, 120, 40), "pink": (230, 130, 170),
    # eyes
    "dark_brown": (70, 40, 20), "light_brown": (140, 90, 45), "light_blue": (110, 160, 210),
    "eye_green": (80, 130, 80), "eye_gray": (120, 130, 140),
    # skin tones
    "light": (246, 214, 190), "fair": (236, 196, 164), "medium": (214, 164, 124),
    "tan": (186, 132, 92), "brown_skin": (142, 96, 64), "dark": (96, 62, 42),
    # backgrounds
    "light_gray_wall": (200, 202, 205), "beige_wall": (222, 208, 180), "light_blue_wall": (170, 200, 225),
    "white_wall": (238, 238, 236), "dark_gray_wall": (70, 72, 78), "green_wall": (150, 185, 150),
    "warm_orange_wall": (225, 170, 120),
}

HAIR_COLOURS = ("black", "brown", "blonde", "red", "gray", "white")
CLOTHES_COLOURS = ("black", "white", "gray", "blue", "navy", "red", "green", "yellow", "purple", "orange", "pink", "brown")
SKIN_TONES = ("light", "fair", "medium", "tan", "brown_skin", "dark")
EYE_COLOURS = ("dark_brown", "light_brown", "light_blue", "eye_green", "eye_gray")
BACKGROUNDS = ("light_gray_wall", "beige_wall", "light_blue_wall", "white_wall", "dark_gray_wall", "green_wall", "warm_orange_wall")
UPPER_BODY = ("t-shirt", "sweater", "dress_shirt", "jacket", "hoodie")
AGE_GROUPS = ("child", "teenager", "young_adult", "adult", "senior")
_AGE_P = (0.08, 0.1, 0.3, 0.37, 0.15)


@attrs.frozen
class Appearance:
    """What a synthetic person looks and sounds like (constant over a clip).

    Stands in for the paper's appearance attributes (Sec. D.1, Fig. K/L) and the FLAME
    identity (Sec. D.4): every field here is both rendered and described.

    The string fields use the description's vocabulary (Fig. K/L); ``*_rgb`` fields are the
    colours the renderer paints.
    """

    gender: str
    age_group: str
    skin_tone: str
    hair_color: str
    hair_style: str  # bald | short | long | curly | bun
    eye_color: str
    long_lashes: bool
    glasses: bool
    beard: str  # none | beard | mustache
    headwear: str  # none | cap | beanie
    accessory: str  # none | earrings | necklace
    upper_body: str
    clothes_color: str
    clothes_color2: str
    background: str
    lighting: str  # bright | dim
    body_build: str
    identity: np.ndarray = attrs.field(eq=False)  # float32 [shape_dim]
    voice: Voice = attrs.field(factory=Voice)

    def colour(self, name: str) -> np.ndarray:
        """RGB float32 [3] of a named colour."""
        return np.asarray(COLOURS[name], np.float32)


def _choice(rng: np.random.Generator, options, p=None):
    return options[int(rng.choice(len(options), p=p))]


def _identity(rng: np.random.Generator, gender: str, age: str, shape_dim: int) -> np.ndarray:
    vec = np.zeros(shape_dim, np.float32)
    lead = rng.normal(0.0, 1.0, len(IDENTITY_COMPONENTS)).clip(-2.5, 2.5)
    male = gender == "male"
    shift = np.zeros(len(IDENTITY_COMPONENTS))
    shift[0] += 0.5 if male else -0.4      # face_width
    shift[2] += 0.8 if male else -0.6      # jaw_width
    shift[13] += 0.8 if male else -0.6     # neck_width
    shift[8] += -0.4 if male else 0.5      # lip_thickness
    if age == "child":
        shift[4] += 1.2                    # big eyes
        shift[1] -= 0.8                    # round face
        shift[5] -= 0.8                    # short nose
    elif age == "senior":
        shift[9] += 0.6                    # ears keep growing
        shift[5] += 0.5
    vec[: len(IDENTITY_COMPONENTS)] = (lead + shift).clip(-3.0, 3.0)
    return vec


def _voice(rng: np.random.Generator, gender: str, age: str) -> Voice:
    """Pitch and voice variant follow gender and age (so face/description <-> voice)."""
    if age == "child":
        return Voice(variant=_choice(rng, ("f1", "f3", "f4")), pitch=int(rng.integers(85, 99)),
                     pitch_range=int(rng.integers(55, 75)), rate=int(rng.integers(150, 172)))
    if gender == "male":
        variant = {"teenager": ("m1", "m3", "m6"), "senior": ("m2", "m4", "m7")}.get(age, ("m1", "m2", "m3", "m5", "m6"))
        pitch = {"teenager": (52, 62), "young_adult": (42, 55), "adult": (36, 50), "senior": (28, 40)}[age]
    else:
        variant = {"teenager": ("f1", "f4"), "senior": ("f2", "f5")}.get(age, ("f1", "f2", "f3", "f4"))
        pitch = {"teenager": (72, 84), "young_adult": (66, 80), "adult": (60, 74), "senior": (52, 64)}[age]
    rate = (140, 160) if age == "senior" else (160, 190)
    return Voice(variant=_choice(rng, variant), pitch=int(rng.integers(*pitch)),
                 pitch_range=int(rng.integers(40, 70)), rate=int(rng.integers(*rate)))


def sample_appearance(rng: np.random.Generator, *, shape_dim: int, p_glasses: float = 0.3,
                      p_beard: float = 0.45, p_headwear: float = 0.12, p_accessory: float = 0.25) -> Appearance:
    """Draw a random person.

    Args:
        rng: the clip's generator (consumed in a fixed order, so clips are reproducible).
        shape_dim: length of the identity vector (``FlameDims.shape``).
        p_glasses, p_beard, p_headwear, p_accessory: probabilities of the optional items
            (beards only for teenage-and-older men).
    """
    gender = _choice(rng, ("male", "female"))
    age = _choice(rng, AGE_GROUPS, p=_AGE_P)
    skin = _choice(rng, SKIN_TONES)
    if age == "senior":
        hair_color = _choice(rng, ("gray", "white", "gray", "brown"))
    elif age in ("child", "teenager"):
        hair_color = _choice(rng, ("black", "brown", "blonde", "red"))
    else:
        hair_color = _choice(rng, ("black", "brown", "blonde", "red", "black", "brown", "gray"))
    if gender == "male":
        styles, p_style = ("short", "curly", "long", "bald"), (0.55, 0.2, 0.1, 0.15)
        if age in ("child", "teenager", "young_adult"):
            p_style = (0.62, 0.25, 0.13, 0.0)
    else:
        styles, p_style = ("long", "short", "curly", "bun"), (0.45, 0.2, 0.2, 0.15)
    hair_style = _choice(rng, styles, p=p_style)
    eye_color = _choice(rng, EYE_COLOURS)
    long_lashes = bool(rng.random() < (0.7 if gender == "female" else 0.25))
    glasses = bool(rng.random() < (p_glasses * (0.5 if age == "child" else 1.0)))
    beard = "none"
    if gender == "male" and age not in ("child",) and rng.random() < p_beard * (0.3 if age == "teenager" else 1.0):
        beard = _choice(rng, ("beard", "beard", "mustache"))
    headwear = _choice(rng, ("cap", "beanie")) if rng.random() < p_headwear else "none"
    accessory = "none"
    if rng.random() < p_accessory:
        accessory = _choice(rng, ("earrings", "necklace"), p=(0.7, 0.3) if gender == "female" else (0.3, 0.7))
    upper = _choice(rng, UPPER_BODY)
    c1 = _choice(rng, CLOTHES_COLOURS)
    c2 = _choice(rng, [c for c in CLOTHES_COLOURS if c != c1])
    background = _choice(rng, BACKGROUNDS)
    lighting = _choice(rng, ("bright", "dim"), p=(0.75, 0.25))
    build = _choice(rng, ("slim", "average", "heavy"), p=(0.3, 0.5, 0.2))
    identity = _identity(rng, gender, age, shape_dim)
    if build == "heavy":
        identity[0] = min(identity[0] + 0.8, 3.0)
    elif build == "slim":
        identity[0] = max(identity[0] - 0.6, -3.0)
    voice = _voice(rng, gender, age)
    return Appearance(
        gender=gender, age_group=age, skin_tone=skin, hair_color=hair_color, hair_style=hair_style,
        eye_color=eye_color, long_lashes=long_lashes, glasses=glasses, beard=beard, headwear=headwear,
        accessory=accessory, upper_body=upper, clothes_color=c1, clothes_color2=c2, background=background,
        lighting=lighting, body_build=build, identity=identity, voice=voice,
    )
