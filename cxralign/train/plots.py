"""Loss curves of several runs in one picture, for a person comparing recipes and seeds.

One panel per loss column of the training logs (the total, then each term), one line per run,
one colour per recipe, so seed-to-seed spread and recipe differences read at a glance. Drawn
with matplotlib's Agg canvas directly (no pyplot, no global backend switch).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping

import pyarrow as pa
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image


def loss_curves(logs: Mapping[tuple[str, int], pa.Table], columns: int = 2) -> Image.Image:
    """``logs[(recipe, seed)]`` training logs -> a PNG-ready picture of every loss column."""
    names = ["loss"] + sorted({name for table in logs.values() for name in table.column_names
                               if name.startswith("loss_")})
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(5 * min(columns, len(names)), 3.2 * rows), dpi=80)
    FigureCanvasAgg(figure)
    recipes = sorted({recipe for recipe, _ in logs})
    colours = {recipe: f"C{i}" for i, recipe in enumerate(recipes)}
    for position, name in enumerate(names, start=1):
        axes = figure.add_subplot(rows, min(columns, len(names)), position)
        for (recipe, seed), table in sorted(logs.items()):
            if name in table.column_names:
                axes.plot(table["step"].to_pylist(), table[name].to_pylist(),
                          color=colours[recipe], alpha=0.8, linewidth=1,
                          label=f"{recipe} seed {seed}")
        axes.set_title(name.removeprefix("loss_") if name != "loss" else "total loss")
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        if position == 1:
            axes.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
