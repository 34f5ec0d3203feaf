"""A picture of one image's pairs, for the asset's metadata: does each sentence land where the
report says? Boxes are coloured by the sentence they pair with; the legend gives each sentence's
text in its colour and the regions it was paired with."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any, Final

import numpy as np
import pyarrow as pa
from PIL import Image, ImageDraw, ImageFont

from cxralign.pairs.alignment import IMAGE, MERGED

CANVAS: Final = 512  # the radiograph is enlarged to at least this side so boxes stay visible
LEGEND_WIDTH: Final = 440
WRAP: Final = 58
LINE: Final = 16
PALETTE: Final = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
)
Rows = pa.Table | Iterable[Mapping[str, Any]]


def draw_pairs(image: np.ndarray, pairs_rows: Rows, sentences: Rows) -> Image.Image:
    """The staged ``image`` (2-D uint8) with the boxes of ``pairs_rows`` (one image's rows of the
    ``pairs`` table) and a legend of its study's sentences from ``sentences``."""
    rows = _rows(pairs_rows)
    study_ids = {row["study_id"] for row in rows}
    texts = {row["sentence_index"]: row["text"] for row in _rows(sentences)
             if row["study_id"] in study_ids}
    order = sorted({i for row in rows for i in row["sentence_indices"]})
    colours = {index: PALETTE[n % len(PALETTE)] for n, index in enumerate(order)}

    pixels = np.asarray(image)
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D staged image, got shape {pixels.shape}")
    scale = max(1, math.ceil(CANVAS / max(pixels.shape)))
    radiograph = Image.fromarray(pixels.astype(np.uint8)).convert("RGB").resize(
        (pixels.shape[1] * scale, pixels.shape[0] * scale), Image.Resampling.BILINEAR
    )
    font = ImageFont.load_default(size=13)
    legend = [_legend_entry(index, texts.get(index, ""), rows) for index in order]
    height = max(radiograph.height, LINE * (1 + sum(len(lines) for lines in legend)))
    canvas = Image.new("RGB", (radiograph.width + LEGEND_WIDTH, height), "white")
    canvas.paste(radiograph, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for row in rows:
        if row["pair_kind"] != IMAGE and row["x1"] is not None:
            _draw_box(draw, row, scale, colours)
    y = LINE // 2
    for index, lines in zip(order, legend, strict=True):
        draw.rectangle((radiograph.width + 8, y + 2, radiograph.width + 20, y + 14),
                       fill=colours[index])
        for line in lines:
            draw.text((radiograph.width + 26, y), line, fill="black", font=font)
            y += LINE
    return canvas


def _rows(table: Rows) -> list[dict[str, Any]]:
    return table.to_pylist() if isinstance(table, pa.Table) else [dict(row) for row in table]


def _draw_box(
    draw: ImageDraw.ImageDraw, row: dict[str, Any], scale: int,
    colours: dict[int, tuple[int, int, int]],
) -> None:
    """One outline per paired sentence, nested inward so a shared box shows every colour; a
    merged union box is drawn thinner than a region's own box."""
    width = 1 if row["pair_kind"] == MERGED else 2
    x1, y1, x2, y2 = (row[c] * scale for c in ("x1", "y1", "x2", "y2"))
    for inset, index in enumerate(row["sentence_indices"]):
        step = inset * (width + 1)
        draw.rectangle((x1 + step, y1 + step, max(x1 + step, x2 - step), max(y1 + step, y2 - step)),
                       outline=colours[index], width=width)


def _legend_entry(index: int, text: str, rows: list[dict[str, Any]]) -> list[str]:
    """The sentence's wrapped text, then where it was paired."""
    places = [_place(row) for row in rows if index in row["sentence_indices"]]
    where = ", ".join(places)
    return textwrap.wrap(f"[{index}] {text}", WRAP) + textwrap.wrap(f"  -> {where}", WRAP)


def _place(row: dict[str, Any]) -> str:
    if row["pair_kind"] == IMAGE:
        return "whole image"
    if row["pair_kind"] == MERGED:
        return "union of " + " + ".join(row["member_regions"])
    return row["region"]
