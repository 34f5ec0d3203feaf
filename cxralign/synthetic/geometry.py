"""Plane geometry of the phantom: polygons in a body frame, the pose that puts them on a detector.

Every structure and lesion is a polygon in the *body frame*, so that anatomy can be described
once, independent of image size and patient positioning:

* ``x`` runs across the image in units of the thoracic half-width; negative ``x`` is image-left,
  which on a frontal radiograph displayed in the conventional orientation is the patient's right.
* ``y`` runs down the image in units of lung height; ``0`` is the lung apices and ``1`` the
  lowest point of the left costophrenic angle.

A :class:`Pose` maps body-frame points to pixel coordinates. Because region boxes and the
rendered image are both produced from the same polygons through the same pose, the ground-truth
boxes agree with what is drawn by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Points = NDArray[np.float64]
"""An ``(N, 2)`` array of ``(x, y)`` points; a polygon when the ring is implicitly closed."""


@dataclass(frozen=True)
class Box:
    """An axis-aligned box ``[x1, x2] x [y1, y2]`` (x = column, y = row for pixel boxes)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def around(cls, points: Points) -> Box:
        lo, hi = points.min(axis=0), points.max(axis=0)
        return cls(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

    def clipped(self, width: float, height: float) -> Box:
        return Box(
            min(max(self.x1, 0.0), width), min(max(self.y1, 0.0), height),
            min(max(self.x2, 0.0), width), min(max(self.y2, 0.0), height),
        )

    def union(self, other: Box) -> Box:
        return Box(
            min(self.x1, other.x1), min(self.y1, other.y1),
            max(self.x2, other.x2), max(self.y2, other.y2),
        )

    def as_polygon(self) -> Points:
        return rectangle(self.x1, self.y1, self.x2, self.y2)


def rectangle(x1: float, y1: float, x2: float, y2: float) -> Points:
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)


def ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 48) -> Points:
    """An ellipse centred at ``(cx, cy)`` with semi-axes ``rx, ry``, rotated by ``angle`` rad."""
    t = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(angle), math.sin(angle)
    return np.column_stack([cx + c * x - s * y, cy + s * x + c * y])


def lobulated(
    rng: np.random.Generator, cx: float, cy: float, r: float, aspect: float, irregularity: float,
) -> Points:
    """A round shape whose radius wanders smoothly by up to ``irregularity`` (lesion outlines).

    Two low harmonics with random phase give lobulation without self-intersection as long as
    ``irregularity`` stays below ~0.4.
    """
    t = np.linspace(0.0, 2.0 * math.pi, 40, endpoint=False)
    wobble = sum(
        rng.uniform(0.0, irregularity) * np.cos(k * t + rng.uniform(0.0, 2.0 * math.pi))
        for k in (2, 3)
    )
    radius = r * (1.0 + wobble - irregularity)
    return np.column_stack([cx + radius * np.cos(t), cy + aspect * radius * np.sin(t)])


def thicken(path: Points, half_width: float) -> Points:
    """The polygon of a polyline drawn with a given half-width (clavicles, ribs, tubes)."""
    tangent = np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    return np.vstack([path + half_width * normal, (path - half_width * normal)[::-1]])


def scaled(poly: Points, factor: float, center: Points | None = None) -> Points:
    """``poly`` scaled by ``factor`` about ``center`` (its vertex mean by default)."""
    c = poly.mean(axis=0) if center is None else center
    return c + factor * (poly - c)


def clip_halfplane(poly: Points, normal: tuple[float, float], offset: float) -> Points:
    """The part of ``poly`` where ``normal . p <= offset`` (one Sutherland-Hodgman pass).

    The subject polygon may be concave; the clip region is a half-plane, so it is convex and the
    classic algorithm is exact. Vectorised: each vertex contributes itself when inside, and the
    crossing point of its outgoing edge when that edge crosses the boundary, in that order.
    """
    if len(poly) == 0:
        return poly
    d = poly @ np.asarray(normal, dtype=np.float64) - offset
    nxt, d_next = np.roll(poly, -1, axis=0), np.roll(d, -1)
    inside = d <= 0.0
    crosses = inside != (d_next <= 0.0)
    denom = np.where(crosses, d - d_next, 1.0)
    crossing = poly + (d / denom)[:, None] * (nxt - poly)
    keep = np.column_stack([inside, crosses]).ravel()
    return np.stack([poly, crossing], axis=1).reshape(-1, 2)[keep]


def clip_rect(
    poly: Points,
    x1: float = -math.inf, y1: float = -math.inf, x2: float = math.inf, y2: float = math.inf,
) -> Points:
    """The part of ``poly`` inside an axis-aligned rectangle (infinite sides allowed)."""
    for normal, offset in (((-1.0, 0.0), -x1), ((1.0, 0.0), x2), ((0.0, -1.0), -y1), ((0.0, 1.0), y2)):
        if math.isfinite(offset):
            poly = clip_halfplane(poly, normal, offset)
    return poly


def contains(poly: Points, points: Points) -> NDArray[np.bool_]:
    """Even-odd point-in-polygon test of many points against one polygon."""
    x, y = points[:, 0:1], points[:, 1:2]
    ax, ay = poly[:, 0], poly[:, 1]
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    straddles = (ay > y) != (by > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = ax + (y - ay) * (bx - ax) / (by - ay)
    return np.count_nonzero(straddles & (x < x_cross), axis=1) % 2 == 1


@dataclass(frozen=True)
class Pose:
    """Where the body frame lands on the detector: scale, shift and a small rotation.

    ``center_x`` is the pixel column of the midline and ``top`` the pixel row of the lung apices
    before rotation; ``half_width`` and ``height`` are pixels per body-frame unit of ``x`` and
    ``y``; ``angle`` (radians) rotates about the image centre, as a patient slightly turned on
    the cassette would appear. ``pixel_spacing`` (mm per pixel) fixes the physical scale, so
    lesion sizes quoted in reports agree with the spacing written to the DICOM file.
    """

    rows: int
    cols: int
    center_x: float
    top: float
    half_width: float
    height: float
    angle: float
    pixel_spacing: float

    @property
    def mm_per_x_unit(self) -> float:
        return self.half_width * self.pixel_spacing

    @property
    def mm_per_y_unit(self) -> float:
        return self.height * self.pixel_spacing

    def to_pixels(self, points: Points, scale: float = 1.0) -> Points:
        """Pixel ``(column, row)`` coordinates; ``scale`` targets a resized copy of the image."""
        px = self.center_x + points[:, 0] * self.half_width
        py = self.top + points[:, 1] * self.height
        ox, oy = self.cols / 2.0, self.rows / 2.0
        c, s = math.cos(self.angle), math.sin(self.angle)
        rx = ox + c * (px - ox) - s * (py - oy)
        ry = oy + s * (px - ox) + c * (py - oy)
        return np.column_stack([rx, ry]) * scale

    def box(self, poly: Points) -> Box:
        """The pixel bounding box of a body-frame polygon, clipped to the image."""
        return Box.around(self.to_pixels(poly)).clipped(self.cols, self.rows)
