"""Pictures of an evaluation: a bar chart of the headline metrics (mean ± std over seeds per
recipe; a one-seed bar has no error bar, not a zero-length one) and retrieval examples (a
held-out image, its report, what the model retrieved)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402

from cxralign.io.atomic import atomic_path  # noqa: E402


def _save(figure: plt.Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def metric_bars(summary: dict[str, dict[str, dict]], metrics: Sequence[str], path: Path,
                chance: Mapping[str, float] | None = None) -> Path:
    """One panel per metric, one bar per recipe, error bars = std over seeds, and a dashed line
    at the metric's chance level when ``chance`` has one."""
    labels = list(summary)
    shown = [m for m in metrics if any(summary[r].get(m, {}).get("mean") is not None
                                       for r in labels)]
    columns = min(4, max(1, len(shown)))
    rows = max(1, -(-len(shown) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    colours = plt.get_cmap("tab10")(np.arange(len(labels)))
    for axis, metric in zip(axes.flat, shown, strict=False):
        means = [_or_nan(summary[r].get(metric, {}).get("mean")) for r in labels]
        stds = [_or_nan(summary[r].get(metric, {}).get("std")) for r in labels]
        axis.bar(range(len(labels)), means, yerr=stds, color=colours, capsize=4)
        axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        if chance and metric in chance:
            axis.axhline(chance[metric], color="grey", linestyle="--", linewidth=1)
        axis.set_title(metric, fontsize=9)
        axis.tick_params(axis="y", labelsize=8)
    for axis in list(axes.flat)[len(shown):]:
        axis.axis("off")
    figure.suptitle("downstream metrics, mean ± std over seeds (dashed: chance)", fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def _or_nan(value: float | None) -> float:
    """A missing mean or std (one seed) as NaN, which matplotlib leaves undrawn."""
    return math.nan if value is None else value


def retrieval_examples(examples: list[dict[str, Any]], title: str, path: Path) -> Path:
    """Each held-out image beside its own report and the top retrieved reports (green when
    the retrieved report is the image's own)."""
    count = max(1, len(examples))
    figure, axes = plt.subplots(count, 2, figsize=(11, 2.6 * count), squeeze=False,
                                gridspec_kw={"width_ratios": [1, 3.5]})
    for (image_axis, text_axis), example in zip(axes, examples, strict=False):
        image_axis.imshow(example["pixels"], cmap="gray", vmin=0, vmax=255)
        image_axis.set_axis_off()
        text_axis.set_axis_off()
        lines = [("own report: " + _short(example["report"]), "black")]
        for rank, hit in enumerate(example["retrieved"], start=1):
            lines.append((f"#{rank}: " + _short(hit["report"]),
                          "green" if hit["correct"] else "firebrick"))
        y = 1.0
        for text, colour in lines:
            wrapped = textwrap.fill(text, 110)
            text_axis.text(0, y, wrapped, va="top", fontsize=7.5, color=colour,
                           transform=text_axis.transAxes)
            y -= 0.1 + 0.09 * wrapped.count("\n")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def _short(text: str, limit: int = 220) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
