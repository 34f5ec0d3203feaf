"""The phantom's anatomy: one random but plausible chest, and the 29 Chest ImaGenome regions on it.

Structures are sampled in the body frame of :mod:`cxralign.synthetic.geometry` (patient right on
image-left, as on a PA radiograph). :meth:`Anatomy.regions` gives, for every name in
:data:`cxralign.vocabulary.REGIONS`, the body-frame points whose bounding box *is* that region;
the renderer draws from the same shapes, so the boxes are correct by construction.

Zones follow the radiological convention Chest ImaGenome uses: upper, mid and lower zones are
thirds of each lung's height; the apical zone is the part of the lung above the clavicle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from cxralign.synthetic.geometry import (
    Box,
    Points,
    Pose,
    clip_rect,
    ellipse,
    rectangle,
    thicken,
)
from cxralign.vocabulary import REGIONS

Side = Literal["right", "left"]
Zone = Literal["apical", "upper", "mid", "lower"]

SIDES: Final[tuple[Side, Side]] = ("right", "left")
SIGN: Final[dict[Side, float]] = {"right": -1.0, "left": 1.0}
"""Body-frame ``x`` sign of each patient side: the patient's right is image-left."""

NORMAL_CTR: Final = (0.40, 0.49)
"""Range of the cardiothoracic ratio of a normal heart."""


@dataclass(frozen=True)
class Lung:
    """One lung field: its outline plus the landmarks its zones are cut from."""

    side: Side
    outline: Points
    """Closed ring, starting at the costophrenic angle and running up the lateral border."""
    base: Points
    """The diaphragmatic border, from the costophrenic angle to the cardiophrenic end."""
    bottom: float
    """Body ``y`` of the costophrenic angle, the lowest point of the lung."""
    apical_limit: float
    """Body ``y`` where the clavicle crosses the lung: the lower edge of the apical zone."""

    def zone(self, zone: Zone) -> Points:
        third = self.bottom / 3.0
        limits = {
            "apical": (-math.inf, self.apical_limit),
            "upper": (-math.inf, third),
            "mid": (third, 2.0 * third),
            "lower": (2.0 * third, math.inf),
        }[zone]
        return clip_rect(self.outline, y1=limits[0], y2=limits[1])

    @property
    def costophrenic_angle(self) -> Points:
        """The lateral-inferior corner of the lung and the pleural recess just below it."""
        corner_x, corner_y = self.outline[0]
        inward = -SIGN[self.side] * 0.26
        x_bounds = sorted((corner_x + inward, corner_x - inward))
        corner = clip_rect(self.outline, x1=x_bounds[0], x2=x_bounds[1], y1=corner_y - 0.2)
        recess = rectangle(corner_x - 0.03, corner_y - 0.03, corner_x + 0.03, corner_y + 0.03)
        return np.vstack([corner, recess])

    @property
    def hemidiaphragm(self) -> Points:
        """The dome under the lung: its upper surface and a band of muscle beneath it."""
        return thicken(self.base, 0.035) + np.array([0.0, 0.035])

    @property
    def medial_x(self) -> float:
        return float(self.outline[np.argmin(np.abs(self.outline[:, 0])), 0])


@dataclass(frozen=True)
class Anatomy:
    """A sampled chest. Every field is a body-frame shape or landmark."""

    lungs: dict[Side, Lung]
    heart: Points
    heart_right_border: float
    heart_top: float
    heart_bottom: float
    trachea: Points
    trachea_x: float
    carina_y: float
    hila: dict[Side, tuple[float, float]]
    aortic_knob: Points
    clavicles: dict[Side, Points]
    body: Points
    gastric_bubble: Points

    def regions(self) -> dict[str, Points]:
        """Body-frame point sets for all 29 regions, in :data:`REGIONS` order."""
        shapes: dict[str, Points] = {}
        for side, lung in self.lungs.items():
            shapes[f"{side} lung"] = lung.outline
            for zone in ("upper", "mid", "lower"):
                shapes[f"{side} {zone} lung zone"] = lung.zone(zone)
            shapes[f"{side} apical zone"] = lung.zone("apical")
            shapes[f"{side} costophrenic angle"] = lung.costophrenic_angle
            shapes[f"{side} hemidiaphragm"] = lung.hemidiaphragm
            hx, hy = self.hila[side]
            shapes[f"{side} hilar structures"] = clip_rect(
                lung.outline, x1=hx - 0.12, y1=hy - 0.1, x2=hx + 0.12, y2=hy + 0.1
            )
            shapes[f"{side} clavicle"] = self.clavicles[side]
        right_mediastinal_x = self.lungs["right"].medial_x
        upper_mediastinum = Box.around(np.vstack([
            rectangle(right_mediastinal_x - 0.02, 0.0, -right_mediastinal_x, self.heart_top),
            self.aortic_knob,
        ]))
        cavoatrial = (self.heart_right_border * 0.6, self.heart_top + 0.06)
        heart_width = self.heart[:, 0].max() - self.heart[:, 0].min()
        shapes |= {
            "trachea": self.trachea,
            "spine": rectangle(-0.085, -0.45, 0.085, 1.45),
            "aortic arch": self.aortic_knob,
            "mediastinum": upper_mediastinum.union(Box.around(self.heart)).as_polygon(),
            "upper mediastinum": upper_mediastinum.as_polygon(),
            "svc": rectangle(
                right_mediastinal_x - 0.01, 0.04, right_mediastinal_x + 0.1, cavoatrial[1]
            ),
            "cardiac silhouette": self.heart,
            "cavoatrial junction": rectangle(
                cavoatrial[0] - 0.06, cavoatrial[1] - 0.04, cavoatrial[0] + 0.06, cavoatrial[1] + 0.04
            ),
            "right atrium": clip_rect(
                self.heart,
                x2=self.heart_right_border + 0.35 * heart_width,
                y1=self.heart_top + 0.3 * (self.heart_bottom - self.heart_top),
            ),
            "carina": rectangle(
                self.trachea_x - 0.1, self.carina_y - 0.05, self.trachea_x + 0.1, self.carina_y + 0.05
            ),
            "abdomen": rectangle(
                -0.9, min(lung.base[:, 1].min() for lung in self.lungs.values()), 0.9, 1.5
            ),
        }
        return {name: shapes[name] for name in REGIONS}

    def region_boxes(self, pose: Pose) -> dict[str, Box]:
        return {name: pose.box(points) for name, points in self.regions().items()}


FULL_SIDE: Final = 1280
"""The longest detector side the pose draws before scaling to the requested ``max_side``."""


def sample_pose(rng: np.random.Generator, max_side: int = FULL_SIDE) -> Pose:
    """Detector size and patient placement: mostly portrait, some landscape, slightly turned.
    The same draws at any ``max_side``: the geometry and the physical scale (pixel spacing
    follows the body width in pixels) are those of the full-size image, scaled."""
    long_side = max(1, round(int(rng.integers(768, FULL_SIDE + 1)) * max_side / FULL_SIDE))
    short_side = int(round(long_side * rng.uniform(0.8, 1.0)))
    rows, cols = (long_side, short_side) if rng.random() < 0.8 else (short_side, long_side)
    height = rows * rng.uniform(0.56, 0.68)
    half_width = min(height / rng.uniform(1.55, 1.85), 0.46 * cols)
    return Pose(
        rows=rows,
        cols=cols,
        center_x=cols * (0.5 + rng.uniform(-0.03, 0.03)),
        top=rows * rng.uniform(0.07, 0.14),
        half_width=half_width,
        height=height,
        angle=rng.uniform(-0.05, 0.05),
        pixel_spacing=round(rng.uniform(140.0, 170.0) / half_width, 4),
    )


def sample_anatomy(rng: np.random.Generator, cardiothoracic_ratio: float) -> Anatomy:
    """A chest whose heart has the given cardiothoracic ratio (cardiomegaly is decided upstream)."""
    left_dome = rng.uniform(0.12, 0.2)
    clavicles = {side: _clavicle_path(rng, side) for side in SIDES}
    lungs = {
        "right": _lung(rng, "right", bottom=1.0 - rng.uniform(0.0, 0.05),
                       dome=left_dome + rng.uniform(0.0, 0.06), clavicle=clavicles["right"]),
        "left": _lung(rng, "left", bottom=1.0, dome=left_dome, clavicle=clavicles["left"]),
    }
    thoracic_width = lungs["left"].outline[:, 0].max() - lungs["right"].outline[:, 0].min()
    heart_width = cardiothoracic_ratio * thoracic_width
    right_border = -rng.uniform(0.2, 0.28) * (1.0 + 0.8 * (cardiothoracic_ratio - 0.45))
    top = rng.uniform(0.42, 0.5)
    bottom = float(lungs["left"].base[:, 1].min()) + 0.05
    heart = clip_rect(
        ellipse(right_border + heart_width / 2, (top + bottom) / 2 + 0.06, heart_width / 2,
                (bottom - top) / 2 + 0.06, angle=rng.uniform(0.1, 0.3)),
        y2=bottom,
    )
    trachea_x = rng.uniform(-0.03, 0.0)
    trachea_half = rng.uniform(0.05, 0.065)
    carina_y = rng.uniform(0.27, 0.35)
    knob_y = carina_y - rng.uniform(0.08, 0.12)
    return Anatomy(
        lungs=lungs,
        heart=heart,
        heart_right_border=float(heart[:, 0].min()),
        heart_top=float(heart[:, 1].min()),
        heart_bottom=bottom,
        trachea=rectangle(trachea_x - trachea_half, -0.45, trachea_x + trachea_half, carina_y),
        trachea_x=trachea_x,
        carina_y=carina_y,
        hila={
            "right": (-rng.uniform(0.27, 0.32), carina_y + rng.uniform(0.1, 0.15)),
            "left": (rng.uniform(0.27, 0.32), carina_y + rng.uniform(0.04, 0.09)),
        },
        aortic_knob=ellipse(rng.uniform(0.13, 0.17), knob_y, rng.uniform(0.06, 0.08),
                            rng.uniform(0.05, 0.07)),
        clavicles={side: thicken(path, rng.uniform(0.02, 0.028))
                   for side, path in clavicles.items()},
        body=_body_outline(rng.uniform(1.08, 1.25)),
        gastric_bubble=ellipse(rng.uniform(0.35, 0.5), 1.0 - left_dome + rng.uniform(0.1, 0.14),
                               rng.uniform(0.08, 0.14), rng.uniform(0.04, 0.06)),
    )


def _lung(
    rng: np.random.Generator, side: Side, bottom: float, dome: float, clavicle: Points,
) -> Lung:
    """A lung outline: domed apex, convex lateral wall, straight medial border, domed base.

    Built in ``|x|`` and mirrored, so both lungs share one description. ``clavicle`` is the
    centre line of the same side's clavicle, which bounds the apical zone.
    """
    lateral_max = rng.uniform(0.9, 0.97)
    apex_x = rng.uniform(0.28, 0.36)
    medial_top = rng.uniform(0.1, 0.15)
    medial_bottom = rng.uniform(0.13, 0.2)
    shoulder = rng.uniform(0.08, 0.12)
    widest = rng.uniform(0.5, 0.65)
    lateral_bottom = lateral_max - rng.uniform(0.02, 0.08)
    peak = rng.uniform(0.5, 0.65)

    # Quarter ellipses meet at the apex with a common horizontal tangent: a smooth dome.
    phi = np.linspace(0.5 * math.pi, 0.0, 24)
    lateral_wall = np.column_stack([
        np.linspace(lateral_bottom, lateral_max, 8)[:-1], np.linspace(bottom, widest, 8)[:-1]
    ])
    lateral_dome = np.column_stack([
        apex_x + (lateral_max - apex_x) * np.sin(phi), widest * (1.0 - np.cos(phi))
    ])
    medial_dome = np.column_stack([
        apex_x - (apex_x - medial_top) * np.sin(phi[::-1]), shoulder * (1.0 - np.cos(phi[::-1]))
    ])[1:]
    u = np.linspace(0.0, 1.0, 28)  # 0 at the costophrenic angle, 1 at the cardiophrenic end
    rise = np.where(
        u < peak, np.sin(0.5 * math.pi * u / peak), 1.0 - 0.3 * ((u - peak) / (1 - peak)) ** 2
    )
    base = np.column_stack(
        [lateral_bottom + (medial_bottom - lateral_bottom) * u, bottom - dome * rise]
    )
    medial_wall = np.column_stack([
        np.linspace(medial_top, medial_bottom, 16), np.linspace(shoulder, base[-1, 1], 16)
    ])[1:]
    outline = np.vstack([lateral_wall, lateral_dome, medial_dome, medial_wall, base[::-1][1:-1]])
    mirror = np.array([SIGN[side], 1.0])
    clavicle_y = float(np.interp(apex_x + 0.1, np.abs(clavicle[:, 0]), clavicle[:, 1]))
    return Lung(
        side=side,
        outline=outline * mirror,
        base=base * mirror,
        bottom=bottom,
        apical_limit=float(np.clip(clavicle_y, 0.08, 0.22)),
    )


def _clavicle_path(rng: np.random.Generator, side: Side) -> Points:
    """The centre line of a gently S-shaped clavicle rising from the sternal notch laterally."""
    medial_y, lateral_y = rng.uniform(0.15, 0.2), rng.uniform(0.0, 0.06)
    t = np.linspace(0.0, 1.0, 16)
    x = SIGN[side] * (0.1 + 0.75 * t)
    y = medial_y + (lateral_y - medial_y) * t + 0.02 * np.sin(2.0 * math.pi * t)
    return np.column_stack([x, y])


def _body_outline(width: float) -> Points:
    """Neck, shoulders and trunk: the soft tissue every ray passes through."""
    half = np.array([
        [-0.3, -1.0], [-0.3, -0.45], [-0.55, -0.3], [-0.9 * width, -0.2], [-width, 0.0],
        [-width, 0.7], [-0.97 * width, 1.2], [-0.95 * width, 2.0],
    ])
    return np.vstack([half, (half * np.array([-1.0, 1.0]))[::-1]])
