"""Box utilities shared by the detector, the atlas and the evaluation.

Boxes are ``(x1, y1, x2, y2)`` in continuous pixel coordinates (pixel ``i`` covers ``[i, i+1)``),
the convention of ``cxralign.io.preprocess``; inside the detector they are normalised by the
side of the staged square, so one number means the same place at any staged size.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from cxralign.vocabulary import REGIONS

RegionBoxes = dict[str, tuple[float, float, float, float, float]]
"""One image's boxes: region -> (x1, y1, x2, y2, score)."""

REGION_INDEX: Final = {name: index for index, name in enumerate(REGIONS)}


def mirrored_region(name: str) -> str | None:
    """The region a horizontal flip turns ``name`` into (``right X`` <-> ``left X``).

    Regions without a lateral partner return None: on a mirrored radiograph they sit where no
    real anatomy puts them (aortic arch on the right, the right atrium on the left), so a flipped
    training image must not teach them.
    """
    for side, other in (("right ", "left "), ("left ", "right ")):
        if name.startswith(side):
            partner = other + name[len(side):]
            return partner if partner in REGION_INDEX else None
    return None


MIRROR_PERMUTATION: Final = tuple(
    REGION_INDEX.get(mirrored_region(name) or "", index) for index, name in enumerate(REGIONS)
)
"""``MIRROR_PERMUTATION[i]``: the index whose box becomes region ``i`` after a flip."""
LATERAL: Final = np.array([mirrored_region(name) is not None for name in REGIONS])
"""Regions with a lateral partner: the only ones a flipped image may teach."""


def box_area(box: np.ndarray) -> np.ndarray:
    """Element-wise area of a ``(..., 4)`` box array (x0, y0, x1, y1)."""
    box = np.asarray(box, dtype=np.float64)
    return (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])


def box_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise area shared by two ``(..., 4)`` box arrays (0 when they are apart)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    return width * height


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise IoU of two ``(..., 4)`` box arrays."""
    inter = box_intersection(a, b)
    return inter / np.maximum(box_area(a) + box_area(b) - inter, 1e-12)


def content_extent(image: np.ndarray) -> tuple[int, int]:
    """``(height, width)`` of a staged image's content: the padding is all-zero rows/columns
    at the bottom and right (ingestion anchors the image top-left)."""
    rows = np.flatnonzero(image.any(axis=1))
    columns = np.flatnonzero(image.any(axis=0))
    if rows.size == 0 or columns.size == 0:
        return image.shape[0], image.shape[1]
    return int(rows[-1]) + 1, int(columns[-1]) + 1


def clip_box(box: np.ndarray, height: float, width: float, min_size: float = 1.0) -> np.ndarray:
    """Clip ``(x1, y1, x2, y2)`` into ``[0, width] x [0, height]`` keeping a positive area."""
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
    y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
    if x2 - x1 < min_size:
        x1 = min(max(0.0, (x1 + x2 - min_size) / 2), width - min_size)
        x2 = x1 + min_size
    if y2 - y1 < min_size:
        y1 = min(max(0.0, (y1 + y2 - min_size) / 2), height - min_size)
        y2 = y1 + min_size
    return np.array([x1, y1, x2, y2])
