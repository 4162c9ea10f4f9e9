"""Render a posed, animated synthetic head into Table H labels and an RGB frame.

The head is a pseudo-3-D model: features sit on an ellipsoid (head coordinates in pixels,
x right, y down, z toward the camera), are rotated by the pose, projected orthographically and
drawn as 2-D shapes back to front (painter's algorithm). Geometry comes only from the raw
modalities (identity, expression, pose) plus the appearance, so semantic and RGB frames are a
function of what the dataset stores.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, UInt8
from scipy.spatial.transform import Rotation

from archon_synthetic_heads._appearance import Appearance
from archon_synthetic_heads._raster import Canvas
from archon_synthetic_heads._contracts import LABEL_INDEX

__all__ = ["IMAGE_SIZE", "SEMANTIC_SIZE", "PX_PER_METRE", "render_frame", "render_clip", "render_labels", "palette"]

IMAGE_SIZE = 256
SEMANTIC_SIZE = 128
#: pixels per metre of head translation at the 256-pixel image scale
PX_PER_METRE = 700.0
_L = LABEL_INDEX
_CLOTHES2, _BRIM, _NUM_MATERIALS = 21, 22, 23
_SHADE_STEPS = 100.0  # shade quantization: 1/100, up to 2.55
_HEAD_CX, _HEAD_CY, _A0, _B0 = 128.0, 102.0, 57.0, 71.0


def palette(app: Appearance) -> np.ndarray:
    """Colour of each material for this person: float32 [materials, 3] in 0..255."""
    skin = app.colour(app.skin_tone)
    hair = app.colour(app.hair_color)
    pal = np.zeros((_NUM_MATERIALS, 3), np.float32)
    pal[_L["background"]] = app.colour(app.background)
    pal[_L["face"]] = pal[_L["neck"]] = pal[_L["ears"]] = skin
    lips = 0.55 * skin + 0.45 * np.array([185, 75, 85])
    pal[_L["upper_lip"]], pal[_L["lower_lip"]] = lips * 0.95, lips
    pal[_L["nostrils"]] = skin * 0.35
    pal[_L["hair"]] = hair
    pal[_L["brows"]] = hair * 0.75 if app.hair_color not in ("gray", "white") else hair * 0.85
    pal[_L["lashes"]] = (35, 28, 28)
    pal[_L["beard"]] = hair * 0.9
    pal[_L["teeth"]] = (240, 236, 222)
    pal[_L["tongue"]] = (196, 88, 96)
    pal[_L["other_in_the_mouth"]] = (72, 22, 28)
    pal[_L["pupil"]] = (12, 10, 10)
    pal[_L["iris"]] = app.colour(app.eye_color)
    pal[_L["sclera"]] = (244, 242, 236)
    pal[_L["clothes"]] = app.colour(app.clothes_color)
    pal[_L["glasses"]] = (30, 30, 36)
    pal[_L["headwear"]] = app.colour(app.clothes_color2)
    pal[_L["accessory"]] = (222, 184, 70)
    pal[_CLOTHES2] = app.colour(app.clothes_color2)
    pal[_BRIM] = app.colour(app.clothes_color2) * 0.8
    return pal


class _Head:
    """Static geometry of one person (from identity and appearance) in head pixels."""

    def __init__(self, app: Appearance):
        idv = np.asarray(app.identity, np.float64)
        g = lambda k: float(idv[k]) if k < len(idv) else 0.0  # noqa: E731
        child = app.age_group == "child"
        scale = 0.9 if child else 1.0
        self.app = app
        self.A = _A0 * scale * (1 + 0.06 * g(0))
        self.B = _B0 * scale * (1 + 0.05 * g(1)) * (0.95 if child else 1.0)
        self.C = 0.85 * self.A
        self.taper = float(np.clip(0.28 - 0.07 * g(2), 0.05, 0.5))
        self.eye_x = (0.37 + 0.04 * g(3)) * self.A
        self.eye_y = (-0.06 + 0.03 * g(12)) * self.B
        self.eye_w = 0.19 * self.A * (1 + 0.1 * g(4))
        self.nose_y = (0.3 + 0.04 * g(5)) * self.B
        self.nose_w = (0.1 + 0.015 * g(6)) * self.A
        self.mouth_y = 0.56 * self.B + 0.3 * (self.nose_y - 0.3 * self.B)
        self.mouth_w = (0.36 + 0.036 * g(7)) * self.A
        self.lip = 1 + 0.2 * g(8)
        self.ear_s = 1 + 0.15 * g(9)
        self.ear_y = (0.04 + 0.05 * g(10)) * self.B
        self.brow_dy = (0.23 + 0.03 * g(11)) * self.B
        self.neck_w = 0.43 * self.A * (1 + 0.1 * g(13))
        self.male = app.gender == "male"


def _draw_body(cv: Canvas, h: _Head, ncx: float, chin_y: float) -> None:
    """Neck, torso with the neckline of the garment, and a necklace."""
    app = h.app
    build = {"slim": 0.92, "average": 1.0, "heavy": 1.1}[app.body_build]
    top = _HEAD_CY + 1.55 * h.B  # shoulder line: the body does not move with the head
    nw = h.neck_w
    reg = cv.rect(ncx, (chin_y + 256) / 2, nw, (256 - chin_y) / 2 + 2, 0.0, _L["neck"])
    if reg is not None:
        shade = 0.72 + 0.2 * np.clip((reg.y + (256 - chin_y) / 2) / 40.0, 0, 1) - 0.12 * np.abs(reg.u) ** 2
        cv.paint(reg, (np.abs(reg.u) <= 1.0) & (np.abs(reg.v) <= 1.0), _L["neck"], shade=shade)
    reg = cv.region(128.0, top + 88.0, 112.0 * build, 88.0)
    if reg is None:
        return
    body = reg.ellipse()
    shade = reg.lambert(ambient=0.7)
    # neckline: round for t-shirt/sweater/hoodie, a V for shirts and jackets
    dx = reg.x + (128.0 - ncx)
    dyt = reg.y + 88.0  # pixels below the shoulder line
    round_cut = (dx / (nw * 1.2)) ** 2 + (dyt / 14.0) ** 2 <= 1.0
    depth = 46.0
    v_cut = (dyt >= -4) & (dyt <= depth) & (np.abs(dx) <= nw * 1.15 * (1 - dyt / depth))
    kind = app.upper_body
    if kind in ("dress_shirt", "jacket"):
        cv.paint(reg, body & ~v_cut, _L["clothes"], shade=shade)
        if kind == "jacket":  # the shirt under the jacket shows in the V
            inner = v_cut & (np.abs(dx) <= nw * 0.8 * (1 - dyt / depth)) & (dyt >= 6)
            cv.paint(reg, body & v_cut & ~inner, _L["clothes"], shade=shade)
            cv.paint(reg, body & inner, _L["clothes"], _CLOTHES2, shade)
        else:  # collar tips in the second colour
            collar = (dyt >= -6) & (dyt <= 14) & (np.abs(dx) >= nw * 1.15 * (1 - dyt / depth)) & (np.abs(dx) <= nw * 1.15 * (1 - dyt / depth) + 10)
            cv.paint(reg, body & collar, _L["clothes"], _CLOTHES2, 1.0)
    else:
        cv.paint(reg, body & ~round_cut, _L["clothes"], shade=shade)
        trim = round_cut & ~((dx / (nw * 1.05)) ** 2 + (dyt / 10.0) ** 2 <= 1.0) & (dyt >= 0)
        if kind == "sweater":
            cv.paint(reg, body & trim, _L["clothes"], _CLOTHES2, shade)
        if kind == "hoodie":
            for side in (-1.0, 1.0):
                cv.paint(reg, body & (np.abs(dx - side * nw * 0.55) <= 1.6) & (dyt >= 10) & (dyt <= 46), _L["clothes"], _CLOTHES2, 1.0)
    if app.accessory == "necklace":
        cv.band(ncx, top + 12.0, nw * 1.25, -16.0, 3.0, 0.0, _L["accessory"])


def _hair_back(cv: Canvas, h: _Head, hx: float, hy: float, roll: float, s: float) -> None:
    """Hair behind the head: a cap of hair, bumpy when curly, hanging when long, a bun on top."""
    style = h.app.hair_style
    if style == "bald":
        return
    A, B = h.A * s, h.B * s
    if style == "long":  # hangs to the shoulders, rounded at the bottom
        reg = cv.region(hx, hy + 0.75 * B, 1.12 * A, 1.0 * B, roll, extent=1.6 * B)
        if reg is not None:
            bottom = 1.0 - 0.25 * reg.u ** 2
            mask = (np.abs(reg.u) <= 0.95 + 0.08 * np.clip(reg.v, 0, 1)) & (reg.v >= -0.8) & (reg.v <= bottom)
            cv.paint(reg, mask, _L["hair"], shade=0.75 + 0.1 * (1 - np.abs(reg.u)))
    rx, ry = (1.22 * A, 1.08 * B) if style == "curly" else (1.1 * A, 1.0 * B)
    reg = cv.region(hx, hy - 0.1 * B, rx, ry, roll, extent=1.12 * max(rx, ry))
    if reg is None:
        return
    r = np.sqrt(reg.u ** 2 + reg.v ** 2)
    if style == "curly":  # bumpy outline
        theta = np.arctan2(reg.v, reg.u)
        r = r / (1.0 + 0.07 * np.sin(11.0 * theta))
    mask = r <= 1.0
    if style != "long":
        mask &= reg.y <= 0.25 * B  # hair stops above the ears' middle
    cv.paint(reg, mask, _L["hair"], shade=reg.lambert(ambient=0.6))
    if style == "bun":
        cv.ellipse(hx + np.sin(roll) * 1.05 * B, hy - np.cos(roll) * 1.05 * B, 0.36 * A, 0.32 * B, roll,
                   _L["hair"], lambert=True)


def _static_layer(h: _Head) -> Canvas:
    """Background, body and neck: the part of a frame that does not move with the head."""
    cv = Canvas(IMAGE_SIZE)
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32) / IMAGE_SIZE
    cv.shade[:] = (1.05 - 0.15 * yy) * (1.0 - 0.25 * ((xx - 0.5) ** 2 + (yy - 0.45) ** 2))  # gradient, vignette
    _draw_body(cv, h, _HEAD_CX, _HEAD_CY + 0.55 * h.B)
    return cv


def render_frame(h: _Head, expr: Float[np.ndarray, " expression"], pose: Float[np.ndarray, "6"],
                 base: Canvas | None = None) -> Canvas:
    """Draw one frame (labels, materials, shade at :data:`IMAGE_SIZE`) over `base` (the static layer)."""
    app = h.app
    cv = (base if base is not None else _static_layer(h)).copy()
    rot = Rotation.from_rotvec(pose[:3]).as_matrix()
    tz = float(pose[5])
    s = 1.0 / max(1.0 - tz / 0.6, 0.05)  # perspective scale: closer is bigger (capped at 20x)
    hx = _HEAD_CX + PX_PER_METRE * float(pose[3])
    hy = _HEAD_CY + PX_PER_METRE * float(pose[4])
    roll = float(np.arctan2(rot[1, 0], rot[0, 0]))
    fx, fy = abs(rot[0, 0]), abs(rot[1, 1])
    A, B = h.A * s, h.B * s

    def proj(x, y, z):
        p = rot @ np.array([x, y, z]) * s
        return hx + p[0], hy + p[1]

    jaw, smile, rnd, press, eye_l, eye_r, brow, furrow, gx, gy = (float(v) for v in expr[:10])
    chin_drop = 0.1 * B * jaw
    # hair behind the head
    _hair_back(cv, h, hx, hy, roll, s)
    # ears, then earrings, then the face over them
    for side in (-1.0, 1.0):
        ex, ey = proj(side * 0.97 * h.A, h.ear_y, -0.2 * h.C)
        reg = cv.ellipse(ex, ey, 0.17 * A * h.ear_s, 0.28 * B * h.ear_s, roll, _L["ears"], lambert=True, ambient=0.65)
        if reg is not None:
            cv.darken(reg, (reg.u - 0.2 * side) ** 2 / 0.3 + reg.v ** 2 / 0.5 <= 1.0, 0.8)
        if app.accessory == "earrings":
            lx, ly = proj(side * 0.97 * h.A, h.ear_y + 0.3 * h.B * h.ear_s, -0.2 * h.C)
            cv.ellipse(lx, ly + 3.0, 3.2, 3.2, 0.0, _L["accessory"], lambert=True)
    fcx, fcy = proj(0.0, 0.0, 0.25 * h.C)
    reg = cv.region(fcx, fcy, A, B, roll, extent=B * 1.15)
    if reg is not None:
        vb = np.where(reg.v > 0, 1.0 + chin_drop / B, 1.0)
        vn = reg.v / vb
        half = np.sqrt(np.clip(1.0 - vn * vn, 0.0, 1.0)) * (1.0 - h.taper * np.clip(vn, 0, 1) ** 2)
        face = (np.abs(vn) <= 1.0) & (np.abs(reg.u) <= half)
        cv.paint(reg, face, _L["face"], shade=reg.lambert(ambient=0.6))
        if app.beard == "beard":
            bx = np.abs(reg.u) <= half * 1.03
            cv.paint(reg, (np.abs(vn) <= 1.05) & bx & (reg.v > 0.42 - 0.3 * reg.u ** 2) & (reg.v > 0.1), _L["beard"],
                     shade=reg.lambert(ambient=0.6))
        if app.age_group == "senior":  # wrinkles: colour only
            for k in (-0.62, -0.55):
                cv.darken(reg, face & (np.abs(reg.v - k - 0.05 * reg.u ** 2) < 0.008) & (np.abs(reg.u) < 0.4), 0.85)
    # front hair (fringe) over the forehead
    if app.hair_style != "bald" and reg is not None:
        line = {"short": -0.55 + 0.3 * reg.u ** 2, "long": -0.5 + 0.32 * (reg.u + 0.25) ** 2,
                "curly": -0.5 + 0.25 * reg.u ** 2 + 0.04 * np.sin(14 * reg.u), "bun": -0.6 + 0.3 * reg.u ** 2}[app.hair_style]
        cv.paint(reg, face & (reg.v < line), _L["hair"], shade=reg.lambert(ambient=0.6))
    # nose: shading only (no label in Table H), then nostrils
    nx, ny = proj(0.0, h.nose_y - 0.15 * h.B, 1.0 * h.C)
    nreg = cv.region(nx, ny, 0.14 * A * fx, 0.28 * B, roll)
    if nreg is not None:
        cv.darken(nreg, nreg.ellipse() & (nreg.u > 0.1), 0.88)
        cv.darken(nreg, nreg.ellipse() & (nreg.v > 0.55), 0.9)
    for side in (-1.0, 1.0):
        sx, sy = proj(side * h.nose_w, h.nose_y, 0.95 * h.C)
        cv.ellipse(sx, sy, 0.045 * A * fx * (1 + 0.1 * h.nose_w / h.A), 0.028 * B, roll - side * 0.3, _L["nostrils"])
    # eyes: sclera, iris, pupil, lashes; brows above
    lash_t = 3.4 if app.long_lashes else 2.4
    for side, close in ((-1.0, eye_l), (1.0, eye_r)):
        ex, ey = proj(side * h.eye_x, h.eye_y, 0.8 * h.C)
        ew = h.eye_w * s * fx
        eh = 0.5 * h.eye_w * s * fy * (1.0 - close)
        ereg = cv.region(ex, ey, ew, max(eh, 0.5), roll, extent=ew + lash_t + 2)
        if ereg is not None:
            un = ereg.x / ew
            prof = np.clip(1.0 - un * un, 0.0, 1.0) ** 0.75
            top, bot = -eh * prof, 0.75 * eh * prof
            inside = (np.abs(un) < 1.0) & (ereg.y >= top) & (ereg.y <= bot)
            cv.paint(ereg, inside, _L["sclera"])
            ir = 0.5 * h.eye_w * s
            icx, icy = gx * 0.45 * ew, gy * 0.3 * 0.5 * h.eye_w * s
            dist2 = (ereg.x - icx) ** 2 + (ereg.y - icy) ** 2
            cv.paint(ereg, inside & (dist2 <= ir * ir), _L["iris"])
            cv.paint(ereg, inside & (dist2 <= (0.42 * ir) ** 2), _L["pupil"])
            cv.darken(ereg, inside & ((ereg.x - icx + 0.3 * ir) ** 2 + (ereg.y - icy + 0.3 * ir) ** 2 <= (0.15 * ir) ** 2), 1.6)
            lashes = (np.abs(un) <= 1.05) & (ereg.y < top) & (ereg.y >= top - lash_t)
            cv.paint(ereg, lashes, _L["lashes"])
        bx, by = proj(side * (h.eye_x - 0.04 * h.A * furrow), h.eye_y - h.brow_dy - brow * 0.07 * h.B + furrow * 0.04 * h.B, 0.82 * h.C)
        thick = (0.055 if h.male else 0.04) * B
        cv.band(bx, by, 1.2 * h.eye_w * s * fx, 0.035 * B * (1 + 0.6 * brow), thick,
                roll + side * 0.12 * furrow, _L["brows"], taper=0.5, side=side)
    # mouth: lips, and the interior (teeth, tongue, other) when open
    mx, my = proj(0.0, h.mouth_y, 0.85 * h.C)
    mw = h.mouth_w * s * fx * (1 + 0.12 * smile - 0.3 * rnd)
    hopen = jaw * 0.3 * B * (1 - 0.6 * press)
    tu, tl = 0.06 * B * h.lip, 0.08 * B * h.lip
    k = 0.06 * B * smile
    my = my + 0.4 * hopen
    if app.beard == "mustache" or app.beard == "beard":
        cv.band(mx, my - 0.3 * hopen - tu - 0.05 * B, mw * 1.1, -0.04 * B, 0.08 * B, roll, _L["beard"])
    mreg = cv.region(mx, my, mw, mw, roll, extent=mw + tu + tl + hopen + abs(k) + 4)
    if mreg is not None:
        u = mreg.x / mw
        inu = np.abs(u) < 1.0
        sq = np.sqrt(np.clip(1.0 - u * u, 0.0, 1.0))
        base = -k * u * u
        top, bot = base - 0.3 * hopen * sq, base + 0.7 * hopen * sq
        up_edge = top - tu * (0.35 + 0.65 * sq) * (1.0 - 0.25 * np.exp(-((u / 0.12) ** 2)))
        lo_edge = bot + tl * (0.35 + 0.65 * sq)
        y = mreg.y
        cv.paint(mreg, inu & (y >= up_edge) & (y < top), _L["upper_lip"], shade=0.95 + 0.1 * (y - up_edge) / tu)
        cv.paint(mreg, inu & (y > bot) & (y <= lo_edge), _L["lower_lip"], shade=1.05 - 0.15 * (y - bot) / tl)
        interior = inu & (y >= top) & (y <= bot) & (hopen > 0.8)
        if interior.any():
            cv.paint(mreg, interior, _L["other_in_the_mouth"])
            cv.paint(mreg, interior & (y >= bot - 0.45 * hopen * sq) & (np.abs(u) < 0.6), _L["tongue"])
            cv.paint(mreg, interior & (y <= top + 0.07 * B) & (np.abs(u) < 0.72), _L["teeth"])
            cv.paint(mreg, interior & (y >= bot - 0.035 * B) & (np.abs(u) < 0.55) & (hopen > 0.18 * B), _L["teeth"])
    # accessories over the face: glasses, headwear
    if app.glasses:
        gt = 2.8
        for side in (-1.0, 1.0):
            ex, ey = proj(side * h.eye_x, h.eye_y, 0.9 * h.C)
            cv.ring(ex, ey, 1.5 * h.eye_w * s * fx, 1.05 * h.eye_w * s, roll, gt, _L["glasses"])
            ox, oy = proj(side * (h.eye_x + 1.5 * h.eye_w * fx), h.eye_y, 0.5 * h.C)
            tx, ty = proj(side * 0.99 * h.A, h.eye_y, 0.0)
            cv.rect((ox + tx) / 2, (oy + ty) / 2, max(abs(tx - ox) / 2, 0.5), gt / 2, roll, _L["glasses"])
        bx, by = proj(0.0, h.eye_y - 0.2 * h.eye_w, 0.95 * h.C)
        cv.rect(bx, by, max(h.eye_x - 1.5 * h.eye_w * fx, 1.0) * s, gt / 2, roll, _L["glasses"])
    if app.headwear != "none":
        reg = cv.region(hx, hy - 0.08 * B, 1.12 * A, 1.06 * B, roll)
        if reg is not None:
            cut = -0.42 if app.headwear == "cap" else -0.3
            crown = reg.ellipse() & (reg.v < cut)
            cv.paint(reg, crown, _L["headwear"], shade=reg.lambert(ambient=0.6))
            if app.headwear == "beanie":
                cv.paint(reg, crown & (reg.v > cut - 0.14), _L["headwear"], _BRIM, reg.lambert(ambient=0.6))
        if app.headwear == "cap":
            cx2, cy2 = proj(0.0, -0.5 * h.B, 1.0 * h.C)
            cv.ellipse(cx2, cy2 + 2.0, 0.95 * A * fx, 0.13 * B, roll, _L["headwear"], _BRIM)
    return cv


def _semantic(cv: Canvas) -> UInt8[np.ndarray, "128 128"]:
    """The frame's labels at :data:`SEMANTIC_SIZE` (nearest: the centre pixel of each block)."""
    step = IMAGE_SIZE // SEMANTIC_SIZE
    return cv.labels[step // 2:: step, step // 2:: step]  # [256, 256] -> [128, 128]


def render_labels(app: Appearance, expression: Float[np.ndarray, "frames expression"],
                  pose: Float[np.ndarray, "frames 6"]) -> UInt8[np.ndarray, "frames 128 128"]:
    """Only the semantic labels of a clip: ``render_clip(...)[0]`` without any RGB work.

    Args:
        app: the person (its ``identity`` is the FLAME shape vector).
        expression: float32 [frames, expression_dim] (the leading 10 components are drawn).
        pose: float32 [frames, 6].

    Returns:
        uint8 [frames, 128, 128], Table H labels.
    """
    head = _Head(app)
    base = _static_layer(head)
    semantic = np.zeros((len(expression), SEMANTIC_SIZE, SEMANTIC_SIZE), np.uint8)
    for f in range(len(expression)):
        semantic[f] = _semantic(render_frame(head, expression[f], pose[f], base))
    return semantic


def render_clip(app: Appearance, expression: Float[np.ndarray, "frames expression"],
                pose: Float[np.ndarray, "frames 6"], *, with_video: bool = True
                ) -> tuple[UInt8[np.ndarray, "frames 128 128"], UInt8[np.ndarray, "rgb_frames 256 256 3"]]:
    """Semantic labels and RGB video of a clip.

    Args:
        app: the person.
        expression: float32 [frames, expression_dim].
        pose: float32 [frames, 6].
        with_video: False renders RGB for the first frame only (returned as one frame).

    Returns:
        (semantic uint8 [frames, 128, 128], video uint8 [frames or 1, 256, 256, 3]).
    """
    head = _Head(app)
    base = _static_layer(head)
    light = 1.0 if app.lighting == "bright" else 0.62
    # colour look-up: (material, shade quantized to 1/100) -> RGB, one gather per pixel
    levels = np.arange(256, dtype=np.float32) / _SHADE_STEPS * light
    lut = np.clip(palette(app)[:, None, :] * levels[None, :, None], 0, 255).astype(np.uint8)  # [materials, 256, 3]
    lut = lut.reshape(-1, 3)
    frames = len(expression)
    semantic = np.zeros((frames, SEMANTIC_SIZE, SEMANTIC_SIZE), np.uint8)
    n_rgb = frames if with_video else min(frames, 1)
    index = np.zeros((n_rgb, IMAGE_SIZE, IMAGE_SIZE), np.uint16)
    for f in range(frames):
        cv = render_frame(head, expression[f], pose[f], base)
        semantic[f] = _semantic(cv)
        if f < n_rgb:
            q = np.minimum(cv.shade * _SHADE_STEPS + 0.5, 255).astype(np.uint16)
            index[f] = cv.material.astype(np.uint16) * 256 + q
    video = lut[index]  # [frames, 256, 256, 3]
    return semantic, video
