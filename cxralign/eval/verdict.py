"""Does the primary recipe beat every baseline where it claims to (grounding and retrieval)?

For each such metric and baseline the comparison states both means ± stds over seeds, whether
the primary's mean is better, and whether the gap exceeds the two spreads added together (a
crude but honest "separated" flag: with three seeds per recipe a formal test says little).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CLAIMED_METRICS: Final = (
    "grounding_top1", "grounding_mean_rank",
    *(f"retrieval_{direction}_r{k}_{kind}" for kind in ("study", "findings")
      for direction in ("i2t", "t2i") for k in (1, 10)),
)
LOWER_IS_BETTER: Final = frozenset({"grounding_mean_rank"})


@dataclass(frozen=True)
class Comparison:
    metric: str
    primary: str
    baseline: str
    primary_mean: float
    primary_std: float
    baseline_mean: float
    baseline_std: float

    @property
    def better(self) -> bool:
        if self.metric in LOWER_IS_BETTER:
            return self.primary_mean < self.baseline_mean
        return self.primary_mean > self.baseline_mean

    @property
    def separated(self) -> bool:
        gap = abs(self.primary_mean - self.baseline_mean)
        return self.better and gap > self.primary_std + self.baseline_std

    def sentence(self) -> str:
        outcome = ("beats" if self.separated else "is ahead of (within the seed spread)"
                   if self.better else "does NOT beat")
        return (f"{self.primary} {outcome} {self.baseline} on {self.metric}: "
                f"{self.primary_mean:.3f} ± {self.primary_std:.3f} vs "
                f"{self.baseline_mean:.3f} ± {self.baseline_std:.3f}")


def compare(summary: dict[str, dict[str, dict]], primary: str,
            metrics: tuple[str, ...] = CLAIMED_METRICS) -> list[Comparison]:
    """Every baseline row of ``summary`` against ``primary`` on ``metrics`` both have."""
    if primary not in summary:
        return []
    comparisons = []
    for baseline, values in summary.items():
        if baseline == primary:
            continue
        for metric in metrics:
            mine, theirs = summary[primary].get(metric), values.get(metric)
            if not mine or not theirs or mine["mean"] is None or theirs["mean"] is None:
                continue
            comparisons.append(Comparison(metric, primary, baseline, mine["mean"], mine["std"],
                                          theirs["mean"], theirs["std"]))
    return comparisons
