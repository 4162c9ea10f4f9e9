"""The 21 semantic labels of the paper's Table H, read column by column (background = 0)."""

from __future__ import annotations

__all__ = ["LABELS", "NUM_LABELS", "LABEL_INDEX"]

#: Table H read column-major: background = 0, face = 1, ..., accessory = 20.
LABELS: tuple[str, ...] = (
    "background", "face", "neck", "ears", "upper_lip", "lower_lip", "nostrils",
    "hair", "brows", "lashes", "beard", "teeth", "tongue", "other_in_the_mouth",
    "pupil", "iris", "sclera", "clothes", "glasses", "headwear", "accessory",
)
NUM_LABELS: int = len(LABELS)
#: name -> label id
LABEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(LABELS)}
