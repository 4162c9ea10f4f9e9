"""The semantic video (paper D.5, Table H's 21 labels) drawn from face-mesh points and a person mask.

The paper parses frames with a DINOv2 segmentation network trained on 21 labels; no such model
ships in a wheel, so the labels are drawn from what mediapipe measures: the 478-point face mesh
(with irises) and the selfie segmentation's person mask. What each label is:

=====================  ===========  ====================================================
label                  how          from
=====================  ===========  ====================================================
background             exact        outside the person mask
face                   exact        face-oval polygon of the mesh
upper_lip, lower_lip   exact        outer and inner lip contours of the mesh
sclera                 exact        eye-opening polygon (lids) less the iris
iris                   exact        iris circle (refined points) inside the eye opening
brows                  approximated brow band of the mesh (the mesh outlines a fixed-width band)
pupil                  approximated disc of 0.45 x the iris radius (no pupil point)
lashes                 approximated 1-pixel line along the upper lid
nostrils               approximated ellipses between the subnasale and each ala
teeth                  approximated bright, unsaturated pixels inside the inner lip contour
tongue                 approximated red pixels inside the inner lip contour
other_in_the_mouth     approximated the rest of the mouth opening
ears                   approximated skin-coloured ellipses beside the face oval, in the person mask
neck                   approximated skin-coloured person pixels in a band below the chin
clothes                approximated person pixels lower down or beside the neck, unless hair-coloured
hair                   approximated person pixels above and around the face (incl. headwear), and
                                    ones coloured like the hair beside the face, over the shoulders
beard                  impossible   facial hair is neither a mesh part nor a mask
glasses                impossible   (idem)
headwear               impossible   drawn as hair
accessory              impossible   (idem)
=====================  ===========  ====================================================
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from archon_semantic_magvit import LABEL_INDEX

from archon_prepare_mediapipe import _topology as topo
from archon_prepare_mediapipe._crop import to_crop
from archon_prepare_mediapipe._track import person_masks

__all__ = ["SEMANTIC_SIZE", "EXACT", "APPROXIMATED", "IMPOSSIBLE", "draw_labels", "semantic_step"]

#: Side of the semantic video (archon-semantic-magvit's contract).
SEMANTIC_SIZE = 128
EXACT = ("background", "face", "upper_lip", "lower_lip", "sclera", "iris")
APPROXIMATED = ("brows", "pupil", "lashes", "nostrils", "teeth", "tongue", "other_in_the_mouth", "ears", "neck",
                "clothes", "hair")
IMPOSSIBLE = ("beard", "glasses", "headwear", "accessory")
_SHIFT = 4  # cv2 sub-pixel bits


def _poly(canvas: np.ndarray, pts: np.ndarray, label: str) -> None:
    cv2.fillPoly(canvas, [np.round(pts[:, :2] * (1 << _SHIFT)).astype(np.int32)], LABEL_INDEX[label], cv2.LINE_8, _SHIFT)


def _mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts[:, :2] * (1 << _SHIFT)).astype(np.int32)], 1, cv2.LINE_8, _SHIFT)
    return m.astype(bool)


def _disc(shape: tuple[int, int], centre: np.ndarray, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]] + 0.5
    return (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius ** 2


def _like(image: np.ndarray, region: np.ndarray, *, tolerance: float = 20.0) -> np.ndarray:
    """Pixels whose colour (CIELAB) is within `tolerance` of the median colour of `region`."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    if not region.any():
        return np.zeros(region.shape, bool)
    ref = np.median(lab[region], axis=0)
    return np.linalg.norm(lab - ref, axis=-1) < tolerance


def draw_labels(points: np.ndarray, person: np.ndarray, image: np.ndarray) -> np.ndarray:
    """One frame's label map (see the module docstring).

    Args:
        points: `(478, 3)` face-mesh points in this map's pixel coordinates.
        person: `(S, S)` bool person mask.
        image: `(S, S, 3)` uint8 RGB frame at the same size (colours inside the mouth).

    Returns:
        `(S, S)` uint8 label ids of Table H.
    """
    shape = person.shape
    out = np.zeros(shape, np.uint8)
    p = points
    chin, top = p[topo.CHIN], p[topo.FOREHEAD]
    oval = p[topo.FACE_OVAL]
    face_h = max(chin[1] - top[1], 1.0)
    face_w = max(oval[:, 0].max() - oval[:, 0].min(), 1.0)
    yy, xx = np.mgrid[: shape[0], : shape[1]] + 0.5
    skin = _like(image, _mask(shape, oval))
    below = yy > chin[1] - 0.05 * face_h
    neck_band = below & (np.abs(xx - chin[0]) < 0.32 * face_w) & (yy < chin[1] + 0.55 * face_h)
    out[person] = LABEL_INDEX["hair"]  # what is left of the person above the shoulders: hair (or headwear)
    lower = person & below & ((~neck_band & (yy > chin[1] + 0.15 * face_h)) | (yy >= chin[1] + 0.55 * face_h))
    # hair's colour: the person beside the face between brows and chin, where it is not skin
    sides = person & ~_mask(shape, oval) & ~skin & (yy > p[topo.RIGHT_BROW + topo.LEFT_BROW, 1].min()) & (yy < chin[1]) \
        & (np.abs(xx - chin[0]) < 0.8 * face_w)
    hairlike = _like(image, sides) if sides.sum() > 10 else np.zeros(shape, bool)
    out[lower & ~hairlike] = LABEL_INDEX["clothes"]  # hair over the shoulders stays hair
    out[person & neck_band & skin] = LABEL_INDEX["neck"]  # long hair over the neck stays hair
    for side, sign in ((topo.RIGHT_CHEEK, -1.0), (topo.LEFT_CHEEK, 1.0)):
        centre = p[side, :2] + np.array([sign * 0.04 * face_w, 0.05 * face_h])
        ear = ((xx - centre[0]) / (0.07 * face_w)) ** 2 + ((yy - centre[1]) / (0.14 * face_h)) ** 2 <= 1
        out[ear & person & skin] = LABEL_INDEX["ears"]
    _poly(out, oval, "face")
    _poly(out, p[topo.RIGHT_BROW], "brows")
    _poly(out, p[topo.LEFT_BROW], "brows")
    for eye, iris, lid in ((topo.RIGHT_EYE, topo.RIGHT_IRIS, topo.RIGHT_UPPER_LID), (topo.LEFT_EYE, topo.LEFT_IRIS, topo.LEFT_UPPER_LID)):
        opening = _mask(shape, p[eye])
        out[opening] = LABEL_INDEX["sclera"]
        centre = p[iris[0], :2]
        radius = float(np.mean(np.linalg.norm(p[iris[1:], :2] - centre, axis=1)))
        out[opening & _disc(shape, centre, radius)] = LABEL_INDEX["iris"]
        out[opening & _disc(shape, centre, 0.45 * radius)] = LABEL_INDEX["pupil"]
        cv2.polylines(out, [np.round(p[lid, :2] * (1 << _SHIFT)).astype(np.int32)], False, LABEL_INDEX["lashes"], 1, cv2.LINE_8, _SHIFT)
    for ala in (topo.RIGHT_ALA, topo.LEFT_ALA):
        centre = 0.4 * p[topo.SUBNASALE, :2] + 0.6 * p[ala, :2]
        axes = (max(0.5, 0.04 * face_w), max(0.5, 0.02 * face_h))
        nostril = ((xx - centre[0]) / axes[0]) ** 2 + ((yy - centre[1]) / axes[1]) ** 2 <= 1
        out[nostril] = LABEL_INDEX["nostrils"]
    _poly(out, p[topo.UPPER_LIP], "upper_lip")
    _poly(out, p[topo.LOWER_LIP], "lower_lip")
    mouth = _mask(shape, p[topo.LIPS_INNER])
    if mouth.any():
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
        hue, sat, val = hsv[..., 0] * 2, hsv[..., 1] / 255, hsv[..., 2] / 255
        out[mouth] = LABEL_INDEX["other_in_the_mouth"]
        red = ((hue < 20) | (hue > 330)) & (sat > 0.35) & (val > 0.25)
        teeth = (sat < 0.3) & (val > 0.55)
        out[mouth & red] = LABEL_INDEX["tongue"]
        out[mouth & teeth] = LABEL_INDEX["teeth"]
    return out


def semantic_step(ctx: Any, work: dict[str, Any]) -> dict[str, Any]:
    """Step `semantic`: the label video `(T, 128, 128)` uint8 over the crop.

    Options: `person_threshold` (0.5) on the selfie segmentation's probability.
    """
    opts = {"person_threshold": 0.5, **ctx.options}
    video = work["video"]
    s = SEMANTIC_SIZE
    small = np.stack([cv2.resize(f, (s, s), interpolation=cv2.INTER_AREA) for f in video])
    prob = person_masks(video)
    person = np.stack([cv2.resize(m, (s, s), interpolation=cv2.INTER_AREA) for m in prob]) > float(opts["person_threshold"])
    points = to_crop(work["landmarks"], work["crop"], s)
    labels = np.stack([draw_labels(points[i], person[i], small[i]) for i in range(len(video))])
    return {"semantic": labels}
