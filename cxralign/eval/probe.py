"""Linear probing of frozen global image features with 1 %, 10 % and 100 % of training labels.

One logistic regression per finding (one-vs-rest over the multi-label findings), fitted on a
random subset of the training images drawn per seed, scored by AUC on the held-out split.
Standardising the features first puts every encoder's features on one scale (random-init
features have very different scales from trained ones). The L2 strength is chosen per finding and
subset, as in CLIP's linear-probe protocol, from a grid by stratified k-fold cross-validated AUC on
that subset's own training images (sklearn's ``GridSearchCV``), never on the evaluated
split: one fixed ``C`` favours whichever encoder it happens to suit (on the phantom benchmark
trained encoders chose stronger regularisation than ``C = 1``, random ones weaker;
``benchmarks/RESULTS.md``, session 12). A subset with fewer than two images of a class cannot be
cross-validated; it is fitted with the grid's middle value, and each run records the ``C`` used.

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
from sklearn.model_selection import GridSearchCV, StratifiedKFold
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
    c: dict[str, float] = field(default_factory=dict)

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
    x: np.ndarray, y: np.ndarray, test_x: np.ndarray, c_grid: Sequence[float], folds: int,
    seed: int, max_iter: int
) -> tuple[np.ndarray, float] | None:
    """Positive-class scores of one finding's probe and the ``C`` it used (None when ``y``
    lacks a class). ``C`` is cross-validated over ``c_grid`` with up to ``folds`` stratified
    folds (as many as the rarer class allows; the scaler is fitted inside each fold), or is
    the grid's middle value when the rarer class has a single image or the grid one value."""
    kept = y != IGNORE
    x, y = x[kept], y[kept]
    if len(np.unique(y)) < 2:
        return None
    model = make_pipeline(StandardScaler(), LogisticRegression(
        C=sorted(c_grid)[len(c_grid) // 2], max_iter=max_iter))
    folds = min(folds, int(np.bincount(y.astype(int)).min()))
    if folds >= 2 and len(c_grid) > 1:
        model = GridSearchCV(model, {"logisticregression__C": list(c_grid)}, scoring="roc_auc",
                             cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    model.fit(x, y)
    fitted = model.best_estimator_ if isinstance(model, GridSearchCV) else model
    return model.decision_function(test_x), float(fitted[-1].C)


def linear_probe(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    findings: Sequence[str],
    fractions: Sequence[float] = (0.01, 0.1, 1.0),
    seeds: Sequence[int] = (0, 1, 2),
    min_positives: int = 5,
    *,
    c_grid: Sequence[float],
    cv_folds: int,
    max_iter: int = 1000,
) -> ProbeResult:
    """Probe every fraction × seed (100 % once, with the first seed: it has one subset); see the
    module docstring for the finding selection and the choice of ``C`` from ``c_grid`` by
    ``cv_folds``-fold cross-validation."""
    columns = eligible_findings(train_labels, test_labels, findings, min_positives)
    names = [findings[c_] for c_ in columns]
    result = ProbeResult(findings=names)
    if not columns:
        return result
    for fraction in fractions:
        # the whole training set is one subset: seeds would only repeat it
        for seed in seeds if fraction < 1.0 else seeds[:1]:
            rows = stratified_subset(train_labels[:, columns], fraction, seed)
            auc: dict[str, float] = {}
            chosen: dict[str, float] = {}
            not_fitted: list[str] = []
            for name, column in zip(names, columns, strict=True):
                fitted = _fit_predict(train_features[rows], train_labels[rows, column],
                                      test_features, c_grid, cv_folds, seed, max_iter)
                if fitted is None:
                    not_fitted.append(name)
                    continue
                score, chosen[name] = fitted
                auc.update(auc_per_finding(score[:, None], test_labels[:, [column]], [name]))
            result.runs.append(ProbeRun(fraction, seed, len(rows), auc, tuple(not_fitted),
                                        chosen))
    return result


def probe_metric_name(fraction: float, suffix: str = "") -> str:
    """``probe_auc_1`` (1 %), ``probe_auc_100`` style metric key of a label fraction, with an
    optional label-source suffix (``probe_auc_100_parser``)."""
    return f"probe_auc_{fraction * 100:g}{suffix}"
