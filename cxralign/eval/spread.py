"""The spread of a metric over model seeds, and how it is written.

One seed has no spread: its sample standard deviation is undefined, not 0, so it is ``None``
(``null`` in ``metrics.json`` and the ``evaluation_metrics`` table) and written ``n/a``; a
reader that compared a gap against a std of 0 would call any gap between one-seed rows
separated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np

NO_SPREAD: Final = "n/a"
"""How an undefined std (one seed) is written."""


def seed_std(values: Sequence[float]) -> float | None:
    """Sample standard deviation of ``values`` (one per seed); ``None`` below two."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def mean_std(mean: float, std: float | None) -> str:
    """``0.650 ± 0.071``, or ``0.650 ± n/a`` for one seed."""
    return f"{mean:.3f} ± {NO_SPREAD if std is None else f'{std:.3f}'}"


def two_std(primary: Mapping[str, object], other: Mapping[str, object]) -> float | None:
    """Twice the larger seed std of two ``{mean, std, ...}`` rows: the margin a gap must
    exceed before the benchmarks call it shown; ``None`` when either row has one seed."""
    spreads = (primary["std"], other["std"])
    return None if None in spreads else 2 * max(spreads)
