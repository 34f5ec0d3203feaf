"""The anatomical atlas: all 29 regions placed from two lung boxes, so every image gets every
box even with no trained detector or an unsure one.

Layout (``atlas.json``, learned from gold boxes by :func:`fit_atlas`):
- ``lungs``: the median right and left lung boxes in the image content's frame (coordinates
  divided by the content width and height): the "average lung box", used when nothing better
  anchors the atlas;
- ``regions``: each region's median box in the frame of its anchor (``right lung`` for right
  regions, ``left lung`` for left ones, the union of both lungs for midline ones), so a region
  follows the lungs it hangs from;
- ``expected_iou``: per region, the median IoU the layout reached on its fitting images given
  their gold lungs; it is the atlas box's ``score``, comparable with the detector's predicted
  IoU.

Anchors: the detector's lung boxes when the caller has confident ones, else the average
layout placed in the image content (the staged padding is found as all-zero rows and columns).
An intensity-profile lung finder was tried as a middle step and dropped: on the 163 real
radiographs of ``covid_lung_boxes`` it reached a mean lung IoU of 0.67, below the 0.70 of the
constant layout it was meant to improve on (``benchmarks/RESULTS.md``, anatomy section).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np

from cxralign.anatomy.dataset import GoldArrays
from cxralign.anatomy.geometry import REGION_INDEX, RegionBoxes, box_iou, clip_box, content_extent
from cxralign.io.atomic import atomic_path
from cxralign.vocabulary import REGIONS

LUNGS: Final = ("right lung", "left lung")
UNION: Final = "lungs"
DEFAULT_ATLAS: Final = "atlas_default.json"


def anchor_of(region: str) -> str:
    """Which lung box frames ``region``: its own side's lung, else both lungs' union."""
    if region.startswith("right "):
        return "right lung"
    if region.startswith("left "):
        return "left lung"
    return UNION


def _frame(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origin and size of a box's frame, ready for ``(p - origin) / size``."""
    origin = np.array([box[0], box[1], box[0], box[1]])
    size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
    return origin, np.maximum(size, 1e-9)


def _anchors(right: np.ndarray, left: np.ndarray) -> dict[str, np.ndarray]:
    union = np.array([min(right[0], left[0]), min(right[1], left[1]),
                      max(right[2], left[2]), max(right[3], left[3])])
    return {"right lung": right, "left lung": left, UNION: union}


@dataclass(frozen=True)
class Atlas:
    """Median region layout relative to the lungs (see the module docstring)."""

    lungs: dict[str, tuple[float, float, float, float]]
    regions: dict[str, tuple[float, float, float, float]]
    expected_iou: dict[str, float]

    def place(self, right_lung: np.ndarray, left_lung: np.ndarray) -> dict[str, np.ndarray]:
        """Every region's box from the two lung boxes (same pixel frame as the input)."""
        anchors = _anchors(np.asarray(right_lung, float), np.asarray(left_lung, float))
        placed = {}
        for region in REGIONS:
            origin, size = _frame(anchors[anchor_of(region)])
            placed[region] = origin + np.asarray(self.regions[region]) * size
        return placed

    def average_lungs(self, height: float, width: float) -> dict[str, np.ndarray]:
        scale = np.array([width, height, width, height])
        return {name: np.asarray(self.lungs[name]) * scale for name in LUNGS}

    def boxes(self, image: np.ndarray, lungs: dict[str, np.ndarray] | None = None) -> RegionBoxes:
        """All 29 boxes (in ``image``'s pixels) anchored on ``lungs`` when given, else on the
        average lung layout in the image content."""
        height, width = content_extent(image)
        anchor = lungs if lungs is not None else self.average_lungs(height, width)
        placed = self.place(anchor["right lung"], anchor["left lung"])
        return {
            region: (*(float(v) for v in clip_box(box, height, width)),
                     float(self.expected_iou[region]))
            for region, box in placed.items()
        }

    def to_json(self) -> str:
        return json.dumps(
            {"lungs": self.lungs, "regions": self.regions, "expected_iou": self.expected_iou},
            indent=1,
        )

    def save(self, path: Path) -> None:
        with atomic_path(Path(path)) as tmp:
            tmp.write_text(self.to_json(), encoding="utf-8")

    @staticmethod
    def from_json(text: str) -> Atlas:
        data = json.loads(text)
        missing = set(REGIONS) - set(data["regions"])
        if missing or set(LUNGS) - set(data["lungs"]):
            raise ValueError(f"atlas lacks regions: {sorted(missing)}")
        return Atlas(
            lungs={k: tuple(v) for k, v in data["lungs"].items()},
            regions={k: tuple(v) for k, v in data["regions"].items()},
            expected_iou={k: float(v) for k, v in data["expected_iou"].items()},
        )

    @staticmethod
    def load(path: Path) -> Atlas:
        return Atlas.from_json(Path(path).read_text(encoding="utf-8"))


def default_atlas() -> Atlas:
    """The atlas shipped with the package: the lungs' place from the 163 real radiographs of
    ``covid_lung_boxes``, the other regions from phantom ground truth
    (``python benchmarks/anatomy.py --write-default-atlas`` rebuilds it)."""
    text = resources.files("cxralign.anatomy").joinpath(DEFAULT_ATLAS).read_text(encoding="utf-8")
    return Atlas.from_json(text)


def fit_atlas(gold: GoldArrays, fallback: Atlas | None = None) -> Atlas:
    """Median layout of ``gold``; regions it never annotates alongside both lungs come from
    ``fallback`` (default: the packaged atlas)."""
    right, left = REGION_INDEX["right lung"], REGION_INDEX["left lung"]
    side = gold.images.shape[-1]
    with_lungs = np.flatnonzero(gold.mask[:, right] & gold.mask[:, left])
    lungs: dict[str, tuple[float, float, float, float]] = {}
    regions: dict[str, tuple[float, float, float, float]] = {}
    expected: dict[str, float] = {}
    if len(with_lungs):
        extents = np.array([content_extent(gold.images[i]) for i in with_lungs], dtype=float)
        content = np.stack([extents[:, 1], extents[:, 0]] * 2, axis=1) / side
        for name in LUNGS:
            relative = gold.boxes[with_lungs, REGION_INDEX[name]] / content
            lungs[name] = tuple(float(v) for v in np.median(relative, axis=0))
    for region in REGIONS:
        rows = with_lungs[gold.mask[with_lungs, REGION_INDEX[region]]]
        if not len(rows):
            continue
        frames = [_frame(_anchors(gold.boxes[i, right], gold.boxes[i, left])[anchor_of(region)])
                  for i in rows]
        relative = np.stack([(gold.boxes[i, REGION_INDEX[region]] - origin) / size
                             for i, (origin, size) in zip(rows, frames, strict=True)])
        layout = np.median(relative, axis=0)
        placed = np.stack([origin + layout * size for origin, size in frames])
        regions[region] = tuple(float(v) for v in layout)
        expected[region] = float(np.median(box_iou(placed, gold.boxes[rows, REGION_INDEX[region]])))
    if len(lungs) < len(LUNGS) or len(regions) < len(REGIONS):
        base = fallback or default_atlas()
        lungs = {**base.lungs, **lungs}
        regions = {**base.regions, **regions}
        expected = {**base.expected_iou, **expected}
    return Atlas(lungs=lungs, regions=regions, expected_iou=expected)


def atlas_boxes(image: np.ndarray, atlas: Atlas | None = None) -> RegionBoxes:
    """All 29 atlas boxes for one staged image (the packaged atlas unless one is given)."""
    return (atlas or default_atlas()).boxes(image)
