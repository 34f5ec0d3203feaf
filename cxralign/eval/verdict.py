"""Does the primary recipe beat every baseline where it claims to (grounding and retrieval)?

For each such metric and baseline the comparison states both means ± stds over seeds, whether
the primary's mean is better, and whether the gap exceeds the two spreads added together (a
crude but honest "separated" flag: with three seeds per recipe a formal test says little). A
row from one seed has no spread (std ``None``), so no gap to it is called separated: the
sentence says "not shown (one seed)".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cxralign.eval.spread import mean_std

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
    primary_std: float | None
    baseline_mean: float
    baseline_std: float | None

    @property
    def one_seed(self) -> bool:
        """Whether either row comes from one seed (no spread to separate the means by)."""
        return self.primary_std is None or self.baseline_std is None

    @property
    def better(self) -> bool:
        if self.metric in LOWER_IS_BETTER:
            return self.primary_mean < self.baseline_mean
        return self.primary_mean > self.baseline_mean

    @property
    def separated(self) -> bool:
        if self.primary_std is None or self.baseline_std is None:
            return False  # one seed: no spread to separate the means by
        gap = abs(self.primary_mean - self.baseline_mean)
        return self.better and gap > self.primary_std + self.baseline_std

    def sentence(self) -> str:
        ahead = "not shown (one seed)" if self.one_seed else "within the seed spread"
        outcome = ("beats" if self.separated else f"is ahead of ({ahead})"
                   if self.better else "does NOT beat")
        return (f"{self.primary} {outcome} {self.baseline} on {self.metric}: "
                f"{mean_std(self.primary_mean, self.primary_std)} vs "
                f"{mean_std(self.baseline_mean, self.baseline_std)}")


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
