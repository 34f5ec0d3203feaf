"""Linear probing of frozen global image features with 1 %, 10 % and 100 % of training labels.

One logistic regression per finding (one-vs-rest over the multi-label findings), fitted on a
random subset of the training images drawn per seed, scored by AUC on the held-out split.
Standardising the features first keeps one regularisation strength sensible for every encoder
(random-init features have very different scales from trained ones).

Findings are probed only when the whole training split has ``min_positives`` positives and the
evaluated split has both classes. Subsets are stratified (:func:`stratified_subset`): before the
rest is drawn at random, each probed finding gets one positive and one negative training image
while the subset has room. A finding whose subset still lacks a class cannot be fitted: its cell
is n/a (left out of that run's macro AUC, never a constant 0.5 that would pull every encoder
towards chance alike), and each run records over how many findings its macro average ran.
"""

from __future__ import annotations

import math
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
    not_fitted: tuple[str, ...] = ()

    @property
    def macro_auc(self) -> float:
        return macro(self.auc)


@dataclass
class ProbeResult:
    """All runs, and the findings that were probed."""

    findings: list[str]
    runs: list[ProbeRun] = field(default_factory=list)

    def macro_auc(self, fraction: float) -> tuple[float, float, float]:
        """Mean and (population) standard deviation over subset seeds of the macro AUC, and the
        mean number of findings it ran over; NaN when no seed could fit any finding (n/a)."""
        runs = [run for run in self.runs if run.fraction == fraction and run.auc]
        if not runs:
            return math.nan, math.nan, 0.0
        values = [run.macro_auc for run in runs]
        return (float(np.mean(values)), float(np.std(values)),
                float(np.mean([len(run.auc) for run in runs])))


def eligible_findings(
    train_labels: np.ndarray, test_labels: np.ndarray, findings: Sequence[str], min_positives: int
) -> list[int]:
    """Columns with enough training positives and both classes among the evaluated images."""
    return [
        column for column in range(len(findings))
        if (train_labels[:, column] == 1).sum() >= min_positives
        and (test_labels[:, column] == 1).any() and (test_labels[:, column] == 0).any()
    ]


def stratified_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """``max(1, round(fraction * n))`` distinct rows of ``(n, F)`` labels drawn with ``seed``:
    first, findings in random order, one positive and one negative row for each finding the
    subset lacks it for (while there is room), then the rest uniformly."""
    count = len(labels)
    size = min(count, max(1, round(fraction * count)))
    rng = np.random.default_rng(seed)
    taken = np.zeros(count, dtype=bool)
    for column in rng.permutation(labels.shape[1]):
        for value in (1, 0):
            if taken.sum() >= size:
                break
            if (labels[taken, column] == value).any():
                continue
            candidates = np.flatnonzero((labels[:, column] == value) & ~taken)
            if len(candidates):
                taken[rng.choice(candidates)] = True
    rest = rng.choice(np.flatnonzero(~taken), size=size - int(taken.sum()), replace=False)
    taken[rest] = True
    return np.flatnonzero(taken)


def _fit_predict(
    x: np.ndarray, y: np.ndarray, test_x: np.ndarray, c: float, max_iter: int
) -> np.ndarray | None:
    """Positive-class scores of one finding's probe (None when ``y`` lacks a class)."""
    kept = y != IGNORE
    x, y = x[kept], y[kept]
    if len(np.unique(y)) < 2:
        return None
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
            rows = stratified_subset(train_labels[:, columns], fraction, seed)
            auc: dict[str, float] = {}
            not_fitted: list[str] = []
            for name, column in zip(names, columns, strict=True):
                score = _fit_predict(train_features[rows], train_labels[rows, column],
                                     test_features, c, max_iter)
                if score is None:
                    not_fitted.append(name)
                else:
                    auc.update(auc_per_finding(score[:, None], test_labels[:, [column]], [name]))
            result.runs.append(ProbeRun(fraction, seed, len(rows), auc, tuple(not_fitted)))
    return result


def probe_metric_name(fraction: float, suffix: str = "") -> str:
    """``probe_auc_1`` (1 %), ``probe_auc_100`` style metric key of a label fraction, with an
    optional label-source suffix (``probe_auc_100_parser``)."""
    return f"probe_auc_{fraction * 100:g}{suffix}"
