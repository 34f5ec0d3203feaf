"""Boxes drawn on a radiograph, for asset metadata and quick visual checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import numpy as np
from PIL import Image, ImageDraw

# Few enough to stay readable on a thumbnail; each in a colour distinct from grey anatomy.
DEFAULT_REGIONS: Final = ("right lung", "left lung", "cardiac silhouette", "trachea",
                          "mediastinum", "abdomen")
PALETTE: Final = ("#ff4040", "#40d040", "#ffd000", "#40c0ff", "#ff70ff", "#ff9a30", "#a0a0ff")


def draw_boxes(
    image: np.ndarray,
    boxes: Mapping[str, Sequence[float]],
    regions: Iterable[str] = DEFAULT_REGIONS,
) -> Image.Image:
    """An RGB copy of a 2-D uint8 ``image`` with the named ``regions`` of ``boxes`` (region ->
    ``(x1, y1, x2, y2, ...)`` in the image's pixels) outlined and labelled."""
    canvas = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    pen = ImageDraw.Draw(canvas)
    width = max(1, round(max(canvas.size) / 256))
    for colour, region in zip(_cycle(PALETTE), (r for r in regions if r in boxes)):
        x1, y1, x2, y2 = (float(v) for v in boxes[region][:4])
        pen.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        pen.text((x1 + 2, y1 + 1), region, fill=colour)
    return canvas


def _cycle(items: Sequence[str]) -> Iterable[str]:
    while True:
        yield from items
