"""What is wrong with a phantom patient, and where it is drawn.

Two steps, because anatomy depends on the findings (cardiomegaly *is* a larger heart) and
lesions depend on anatomy (a nodule must sit inside its lung zone):

1. :func:`sample_findings` decides the findings of a study, their existence (``present`` or, for
   faint hedged lesions, ``uncertain``), laterality and severity; an empty plan is a normal study.
2. :func:`place_lesions` turns each planned finding into drawn :class:`Lesion` s, one per side,
   placed inside the region the report will name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from cxralign.synthetic.anatomy import NORMAL_CTR, SIDES, Anatomy, Lung, Side, Zone
from cxralign.synthetic.geometry import (
    Box,
    Points,
    Pose,
    clip_halfplane,
    clip_rect,
    contains,
    ellipse,
    lobulated,
    rectangle,
    scaled,
    thicken,
)

NORMAL_FRACTION: Final = 0.3
UNCERTAIN_FRACTION: Final = 0.18

FINDING_WEIGHTS: Final[dict[str, float]] = {
    "pleural effusion": 0.17, "atelectasis": 0.16, "opacity": 0.11, "consolidation": 0.10,
    "cardiomegaly": 0.10, "support device": 0.09, "nodule": 0.08, "edema": 0.07,
    "pneumothorax": 0.07, "mass": 0.05,
}
BILATERAL_FRACTION: Final[dict[str, float]] = {
    "pleural effusion": 0.4, "atelectasis": 0.35, "opacity": 0.2, "edema": 1.0,
}
SEVERITIES: Final[dict[str, tuple[tuple[str, ...], tuple[float, ...]]]] = {
    "pleural effusion": (("small", "moderate", "large"), (0.55, 0.3, 0.15)),
    "pneumothorax": (("tiny", "small", "moderate"), (0.3, 0.45, 0.25)),
    "cardiomegaly": (("mild", "moderate", "severe"), (0.55, 0.33, 0.12)),
    "edema": (("mild", "moderate"), (0.6, 0.4)),
    "atelectasis": (("minimal", "mild"), (0.4, 0.6)),
}
UNCERTAIN_SEVERITY: Final[dict[str, str]] = {
    "pleural effusion": "trace", "pneumothorax": "tiny", "cardiomegaly": "borderline",
    "edema": "mild", "atelectasis": "minimal",
}
CARDIOTHORACIC_RATIO: Final[dict[str, tuple[float, float]]] = {
    "borderline": (0.51, 0.54), "mild": (0.55, 0.59), "moderate": (0.59, 0.65),
    "severe": (0.65, 0.72),
}
DEVICES: Final[dict[str, tuple[str, ...]]] = {
    "endotracheal tube": ("trachea",),
    "central venous catheter": ("svc", "cavoatrial junction"),
    "enteric tube": ("abdomen",),
}
_ZONE_WEIGHTS: Final[dict[str, tuple[tuple[Zone, ...], tuple[float, ...]]]] = {
    "nodule": (("upper", "mid", "lower"), (0.4, 0.35, 0.25)),
    "mass": (("upper", "mid", "lower"), (0.45, 0.35, 0.2)),
    "consolidation": (("upper", "mid", "lower"), (0.25, 0.3, 0.45)),
    "opacity": (("upper", "mid", "lower"), (0.2, 0.3, 0.5)),
    "atelectasis": (("mid", "lower"), (0.15, 0.85)),
}
_FAINT: Final = 0.5
"""Density factor of an uncertain lesion: faint enough that a reader would hedge."""


@dataclass(frozen=True)
class PlannedFinding:
    finding: str
    existence: str
    sides: tuple[Side, ...]
    """Patient sides involved; empty for findings that have none (cardiomegaly, devices)."""
    severity: str | None


@dataclass(frozen=True)
class Shape:
    """A filled body-frame polygon whose ``density`` is added to the attenuation map.

    Disease fills the lung with fluid or tissue, so it can add no more density than the air it
    displaces (a nodule behind the heart is faint); a radiopaque device adds density regardless.
    """

    polygon: Points
    density: float
    radiopaque: bool = False


@dataclass(frozen=True)
class Lesion:
    """One drawn lesion in one region; its box is the bounding box of ``extent``."""

    finding: str
    existence: str
    region: str
    severity: str | None
    size_mm: float | None
    """Diameter of a nodule or mass; for an endotracheal tube, its tip's height above the carina."""
    device: str | None
    retrocardiac: bool
    """A left lower zone lesion seen through the heart, which reports call retrocardiac."""
    shapes: tuple[Shape, ...]
    extent: Points
    clears_markings: Points | None = None
    """Where lung markings are absent (the pleural air of a pneumothorax)."""


def sample_findings(rng: np.random.Generator) -> list[PlannedFinding]:
    """The findings of one study; an empty list for the ~30% normal studies."""
    if rng.random() < NORMAL_FRACTION:
        return []
    names = list(FINDING_WEIGHTS)
    weights = np.array(list(FINDING_WEIGHTS.values()))
    count = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    chosen = rng.choice(names, size=count, replace=False, p=weights / weights.sum())
    return [_plan(rng, str(finding)) for finding in chosen]


def _plan(rng: np.random.Generator, finding: str) -> PlannedFinding:
    uncertain = finding != "support device" and rng.random() < UNCERTAIN_FRACTION
    existence = "uncertain" if uncertain else "present"
    if finding in ("cardiomegaly", "support device"):
        sides: tuple[Side, ...] = ()
    elif rng.random() < BILATERAL_FRACTION.get(finding, 0.0):
        sides = SIDES
    else:
        sides = (SIDES[int(rng.integers(2))],)
    if finding not in SEVERITIES:
        severity = None
    elif uncertain:
        severity = UNCERTAIN_SEVERITY[finding]
    else:
        levels, p = SEVERITIES[finding]
        severity = str(rng.choice(levels, p=p))
    return PlannedFinding(finding, existence, sides, severity)


def cardiothoracic_ratio(rng: np.random.Generator, plan: list[PlannedFinding]) -> float:
    """The heart size the anatomy must have: enlarged when the plan holds cardiomegaly."""
    for item in plan:
        if item.finding == "cardiomegaly" and item.severity is not None:
            return float(rng.uniform(*CARDIOTHORACIC_RATIO[item.severity]))
    return float(rng.uniform(*NORMAL_CTR))


def place_lesions(
    rng: np.random.Generator, plan: list[PlannedFinding], anatomy: Anatomy, pose: Pose,
) -> list[Lesion]:
    """Draw every planned finding; a bilateral finding gives one lesion per side."""
    lesions: list[Lesion] = []
    for item in plan:
        if item.finding == "cardiomegaly":
            lesions.append(_lesion(item, "cardiac silhouette", (), anatomy.heart))
        elif item.finding == "support device":
            lesions.append(_device(rng, item, anatomy, pose))
        elif item.finding in _ZONE_WEIGHTS:
            zones, p = _ZONE_WEIGHTS[item.finding]
            zone: Zone = zones[int(rng.choice(len(zones), p=p))]
            lesions += [_zone_lesion(rng, item, anatomy, pose, side, zone) for side in item.sides]
        else:
            draw = _PLEURAL_AND_DIFFUSE[item.finding]
            lesions += [draw(rng, item, anatomy.lungs[side]) for side in item.sides]
    return lesions


def _lesion(
    item: PlannedFinding, region: str, shapes: tuple[Shape, ...], extent: Points, *,
    size_mm: float | None = None, device: str | None = None, retrocardiac: bool = False,
    clears_markings: Points | None = None,
) -> Lesion:
    return Lesion(
        finding=item.finding, existence=item.existence, region=region, severity=item.severity,
        size_mm=size_mm, device=device, retrocardiac=retrocardiac, shapes=shapes, extent=extent,
        clears_markings=clears_markings,
    )


def _feathered(polygon: Points, density: float, steps: int) -> tuple[Shape, ...]:
    """Nested shrinking copies whose densities add up to ``density`` in the core: a soft edge."""
    return tuple(
        Shape(scaled(polygon, 1.0 - 0.14 * k), density / (steps + 1)) for k in range(steps + 1)
    )


def _strength(item: PlannedFinding) -> float:
    return _FAINT if item.existence == "uncertain" else 1.0


def _zone_lesion(
    rng: np.random.Generator, item: PlannedFinding, anatomy: Anatomy, pose: Pose, side: Side,
    zone: Zone,
) -> Lesion:
    """A parenchymal lesion whose centre lies in ``zone`` and whose whole outline is in the lung."""
    aspect = pose.half_width / pose.height  # keeps round lesions round in pixels
    strength = _strength(item)
    size_mm: float | None = None
    if item.finding == "nodule":
        size_mm = float(round(rng.uniform(4, 7) if strength < 1 else rng.uniform(6, 16)))
        radius, density, feather = size_mm / 2 / pose.mm_per_x_unit, 0.24, 1
        build = _round(rng, aspect, 0.08)
    elif item.finding == "mass":
        size_mm = float(round(rng.uniform(30, 70), -1))
        radius, density, feather = size_mm / 2 / pose.mm_per_x_unit, 0.3, 2
        build = _round(rng, aspect, 0.25)
    elif item.finding == "consolidation":
        radius, density, feather = rng.uniform(0.13, 0.21), 0.24, 3
        build = _round(rng, aspect, 0.35)
    elif item.finding == "opacity":
        radius, density, feather = rng.uniform(0.1, 0.17), 0.14, 4
        build = _round(rng, aspect, 0.3)
    else:  # atelectasis: a thin plate, nearly horizontal
        radius, density, feather = rng.uniform(0.14, 0.24), 0.2, 1
        build = _plate(rng.uniform(0.018, 0.03), rng.uniform(-0.2, 0.2))
    lung = anatomy.lungs[side]
    outline = _fit_inside(rng, lung, zone, radius, build)
    center = outline.mean(axis=0, keepdims=True)
    retrocardiac = side == "left" and zone == "lower" and bool(contains(anatomy.heart, center)[0])
    return _lesion(
        item, f"{side} {zone} lung zone", _feathered(outline, density * strength, feather), outline,
        size_mm=size_mm, retrocardiac=retrocardiac,
    )


OutlineBuilder = Callable[[float, float, float], Points]
"""Makes a lesion outline from its centre ``(x, y)`` and radius."""


def _round(rng: np.random.Generator, aspect: float, irregularity: float) -> OutlineBuilder:
    def build(cx: float, cy: float, r: float) -> Points:
        return lobulated(rng, cx, cy, r, aspect, irregularity)
    return build


def _plate(thickness: float, tilt: float) -> OutlineBuilder:
    def build(cx: float, cy: float, r: float) -> Points:
        return ellipse(cx, cy, r, thickness, angle=tilt)
    return build


def _fit_inside(
    rng: np.random.Generator, lung: Lung, zone: Zone, radius: float, build: OutlineBuilder,
) -> Points:
    """Rejection-sample a centre in the zone; shrink the lesion until it fits in the lung."""
    area = lung.zone(zone)
    box = Box.around(area)
    while True:
        for _ in range(30):
            center = np.array([[rng.uniform(box.x1, box.x2), rng.uniform(box.y1, box.y2)]])
            if not contains(area, center)[0]:
                continue
            outline = build(float(center[0, 0]), float(center[0, 1]), radius)
            if contains(lung.outline, outline).all():
                return outline
        radius *= 0.8


def _effusion(rng: np.random.Generator, item: PlannedFinding, lung: Lung) -> Lesion:
    """Fluid layering in the costophrenic angle under a meniscus that rises laterally."""
    depth = {"trace": (0.03, 0.05), "small": (0.06, 0.11), "moderate": (0.15, 0.25),
             "large": (0.3, 0.45)}[item.severity or "small"]
    level = lung.bottom - rng.uniform(*depth)
    lateral_x, medial_x = lung.outline[0, 0], lung.medial_x
    slope = (rng.uniform(0.04, 0.1) + 0.3 * (lung.bottom - level)) / (lateral_x - medial_x)
    layers = [
        clip_halfplane(lung.outline, (-slope, -1.0), -(level + step) - slope * medial_x)
        for step in (0.0, 0.015, 0.03)
    ]
    density = 0.32 * _strength(item)
    return _lesion(item, f"{lung.side} costophrenic angle",
                   tuple(Shape(layer, density / 3) for layer in layers), layers[0])


def _pneumothorax(rng: np.random.Generator, item: PlannedFinding, lung: Lung) -> Lesion:
    """Pleural air over the apex: a crescent without markings, edged by the visceral pleura."""
    severity = item.severity or "small"
    reach = {"tiny": (0.12, 0.18), "small": (0.2, 0.3), "moderate": (0.35, 0.5)}[severity]
    width = {"tiny": 0.025, "small": 0.045, "moderate": 0.08}[severity]
    chain = lung.outline[lung.outline[:, 1] < rng.uniform(*reach)]
    anchor = np.array([chain[:, 0].mean(), chain[:, 1].max() + 0.3])
    inward = anchor - chain
    inward /= np.linalg.norm(inward, axis=1, keepdims=True)
    taper = np.sqrt(np.sin(np.linspace(0.0, math.pi, len(chain))))
    pleura = chain + (width * taper)[:, None] * inward
    crescent = np.vstack([chain, pleura[::-1]])
    strength = _strength(item)
    return _lesion(
        item, f"{lung.side} apical zone",
        (Shape(crescent, -0.1 * strength), Shape(thicken(pleura, 0.006), 0.09 * strength)),
        crescent, clears_markings=crescent,
    )


def _edema(rng: np.random.Generator, item: PlannedFinding, lung: Lung) -> Lesion:
    """Perihilar haze: the inner two thirds of the mid lung, fading outwards."""
    lateral_x, medial_x = lung.outline[0, 0], lung.medial_x
    reach = medial_x + rng.uniform(0.55, 0.7) * (lateral_x - medial_x)
    x1, x2 = sorted((medial_x, reach))
    haze = clip_rect(lung.outline, x1=x1, x2=x2, y1=0.2 * lung.bottom, y2=0.82 * lung.bottom)
    density = (0.1 if item.severity == "mild" else 0.16) * _strength(item)
    return _lesion(item, f"{lung.side} lung", _feathered(haze, density, 3), haze)


_PLEURAL_AND_DIFFUSE: Final[
    dict[str, Callable[[np.random.Generator, PlannedFinding, Lung], Lesion]]
] = {
    "pleural effusion": _effusion, "pneumothorax": _pneumothorax, "edema": _edema,
}


def _device(rng: np.random.Generator, item: PlannedFinding, anatomy: Anatomy, pose: Pose) -> Lesion:
    """A radiopaque tube or line whose tip lies in the region the report names."""
    device = str(rng.choice(list(DEVICES)))
    region = str(rng.choice(DEVICES[device]))
    regions = anatomy.regions()
    target = Box.around(regions[region])
    tip = np.array([
        target.x1 + rng.uniform(0.35, 0.65) * (target.x2 - target.x1),
        target.y1 + rng.uniform(0.35, 0.65) * (target.y2 - target.y1),
    ])
    size_mm = None
    if device == "endotracheal tube":
        tip[1] = anatomy.carina_y - rng.uniform(0.12, 0.22)
        size_mm = round(float((anatomy.carina_y - tip[1]) * pose.mm_per_y_unit), -1)
        path, half_width = np.array([[tip[0], -0.7], tip]), 0.02
    elif device == "central venous catheter":
        path, half_width = np.array([[-0.45, -0.6], [-0.25, -0.2], [tip[0], 0.05], tip]), 0.008
    else:
        tip = anatomy.gastric_bubble.mean(axis=0)
        path, half_width = np.array([[0.02, -0.7], [0.04, 0.3], [0.1, 0.9], tip]), 0.012
    dense = _resample(path)
    return _lesion(
        item, region, (Shape(thicken(dense, half_width), 0.35, radiopaque=True),),
        rectangle(tip[0] - 0.04, tip[1] - 0.03, tip[0] + 0.04, tip[1] + 0.03),
        size_mm=size_mm, device=device,
    )


def _resample(path: Points, step: float = 0.02) -> Points:
    """Evenly spaced points along a polyline, so thickening follows its bends smoothly."""
    lengths = np.linalg.norm(np.diff(path, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(lengths)])
    s = np.linspace(0.0, along[-1], max(2, int(along[-1] / step)))
    return np.column_stack([np.interp(s, along, path[:, 0]), np.interp(s, along, path[:, 1])])
