"""Lung fields found from intensity profiles alone: the atlas's anchor when no detector is.

On a frontal radiograph (MONOCHROME2, air dark) the lungs are the two large dark fields on
either side of the bright mediastinum, closed above by the shoulders and below by the
diaphragm. So, on a small smoothed copy of the image content:
1. the mediastinum is the brightest column band near the middle;
2. a pixel is "lung" when darker than a threshold halfway between the dark and bright
   percentiles of the central thorax;
3. on each side, lung columns are the run of columns next to the mediastinum in which many
   rows are dark (the chest wall, bright, ends the run before the outside air does), and lung
   rows are the run of rows in which many of those columns are dark.
The result is only accepted when both fields have a plausible size and position; otherwise
the caller falls back to the average lung layout.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from PIL import Image

from cxralign.anatomy.geometry import content_extent

WORK_SIDE: Final = 96
DARK_SHARE: Final = 0.35
MIN_WIDTH, MAX_WIDTH = 0.12, 0.6  # of the content width, per lung
MIN_HEIGHT: Final = 0.25  # of the content height


def find_lungs(image: np.ndarray) -> dict[str, np.ndarray] | None:
    """``{"right lung": box, "left lung": box}`` in the image's pixels, or None when the
    profiles do not show two plausible lung fields."""
    height, width = content_extent(image)
    if height < 16 or width < 16:
        return None
    small = _smoothed(image[:height, :width])
    rows, columns = small.shape
    middle = _mediastinum(small)
    low, high = np.percentile(small[rows // 8 : rows * 7 // 8, columns // 8 : columns * 7 // 8],
                              [10, 90])
    dark = small < (low + high) / 2
    sides = {
        "right lung": _field(dark, middle, direction=-1),
        "left lung": _field(dark, middle, direction=1),
    }
    if any(box is None for box in sides.values()):
        return None
    scale = np.array([width / columns, height / rows, width / columns, height / rows])
    return {name: box * scale for name, box in sides.items() if box is not None}


def _smoothed(content: np.ndarray) -> np.ndarray:
    """The content resized to ``WORK_SIDE`` on its long side (area averaging smooths noise
    and text), as float in [0, 1]."""
    height, width = content.shape
    factor = WORK_SIDE / max(height, width)
    size = (max(8, round(width * factor)), max(8, round(height * factor)))
    resized = Image.fromarray(content).resize(size, Image.Resampling.BOX)
    return np.asarray(resized, dtype=np.float32) / 255.0


def _mediastinum(small: np.ndarray) -> int:
    rows, columns = small.shape
    band = small[rows // 5 : rows * 3 // 4]
    profile = np.convolve(band.mean(axis=0), np.ones(5) / 5, mode="same")
    start, stop = int(columns * 0.35), int(columns * 0.65)
    return start + int(np.argmax(profile[start:stop]))


def _run(values: np.ndarray, seed: int) -> tuple[int, int] | None:
    """The maximal run of True around index ``seed`` (None if ``values[seed]`` is False)."""
    if not values[seed]:
        return None
    start = seed
    while start > 0 and values[start - 1]:
        start -= 1
    stop = seed
    while stop < len(values) - 1 and values[stop + 1]:
        stop += 1
    return start, stop + 1


def _field(dark: np.ndarray, middle: int, direction: int) -> np.ndarray | None:
    rows, columns = dark.shape
    thorax = dark[rows // 8 : rows * 7 // 8]
    column_share = thorax.mean(axis=0)
    candidates = np.arange(middle, -1 if direction < 0 else columns, direction)
    lung_columns = column_share >= DARK_SHARE
    seed = next((int(c) for c in candidates if lung_columns[c]), None)
    if seed is None:
        return None
    x_run = _run(lung_columns, seed)
    if x_run is None:
        return None
    x1, x2 = x_run
    row_share = dark[:, x1:x2].mean(axis=1)
    lung_rows = row_share >= DARK_SHARE
    y_seed = rows // 8 + int(np.argmax(row_share[rows // 8 : rows * 7 // 8]))
    y_run = _run(lung_rows, y_seed)
    if y_run is None:
        return None
    y1, y2 = y_run
    plausible = (MIN_WIDTH <= (x2 - x1) / columns <= MAX_WIDTH
                 and (y2 - y1) / rows >= MIN_HEIGHT)
    return np.array([x1, y1, x2, y2], dtype=np.float64) if plausible else None
