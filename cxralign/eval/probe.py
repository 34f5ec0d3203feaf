"""Linear probing of frozen global image features with 1 %, 10 % and 100 % of training labels.

One logistic regression per finding (one-vs-rest over the multi-label findings), fitted on a
random subset of the training images drawn per seed, scored by AUC on the held-out split.
Standardising the features first keeps one regularisation strength sensible for every encoder
(random-init features have very different scales from trained ones).

Findings are probed only when the whole training split has ``min_positives`` positives and the
evaluated split has both classes, so every fraction and seed is scored on the same findings.
When a small subset happens to hold a single class for a finding, no classifier can be fitted;
its prediction is then constant and scores AUC 0.5, the honest value of knowing nothing (leaving
the finding out would flatter small fractions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cxralign.eval.auc import auc_per_finding, macro
from cxralign.eval.labels import IGNORE


@dataclass(frozen=True)
class ProbeRun:
    """One (fraction, seed): how many training images it used and its per-finding AUCs."""

    fraction: float
    seed: int
    train_images: int
    auc: dict[str, float]

    @property
    def macro_auc(self) -> float:
        return macro(self.auc)


@dataclass
class ProbeResult:
    """All runs, and the findings that were probed."""

    findings: list[str]
    runs: list[ProbeRun] = field(default_factory=list)

    def macro_auc(self, fraction: float) -> tuple[float, float]:
        """Mean and (population) standard deviation of the macro AUC over seeds."""
        values = [run.macro_auc for run in self.runs if run.fraction == fraction]
        return float(np.mean(values)), float(np.std(values))


def eligible_findings(
    train_labels: np.ndarray, test_labels: np.ndarray, findings: Sequence[str], min_positives: int
) -> list[int]:
    """Columns with enough training positives and both classes among the evaluated images."""
    return [
        column for column in range(len(findings))
        if (train_labels[:, column] == 1).sum() >= min_positives
        and (test_labels[:, column] == 1).any() and (test_labels[:, column] == 0).any()
    ]


def subset_indices(count: int, fraction: float, seed: int) -> np.ndarray:
    """``max(1, round(fraction * count))`` distinct training rows drawn with ``seed``."""
    size = min(count, max(1, round(fraction * count)))
    return np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))


def _fit_predict(
    x: np.ndarray, y: np.ndarray, test_x: np.ndarray, c: float, max_iter: int
) -> np.ndarray:
    """Positive-class scores of one finding's probe (constant when ``y`` has one class)."""
    kept = y != IGNORE
    x, y = x[kept], y[kept]
    if len(np.unique(y)) < 2:
        return np.zeros(len(test_x), dtype=np.float64)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    model.fit(x, y)
    return model.decision_function(test_x)


def linear_probe(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    findings: Sequence[str],
    fractions: Sequence[float] = (0.01, 0.1, 1.0),
    seeds: Sequence[int] = (0, 1, 2),
    min_positives: int = 5,
    c: float = 1.0,
    max_iter: int = 1000,
) -> ProbeResult:
    """Probe every fraction × seed; see the module docstring for the finding selection."""
    columns = eligible_findings(train_labels, test_labels, findings, min_positives)
    names = [findings[c_] for c_ in columns]
    result = ProbeResult(findings=names)
    if not columns:
        return result
    for fraction in fractions:
        for seed in seeds:
            rows = subset_indices(len(train_features), fraction, seed)
            scores = np.stack(
                [_fit_predict(train_features[rows], train_labels[rows, column], test_features,
                              c, max_iter) for column in columns],
                axis=1,
            )
            auc = auc_per_finding(scores, test_labels[:, columns], names)
            result.runs.append(ProbeRun(fraction, seed, len(rows), auc))
    return result


def probe_metric_name(fraction: float) -> str:
    """``probe_auc@1%`` style metric key of a label fraction."""
    return f"probe_auc@{fraction * 100:g}%"
