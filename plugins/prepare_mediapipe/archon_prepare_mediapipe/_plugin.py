"""Entry point of archon-prepare-mediapipe: the steps of `archon data prepare`."""

from __future__ import annotations

from archon_framework import PrepareStep, hookimpl

from archon_prepare_mediapipe._crop import crop_step
from archon_prepare_mediapipe._media import media_step
from archon_prepare_mediapipe._morphable import morphable_step
from archon_prepare_mediapipe._script import script_step
from archon_prepare_mediapipe._semantic import semantic_step
from archon_prepare_mediapipe._track import face_step

__all__ = ["prepare_steps", "archon_prepare_steps"]


def prepare_steps() -> list[PrepareStep]:
    """media -> face -> crop -> semantic, morphable; script (see each step's docstring for options)."""
    return [
        PrepareStep(name="media", produces=("frames", "speech"), run=media_step,
                    description="ffmpeg: frames at the clip rate (upright, constant rate), speech at 16 kHz mono"),
        PrepareStep(name="face", produces=("landmarks", "valid@frames"), requires=("frames",), run=face_step,
                    description="mediapipe face mesh (478 points) tracked per frame; no/several/lost faces"),
        PrepareStep(name="crop", produces=("video", "image@frames", "crop", "crop_raw"), requires=("frames", "landmarks"),
                    run=crop_step, description="head-centred 256 x 256 crop, steady over the clip (paper D.6)"),
        PrepareStep(name="semantic", produces=("semantic",), requires=("video", "landmarks", "crop"), run=semantic_step,
                    description="Table H labels at 128 x 128 from the mesh and selfie segmentation"),
        PrepareStep(name="morphable", produces=("identity", "expression", "pose"), requires=("frames", "landmarks"),
                    run=morphable_step, description="FLAME-like linear morphable model fitted to the tracked points"),
        PrepareStep(name="script", produces=("script", "script@words"), requires=("speech",), run=script_step,
                    description="captions given with the video, else pocketsphinx ASR with word timings"),
    ]


@hookimpl
def archon_prepare_steps() -> list[PrepareStep]:
    """The steps of this plugin."""
    return prepare_steps()
