"""Fitting the calibrated second stage (:mod:`cxralign.text.calibration`) on MeSH-coded reports.

Labels: a rule-positive (report, finding) is *indexed* when the report's MeSH major terms name
that finding under the strict mapping. Folds are report-disjoint (every candidate of a report
falls in one fold). The threshold is chosen on out-of-fold probabilities of the fitting reports
only: the one with the best micro-F1 over the frequent findings, among thresholds that keep every
class's recall at or above ``min(0.95, its rule recall)`` (the calibrator only removes positives,
so recall can only fall). A (finding, evidence kind) cell with fewer than
:data:`MIN_CELL_SUPPORT` training candidates is never overruled - in the folds as in the final
model (its out-of-fold probability reads 1). The caller decides which reports fit (the ``dev``
half) and which confirm (``confirm``), so the confirming half never influences the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from cxralign.text.calibration import (
    FEATURES,
    Calibrator,
    Candidate,
    candidates,
    cell_support,
    rules_decide,
)
from cxralign.text.evaluation import (
    Report,
    Scores,
    expected_findings,
    frequent_findings,
    half,
    keep_indexed,
    load_reports,
    parse,
    positive_regions,
    score,
)
from cxralign.text.mesh import STRICT
from cxralign.text.triplets import RuleParser

MIN_RECALL = 0.95
# Fewest training candidates of one (finding, evidence kind) cell before the model may drop one
# of that cell. Chosen on the dev half's cross-validation alone (1: 0.960, 3: 0.956, 5: 0.953
# out-of-fold micro-F1; fewer always wins there, since dev's folds rarely hide a cell dev lacks):
# three is the fewest from which "none of them was indexed" says something.
MIN_CELL_SUPPORT = 3
THRESHOLDS = (0.0,) + tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.01))  # 0: keep all


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold probabilities and the chosen threshold with its scores."""

    probabilities: np.ndarray
    threshold: float
    rules: Scores
    calibrated: Scores


def labels(found: Sequence[Candidate], reports: Sequence[Report], mapping: str = STRICT) -> np.ndarray:
    """1 where the report's MeSH terms (read under ``mapping``) name the candidate's finding."""
    expected = {r.study_id: set(expected_findings(r, mapping)[0]) for r in reports}
    return np.array([c.finding in expected.get(c.study_id, set()) for c in found], dtype=int)


def _matrix(found: Sequence[Candidate]) -> np.ndarray:
    return np.array([c.vector() for c in found], dtype=float)


def _model(strength: float) -> LogisticRegression:
    return LogisticRegression(C=strength, max_iter=2000)


def fit_model(found: Sequence[Candidate], y: np.ndarray, strength: float) -> tuple[np.ndarray, float]:
    """Coefficients (in :data:`FEATURES` order) and intercept of the L2 logistic regression."""
    model = _model(strength).fit(_matrix(found), y)
    return model.coef_[0], float(model.intercept_[0])


def out_of_fold(found: Sequence[Candidate], y: np.ndarray, strength: float, folds: int) -> np.ndarray:
    """Probability of each candidate from a model that never saw its report (1 where its cell
    had too little support in that model's training folds)."""
    x = _matrix(found)
    groups = [c.study_id for c in found]
    probabilities = np.zeros(len(found))
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        model = _model(strength).fit(x[train], y[train])
        support = cell_support(found[i] for i in train)
        guarded = np.array([rules_decide(found[i], support, MIN_CELL_SUPPORT) for i in test])
        probabilities[test] = np.where(guarded, 1.0, model.predict_proba(x[test])[:, 1])
    return probabilities


def calibrated_scores(reports: Sequence[Report], predicted: dict, found: Sequence[Candidate],
                      probabilities: np.ndarray, threshold: float, mapping: str = STRICT) -> Scores:
    """Scores of the rule predictions kept where the probability reaches ``threshold``."""
    indexed: dict[str, set[str]] = {}
    for candidate, probability in zip(found, probabilities, strict=True):
        if probability >= threshold:
            indexed.setdefault(candidate.study_id, set()).add(candidate.finding)
    return score(list(reports), keep_indexed(predicted, indexed), mapping)


def choose_threshold(reports: Sequence[Report], predicted: dict, found: Sequence[Candidate],
                     probabilities: np.ndarray, mapping: str = STRICT) -> CrossValidation:
    """The threshold with the best micro-F1 (frequent findings) that keeps class recall."""
    rules = score(list(reports), predicted, mapping)
    frequent = frequent_findings(rules)
    floor = {f: min(MIN_RECALL, rules.prf(f)[1]) for f in frequent}
    best: tuple[float, float, Scores] | None = None
    for threshold in THRESHOLDS:
        scores = calibrated_scores(reports, predicted, found, probabilities, threshold, mapping)
        if any(scores.prf(f)[1] < floor[f] - 1e-9 for f in frequent):
            continue
        f1 = scores.micro(frequent)[2]
        if best is None or f1 > best[1] + 1e-9:
            best = (threshold, f1, scores)
    assert best is not None  # threshold 0 keeps every rule-positive, so it always qualifies
    return CrossValidation(probabilities, best[0], rules, best[2])


def fit(reports: Sequence[Report], predicted: dict, found: Sequence[Candidate], *,
        strength: float = 1.0, folds: int = 5) -> tuple[Calibrator, CrossValidation]:
    """Cross-validate on ``reports`` (threshold), then fit on all of them."""
    y = labels(found, reports)
    cv = choose_threshold(reports, predicted, found, out_of_fold(found, y, strength, folds))
    coefficients, intercept = fit_model(found, y, strength)
    frequent = frequent_findings(cv.rules)
    provenance = {
        "reports": len(reports), "candidates": len(found), "indexed": int(y.sum()),
        "mapping": STRICT, "l2_C": strength, "folds": folds,
        "cv_micro_f1_rules": round(cv.rules.micro(frequent)[2], 4),
        "cv_micro_f1_calibrated": round(cv.calibrated.micro(frequent)[2], 4),
    }
    calibrator = Calibrator(FEATURES, tuple(float(c) for c in coefficients), intercept,
                            cv.threshold, cell_support(found), MIN_CELL_SUPPORT, provenance)
    return calibrator, cv


def fit_on_directory(directory: Path, split: str = "dev", strength: float = 1.0,
                     folds: int = 5) -> tuple[Calibrator, str]:
    """Fit on the ``dev`` half (or ``all``) of an OpenI directory with the rule parser; the
    calibrator and a Markdown summary (cross-validated scores, then the coefficients)."""
    reports = [r for r in load_reports(directory) if split == "all" or half(r.study_id) == split]
    sentences, triplets = parse(reports, RuleParser())
    found = candidates(sentences, triplets)
    calibrator, cv = fit(reports, positive_regions(triplets), found, strength=strength, folds=folds)
    calibrator = replace(calibrator, provenance={**calibrator.provenance, "split": split,
                                                 "source": Path(directory).name})
    return calibrator, summary(calibrator, cv)


def summary(calibrator: Calibrator, cv: CrossValidation) -> str:
    """Cross-validated micro/macro-F1 and normal share, rules vs calibrated, and the weights."""
    frequent = frequent_findings(cv.rules)
    lines = [f"{len(cv.probabilities)} rule-positive (report, finding) pairs; threshold "
             f"{calibrator.threshold:.2f} (report-disjoint {calibrator.provenance['folds']}-fold CV)",
             "", "| out-of-fold | micro P | micro R | micro F1 | macro F1 | normal reports clean |",
             "|---|---|---|---|---|---|"]
    for name, scores in (("rules", cv.rules), ("rules + calibrator", cv.calibrated)):
        p, r, f = scores.micro(frequent)
        lines.append(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} | {scores.macro(frequent)[2]:.3f} "
                     f"| {scores.normal_share:.3f} |")
    if calibrator.threshold == 0.0:
        lines += ["", "No threshold beat the rules in cross-validation while keeping class recall: "
                  "this model indexes every rule-positive (it does not generalise here)."]
    lines += ["", f"intercept {calibrator.intercept:+.3f}; coefficients (non-zero features):"]
    weights = sorted(zip(calibrator.features, calibrator.coefficients, strict=True),
                     key=lambda item: -abs(item[1]))
    lines += [f"  {name:32s} {weight:+.3f}" for name, weight in weights if abs(weight) >= 5e-4]
    return "\n".join(lines) + "\n"
