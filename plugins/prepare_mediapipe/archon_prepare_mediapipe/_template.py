"""Rebuild `data/template.npz`, the morphable model's mean shape: `python -m archon_prepare_mediapipe._template`.

The mean of mediapipe's face mesh over the first frames of 16 synthetic_heads clips (seed 0),
each aligned to the first by a similarity on the rigid points, then centred on the rigid
points and scaled to an inter-ocular distance (outer eye corners 33-263) of 1.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from archon_prepare_mediapipe import _topology as topo
from archon_prepare_mediapipe._morphable import umeyama
from archon_prepare_mediapipe._track import track_faces

__all__ = ["normalize", "build_template"]


def normalize(points: np.ndarray) -> np.ndarray:
    """Centre `(N, 3)` points on the rigid points and scale to an inter-ocular distance of 1."""
    centred = points - points[topo.RIGID].mean(0)
    return centred / np.linalg.norm(points[33] - points[263])


def build_template(clips: int = 16) -> np.ndarray:
    """The mean shape `(478, 3)` float32 (see the module docstring)."""
    from archon_synthetic_heads import generate_clip

    shapes = []
    for i in range(clips):
        frame = generate_clip(i, seed=0, seconds=0.2)["video"][:1]
        points, faces = track_faces(frame)
        if faces[0]:
            shapes.append(normalize(points[0].astype(np.float64)))
    ref = shapes[0]
    aligned = []
    for shape in shapes:
        s, r, t = umeyama(shape[topo.RIGID], ref[topo.RIGID])
        aligned.append(s * shape @ r.T + t)
    return normalize(np.mean(aligned, 0)).astype(np.float32)


if __name__ == "__main__":
    out = Path(__file__).parent / "data" / "template.npz"
    out.parent.mkdir(exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, mean=build_template())
    out.write_bytes(buf.getvalue())
    print(f"wrote {out}")
