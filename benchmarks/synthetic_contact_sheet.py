"""Render a contact sheet of synthetic talking-head clips: RGB frames above colourized labels.

Usage: python benchmarks/synthetic_contact_sheet.py [--clips 4] [--frames 4] [--seed 0]
           [--out docs/images/synthetic_contact_sheet.png]
"""

from __future__ import annotations

import argparse
import colorsys
from pathlib import Path

import numpy as np
from PIL import Image

from archon_synthetic_heads import generate_clip


def label_colours(n: int = 21) -> np.ndarray:
    """A colour per label: the semantic plugin's public palette, or evenly spaced hues."""
    try:
        from archon_semantic_magvit import PALETTE

        return np.asarray(PALETTE, np.uint8)
    except ImportError:
        cols = [colorsys.hsv_to_rgb((i * 0.618) % 1.0, 0.75, 0.95) for i in range(n)]
        out = (np.array(cols) * 255).astype(np.uint8)
        out[0] = 0
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=Path("docs/images/synthetic_contact_sheet.png"))
    args = ap.parse_args()
    colours = label_colours()
    rows = []
    for i in range(args.clips):
        clip = generate_clip(i, seed=args.seed, seconds=args.seconds)
        video, sem = clip["video"], clip["semantic"]
        picks = np.linspace(0, len(video) - 1, args.frames).round().astype(int)
        rgb = np.concatenate([video[f] for f in picks], 1)  # [256, frames*256, 3]
        lab = np.concatenate([np.kron(colours[sem[f]], np.ones((2, 2, 1), np.uint8)) for f in picks], 1)
        rows.append(np.concatenate([rgb, lab], 0))
        print(clip.clip_id, "|", clip["script"], "|", clip["description"]["appearance"]["hair_color"],
              clip["description"]["appearance"]["facial_features"])
    sheet = np.concatenate(rows, 0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
