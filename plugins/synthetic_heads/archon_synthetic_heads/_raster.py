"""A tiny vectorized rasterizer: labelled, shaded shapes painted back to front on a canvas.

Each primitive works on the bounding box of its shape only, in local coordinates (centre,
radii, in-plane angle), so a frame of ~40 shapes costs a few milliseconds in numpy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Canvas", "Region", "LIGHT"]

#: Direction of the key light (from the upper left, toward the viewer), unit vector.
LIGHT = np.array([-0.35, -0.45, 0.82]) / np.linalg.norm([-0.35, -0.45, 0.82])


class Region:
    """Pixels of a bounding box in a shape's local frame.

    Attributes:
        sl: (row slice, column slice) of the canvas.
        x, y: pixel-centre offsets from the centre in the rotated local frame (pixels).
        u, v: ``x / rx`` and ``y / ry`` (unit circle = the ellipse of radii rx, ry).
    """

    __slots__ = ("sl", "x", "y", "u", "v")

    def __init__(self, sl, x, y, rx, ry):
        self.sl, self.x, self.y = sl, x, y
        self.u, self.v = x / rx, y / ry

    def ellipse(self) -> np.ndarray:
        """Mask of the unit disc in (u, v)."""
        return self.u * self.u + self.v * self.v <= 1.0

    def lambert(self, *, ambient: float = 0.55) -> np.ndarray:
        """Lambertian shading of the ellipsoid cap over the region (light :data:`LIGHT`)."""
        nz = np.sqrt(np.clip(1.0 - self.u * self.u - self.v * self.v, 0.0, 1.0))
        ndotl = np.clip(LIGHT[0] * self.u + LIGHT[1] * self.v + LIGHT[2] * nz, 0.0, 1.0)
        return ambient + (1.0 - ambient) * ndotl / LIGHT[2]


class Canvas:
    """Label, material and shade buffers of one frame (labels: Table H, paper Sec. D.5).

    ``labels`` holds Table H ids; ``material`` picks the colour (the label id, or an extra
    material >= 21 for a second colour of one label); ``shade`` multiplies the colour.
    """

    def __init__(self, size: int, background_material: int = 0):
        self.size = size
        self.labels = np.zeros((size, size), np.uint8)  # [H, W]
        self.material = np.full((size, size), background_material, np.uint8)  # [H, W]
        self.shade = np.ones((size, size), np.float32)  # [H, W]

    def copy(self) -> Canvas:
        """An independent copy (e.g. of a static background layer)."""
        out = Canvas.__new__(Canvas)
        out.size = self.size
        out.labels, out.material, out.shade = self.labels.copy(), self.material.copy(), self.shade.copy()
        return out

    def region(self, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0,
               extent: float | None = None) -> Region | None:
        """The bounding box (half-size `extent`, default max radius) of a shape, or None if off-canvas."""
        rx, ry = max(float(rx), 1e-3), max(float(ry), 1e-3)
        r = (max(rx, ry) if extent is None else extent) + 1.5
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 2, self.size)
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 2, self.size)
        if x0 >= x1 or y0 >= y1:
            return None
        dx = (np.arange(x0, x1, dtype=np.float32) + 0.5 - cx)[None, :]  # [1, w]
        dy = (np.arange(y0, y1, dtype=np.float32) + 0.5 - cy)[:, None]  # [h, 1]
        c, s = np.cos(angle), np.sin(angle)
        x = c * dx + s * dy  # [h, w] local frame
        y = -s * dx + c * dy  # [h, w]
        return Region((slice(y0, y1), slice(x0, x1)), x, y, rx, ry)

    def paint(self, reg: Region | None, mask: np.ndarray, label: int, material: int | None = None,
              shade: np.ndarray | float = 1.0) -> None:
        """Paint `label` (and its material and shade) where `mask` holds inside `reg`."""
        if reg is None:
            return
        mask = np.broadcast_to(mask, reg.x.shape)
        lab = self.labels[reg.sl]
        lab[mask] = label
        self.material[reg.sl][mask] = label if material is None else material
        sh = self.shade[reg.sl]
        sh[mask] = np.broadcast_to(shade, mask.shape)[mask] if np.ndim(shade) else shade

    def darken(self, reg: Region | None, mask: np.ndarray, factor: np.ndarray | float) -> None:
        """Multiply the shade (colour only, labels untouched) where `mask` holds."""
        if reg is None:
            return
        mask = np.broadcast_to(mask, reg.x.shape)
        sh = self.shade[reg.sl]
        sh[mask] *= np.broadcast_to(factor, mask.shape)[mask] if np.ndim(factor) else factor

    def ellipse(self, cx, cy, rx, ry, angle, label, material=None, *, lambert=False, ambient=0.55) -> Region | None:
        """Paint a filled ellipse; returns its region for follow-up shapes."""
        reg = self.region(cx, cy, rx, ry, angle)
        if reg is not None:
            self.paint(reg, reg.ellipse(), label, material, reg.lambert(ambient=ambient) if lambert else 1.0)
        return reg

    def band(self, cx, cy, half_width, arch, thickness, angle, label, material=None, *,
             taper: float = 0.0, side: float = 1.0) -> None:
        """Paint a curved band: centre line ``y = -arch (1 - u^2)`` for ``|u| <= 1``.

        Args:
            thickness: full thickness in pixels at the thick end.
            taper: fraction of thickness lost toward the ``u = side`` end.
        """
        ext = half_width + abs(arch) + thickness
        reg = self.region(cx, cy, half_width, half_width, angle, extent=ext)
        if reg is None:
            return
        u = reg.u
        centre = -arch * (1.0 - u * u)
        t = thickness * (1.0 - taper * (side * u + 1.0) / 2.0)
        mask = (np.abs(u) <= 1.0) & (np.abs(reg.y - centre) <= t / 2.0)
        self.paint(reg, mask, label, material)

    def ring(self, cx, cy, rx, ry, angle, thickness, label, material=None) -> None:
        """Paint an elliptical ring (outer radii rx, ry) of the given thickness in pixels."""
        reg = self.region(cx, cy, rx, ry, angle)
        if reg is None:
            return
        inner = (reg.x / max(rx - thickness, 0.5)) ** 2 + (reg.y / max(ry - thickness, 0.5)) ** 2 > 1.0
        self.paint(reg, reg.ellipse() & inner, label, material)

    def rect(self, cx, cy, half_w, half_h, angle, label, material=None, *, shade=1.0) -> Region | None:
        """Paint a rotated rectangle."""
        reg = self.region(cx, cy, half_w, half_h, angle, extent=float(np.hypot(half_w, half_h)))
        if reg is not None:
            self.paint(reg, (np.abs(reg.u) <= 1.0) & (np.abs(reg.v) <= 1.0), label, material, shade)
        return reg
