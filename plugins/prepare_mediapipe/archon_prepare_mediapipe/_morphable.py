"""A FLAME-like linear morphable model of the face-mesh points, and its fit to tracked points.

This is *not* FLAME (whose model is licensed and ships in no wheel): it has FLAME's parameter
layout, so archon-flame-rvq's tokenizers take its output with their default `FlameDims`
(identity 100, expression 50, pose 6), but its own geometry:

    X_t  =  (1 / s_t) R_t^T (M + S a + E b_t - t_t)        (478 points, 3-D)

* `M`: the mean shape, the template in `data/template.npz` (mediapipe's mesh of a neutral
  head, normalized: centred on the rigid points, inter-ocular distance 1);
* `S` (identity, 100): smooth whole-face deformations, 2-D Legendre polynomials of the template's
  (x, y) on each axis, orthonormalized after removing similarity motions, by increasing degree;
* `E` (expression, 50): named local motions first, 0 `jaw_open` (the lower face turns about a
  pivot between the ears), 1 `mouth_smile`, 2 `lip_round`, 3 `lip_press`, 4 `eye_close_r`,
  5 `eye_close_l`, 6 `brow_raise`, 7 `brow_furrow`, then Gaussian-windowed polynomial fields
  around the mouth, the eyes and the brows; orthonormalized in that order against similarity
  motions, each scaled to a largest displacement of 0.1 inter-ocular distances per unit;
* pose: the per-frame similarity (R_t, s_t, t_t), stored as the head's axis-angle rotation (3)
  and its translation (3): the head centre's x, y offset from the frame centre in frame widths
  and the log of its inter-ocular distance in frame widths.

Fit (per clip): a similarity per frame on the rigid points (Umeyama), then alternating ridge
least squares: the identity `a` constant over the clip, the expressions `b_t` per frame; the
pose is re-estimated against the fitted shapes and the coefficients refitted once more.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import cv2
import numpy as np
from numpy.polynomial import legendre
from threadpoolctl import threadpool_limits

from archon_prepare_mediapipe import _topology as topo

__all__ = ["EXPRESSION_NAMES", "MorphableModel", "load_model", "umeyama", "fit_sequence", "morphable_step"]

EXPRESSION_NAMES = ("jaw_open", "mouth_smile", "lip_round", "lip_press", "eye_close_r", "eye_close_l",
                    "brow_raise", "brow_furrow")
_MESH = 468  # the iris points (468..477) ride on the eyes and are left out of the model


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity `(s, R, t)` minimizing |s R src + t - dst|^2 over points `(N, 3)` (Umeyama 1991)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2] = -1
    r = u @ np.diag(d) @ vt
    s = float((sig * d).sum() / max((a ** 2).sum() / len(src), 1e-12))
    return s, r, mu_d - s * r @ mu_s


def _similarity_fields(m: np.ndarray) -> np.ndarray:
    """Tangent fields of translation, rotation and scale at the mean shape: `(7, N*3)`."""
    fields = [np.tile(np.eye(3)[i], (len(m), 1)) for i in range(3)]
    fields += [np.cross(np.eye(3)[i], m) for i in range(3)]
    fields.append(m.copy())
    return np.stack([f.ravel() for f in fields])


def _orthonormal(fields: np.ndarray, against: np.ndarray, count: int) -> np.ndarray:
    q_against, _ = np.linalg.qr(against.T)
    f = fields.T - q_against @ (q_against.T @ fields.T)
    out = []
    for col in f.T:  # Gram-Schmidt in the given order: the named fields keep their meaning
        for prev in out:
            col = col - prev * (prev @ col)
        norm = np.linalg.norm(col)
        if norm > 1e-6:
            out.append(col / norm)
        if len(out) == count:
            break
    return np.stack(out)


def _window(m: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-((m[:, :2] - centre[:2]) ** 2).sum(1) / (2 * sigma ** 2))


def _expression_fields(m: np.ndarray) -> np.ndarray:
    n = len(m)
    mouth = m[topo.LIPS_OUTER].mean(0)
    corner_y = m[[61, 291], 1].mean()
    fields = []
    # 0 jaw_open: points below the mouth corners turn about a pivot between the ears
    pivot = np.array([0.0, m[[topo.RIGHT_CHEEK, topo.LEFT_CHEEK], 1].mean(), m[:, 2].max()])
    w = np.clip((m[:, 1] - corner_y) / 0.25 + 0.5, 0, 1)
    w[topo.LOWER_LIP] = 1.0
    w[[78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]] = 1.0
    w[[191, 80, 81, 82, 13, 312, 311, 310, 415, 185, 40, 39, 37, 0, 267, 269, 270, 409]] = 0.0
    rel = m - pivot
    fields.append(w[:, None] * np.stack([np.zeros(n), -rel[:, 2], rel[:, 1]], 1))  # chin down (y down)
    # 1 mouth_smile: corners out and up
    g = np.maximum(_window(m, m[61], 0.25), _window(m, m[291], 0.25))
    fields.append(g[:, None] * np.stack([np.sign(m[:, 0] - mouth[0]), -0.6 * np.ones(n), np.zeros(n)], 1))
    # 2 lip_round: lips towards the mouth centre and forward
    g = _window(m, mouth, 0.35)
    fields.append(g[:, None] * np.stack([-(m[:, 0] - mouth[0]), np.zeros(n), -0.5 * np.ones(n)], 1))
    # 3 lip_press: upper lip down, lower lip up
    g = _window(m, mouth, 0.3)
    fields.append(g[:, None] * np.stack([np.zeros(n), -np.sign(m[:, 1] - mouth[1]), np.zeros(n)], 1))
    # 4, 5 eye_close: upper lids down towards the lower lids
    for lid, eye in ((topo.RIGHT_UPPER_LID, topo.RIGHT_EYE), (topo.LEFT_UPPER_LID, topo.LEFT_EYE)):
        f = np.zeros((n, 3))
        f[lid, 1] = 1.0
        f[lid[1:-1], 1] = 1.0
        centre = m[eye].mean(0)
        f[:, 1] += 0.3 * _window(m, centre - [0, 0.12, 0], 0.12) * (m[:, 1] < centre[1])
        fields.append(f)
    # 6 brow_raise, 7 brow_furrow
    brows = m[topo.RIGHT_BROW + topo.LEFT_BROW].mean(0)
    g = np.maximum(_window(m, m[topo.RIGHT_BROW].mean(0), 0.3), _window(m, m[topo.LEFT_BROW].mean(0), 0.3))
    fields.append(g[:, None] * np.stack([np.zeros(n), -np.ones(n), np.zeros(n)], 1))
    fields.append(g[:, None] * np.stack([-(m[:, 0] - brows[0]), 0.5 * np.ones(n), np.zeros(n)], 1))
    # generic local fields: windowed monomials around the mouth, the eyes and the brows
    centres = [(mouth, 0.35), (m[topo.RIGHT_EYE].mean(0), 0.2), (m[topo.LEFT_EYE].mean(0), 0.2),
               (m[topo.RIGHT_BROW].mean(0), 0.25), (m[topo.LEFT_BROW].mean(0), 0.25), (m[topo.CHIN], 0.4)]
    for degree in range(3):
        for centre, sigma in centres:
            g = _window(m, centre, sigma)
            dx, dy = (m[:, 0] - centre[0]) / sigma, (m[:, 1] - centre[1]) / sigma
            for mono in [dx ** i * dy ** (degree - i) for i in range(degree + 1)]:
                for axis in range(3):
                    f = np.zeros((n, 3))
                    f[:, axis] = g * mono
                    fields.append(f)
    return np.stack([f.ravel() for f in fields])


def _identity_fields(m: np.ndarray) -> np.ndarray:
    lo, hi = m[:, :2].min(0), m[:, :2].max(0)
    u = 2 * (m[:, :2] - lo) / (hi - lo) - 1
    fields = []
    for degree in range(12):
        for i in range(degree + 1):
            pi = legendre.legval(u[:, 0], np.eye(i + 1)[i]) * legendre.legval(u[:, 1], np.eye(degree - i + 1)[degree - i])
            for axis in range(3):
                f = np.zeros((len(m), 3))
                f[:, axis] = pi
                fields.append(f.ravel())
    return np.stack(fields)


class MorphableModel:
    """The mean shape and the identity and expression bases (see the module docstring)."""

    def __init__(self, mean: np.ndarray, *, identity_dim: int = 100, expression_dim: int = 50) -> None:
        self.mean = np.asarray(mean, np.float64)[:_MESH]
        sim = _similarity_fields(self.mean)
        self.expression = _orthonormal(_expression_fields(self.mean), sim, expression_dim)
        self.identity = _orthonormal(_identity_fields(self.mean), sim, identity_dim)
        if len(self.expression) < expression_dim or len(self.identity) < identity_dim:
            raise ValueError(f"the template spans {len(self.identity)} identity / {len(self.expression)} expression fields")
        # unit coefficient = largest displacement 0.1 (expression) / 0.05 (identity) inter-ocular distances
        self.expression *= (0.1 / np.abs(self.expression).max(1))[:, None]
        self.identity *= (0.05 / np.abs(self.identity).max(1))[:, None]

    def shapes(self, identity: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """Model points `(T, 468, 3)` in template space for `identity (I,)` and `expression (T, E)`."""
        flat = self.mean.ravel() + identity @ self.identity + expression @ self.expression
        return flat.reshape(len(expression), _MESH, 3)


def _one_blas_thread(fn):
    """Small matrices: one BLAS thread is ~50x faster than several fighting over shared cores."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper


@functools.cache
@_one_blas_thread
def load_model(identity_dim: int = 100, expression_dim: int = 50) -> MorphableModel:
    """The model over the shipped template (`data/template.npz`)."""
    with resources.files("archon_prepare_mediapipe").joinpath("data/template.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as npz:
            mean = npz["mean"]
    return MorphableModel(mean, identity_dim=identity_dim, expression_dim=expression_dim)


def _ridge(basis: np.ndarray, target: np.ndarray, lam: float) -> np.ndarray:
    gram = basis @ basis.T + lam * np.eye(len(basis))
    return np.linalg.solve(gram, basis @ target.T).T


@_one_blas_thread
def fit_sequence(model: MorphableModel, points: np.ndarray, *, frame_size: tuple[int, int],
                 identity_reg: float = 1.0, expression_reg: float = 0.1, iterations: int = 4) -> dict[str, np.ndarray]:
    """Fit identity, per-frame expression and pose to tracked points `(T, >=468, 3)` in pixels.

    Returns:
        `identity (I,)`, `expression (T, E)`, `pose (T, 6)` float32 and `residual (T,)`, the
        RMS point error in inter-ocular distances.
    """
    x = np.asarray(points, np.float64)[:, :_MESH]
    t = len(x)
    sims = [umeyama(x[i, topo.RIGID], model.mean[topo.RIGID]) for i in range(t)]
    alpha = np.zeros(len(model.identity))
    beta = np.zeros((t, len(model.expression)))
    for outer in range(2):
        aligned = np.stack([s * x[i] @ r.T + tr for i, (s, r, tr) in enumerate(sims)])
        d = aligned.reshape(t, -1) - model.mean.ravel()
        for _ in range(iterations):
            beta = _ridge(model.expression, d - alpha @ model.identity, expression_reg)
            alpha = _ridge(model.identity, (d - beta @ model.expression).mean(0, keepdims=True), identity_reg / t)[0]
        if outer == 0:
            fitted = model.shapes(alpha, beta)
            sims = [umeyama(x[i], fitted[i]) for i in range(t)]
    resid = np.sqrt(((aligned.reshape(t, -1) - model.shapes(alpha, beta).reshape(t, -1)) ** 2).reshape(t, -1, 3).sum(-1).mean(-1))
    w, h = frame_size
    pose = np.zeros((t, 6))
    for i, (s, r, tr) in enumerate(sims):
        head = r.T  # template -> camera rotation
        pose[i, :3] = cv2.Rodrigues(head)[0].ravel()
        centre = head @ (-tr) / s  # the template origin in pixels
        pose[i, 3] = (centre[0] - w / 2) / w
        pose[i, 4] = (centre[1] - h / 2) / w
        pose[i, 5] = np.log(1.0 / (s * w))
    return {"identity": alpha.astype(np.float32), "expression": beta.astype(np.float32),
            "pose": pose.astype(np.float32), "residual": resid.astype(np.float32)}


def morphable_step(ctx: Any, work: dict[str, Any]) -> dict[str, Any]:
    """Step `morphable`: `identity`, `expression`, `pose` fitted to the tracked points.

    Options: `identity_dim` (100), `expression_dim` (50) (set archon-flame-rvq's `FlameDims`
    alike), `identity_reg` (1.0), `expression_reg` (0.1).
    """
    opts = {"identity_dim": 100, "expression_dim": 50, "identity_reg": 1.0, "expression_reg": 0.1, **ctx.options}
    model = load_model(int(opts["identity_dim"]), int(opts["expression_dim"]))
    frames = work["frames"]
    fit = fit_sequence(model, work["landmarks"], frame_size=(frames.shape[2], frames.shape[1]),
                       identity_reg=float(opts["identity_reg"]), expression_reg=float(opts["expression_reg"]))
    return {"identity": fit["identity"], "expression": fit["expression"], "pose": fit["pose"]}
