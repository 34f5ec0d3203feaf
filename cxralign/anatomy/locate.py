"""Every image gets all 29 boxes: detector boxes where the detector is sure, atlas boxes
elsewhere, and the ``boxes`` table (DESIGN.md) built from them. Every box is clipped to the
image content (the staged padding holds no anatomy).

A detector box is kept when its predicted IoU (``score``) reaches ``min_score``. The atlas
fills the rest, anchored on the detector's own lung boxes when both of those were kept (the
lungs are what the detector learns best from real data), else on its own lung estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pyarrow as pa

from cxralign.anatomy.atlas import LUNGS, default_atlas
from cxralign.anatomy.detector import Detector
from cxralign.anatomy.geometry import clip_box, content_extent
from cxralign.anatomy.settings import AnatomySettings
from cxralign.vocabulary import REGIONS

SOURCE_DETECTOR: Final = "detector"
SOURCE_ATLAS: Final = "atlas"
SOURCE_GOLD: Final = "gold"
CHUNK: Final = 64

LocatedBox = tuple[float, float, float, float, float, str]
"""(x1, y1, x2, y2, score, source)."""

BOXES_SCHEMA: Final = pa.schema([
    ("image_id", pa.string()), ("region", pa.string()),
    ("x1", pa.float64()), ("y1", pa.float64()), ("x2", pa.float64()), ("y2", pa.float64()),
    ("score", pa.float64()), ("source", pa.string()),
])


def locate(
    images: Sequence[np.ndarray], detector: Detector | None, min_score: float
) -> list[dict[str, LocatedBox]]:
    """All 29 boxes per image, in that image's pixels, with their score and source."""
    atlas = detector.atlas if detector is not None else default_atlas()
    if detector is None:
        return [_tagged(atlas.boxes(image), SOURCE_ATLAS) for image in images]
    located = []
    for image, predicted in zip(images, detector.predict(images), strict=True):
        height, width = content_extent(image)
        kept = {region: (*clip_box(box[:4], height, width), box[4])
                for region, box in predicted.items() if box[4] >= min_score}
        lungs = ({name: np.asarray(kept[name][:4]) for name in LUNGS}
                 if all(name in kept for name in LUNGS) else None)
        fallback = _tagged(atlas.boxes(image, lungs), SOURCE_ATLAS)
        located.append({
            region: (*kept[region], SOURCE_DETECTOR) if region in kept else fallback[region]
            for region in REGIONS
        })
    return located


def _tagged(boxes: dict[str, tuple[float, ...]], source: str) -> dict[str, LocatedBox]:
    return {region: (*boxes[region], source) for region in REGIONS}  # type: ignore[misc]


def boxes_table(
    images_table: pa.Table,
    staged_images: Sequence[np.ndarray],
    detector: Detector | None,
    settings: AnatomySettings,
) -> pa.Table:
    """The ``boxes`` table: one row per image (row order of ``images_table``, whose staged
    arrays ``staged_images`` holds in the same order) and region, in staged pixels."""
    image_ids = images_table.column("image_id").to_pylist()
    if len(image_ids) != len(staged_images):
        raise ValueError("images_table and staged_images must have the same rows")
    columns: dict[str, list[object]] = {name: [] for name in BOXES_SCHEMA.names}
    for start in range(0, len(image_ids), CHUNK):
        chunk = [staged_images[i] for i in range(start, min(start + CHUNK, len(image_ids)))]
        for image_id, boxes in zip(image_ids[start:], locate(chunk, detector, settings.min_score)):
            for region, (x1, y1, x2, y2, score, source) in boxes.items():
                for name, value in zip(BOXES_SCHEMA.names,
                                       (image_id, region, x1, y1, x2, y2, score, source)):
                    columns[name].append(value)
    return pa.table(columns, schema=BOXES_SCHEMA)

