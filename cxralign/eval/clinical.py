"""Clinical efficacy (CE) of generated reports, scored by our own triplet parser.

The report-generation literature runs the CheXpert labeler on generated and reference reports
and compares the labels; here the rule parser (:mod:`cxralign.text.triplets`) plays that part.
A finding counts as positive when a report states it present or uncertain (the literature's
"positive or uncertain" convention); negated and unmentioned findings are negative.

* finding level: per report, the set of positive findings; precision / recall / F1 micro
  (pooled over reports and findings) and macro (mean over the findings positive in some
  reference).
* region level: per report, the set of positive (region, finding) pairs, so a finding counts
  only in the right region; micro F1. Its chance level is the expected micro F1 of reports
  whose positive pairs are each reference's pairs shuffled across the reports of the split
  (same label prevalence, no link to the image), computed exactly per pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np

from cxralign.text.pipeline import TripletParser
from cxralign.text.sentences import split_sentences

POSITIVE: Final = frozenset({"present", "uncertain"})
"""Existence values a CE metric counts as positive."""

Labels = list[frozenset[tuple[str, str]]]


def report_labels(reports: Sequence[str], parser: TripletParser) -> Labels:
    """Per report, its positive (region, finding) pairs over all sentences."""
    labels = []
    for report in reports:
        sentences = [report[start:end] for start, end in split_sentences(report)]
        labels.append(frozenset((t.region, t.finding) for found in parser.parse_many(sentences)
                                for t in found if t.existence in POSITIVE))
    return labels


def finding_sets(labels: Labels) -> list[frozenset[str]]:
    """Per report, its positive findings wherever they are."""
    return [frozenset(f for _, f in pairs) for pairs in labels]


def _micro(predicted: Sequence[frozenset], reference: Sequence[frozenset]) -> dict[str, float]:
    hits = sum(len(p & r) for p, r in zip(predicted, reference, strict=True))
    said, true = sum(map(len, predicted)), sum(map(len, reference))
    precision = hits / said if said else 0.0
    recall = hits / true if true else 0.0
    f1 = 2 * hits / (said + true) if said + true else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _macro_f1(predicted: Sequence[frozenset], reference: Sequence[frozenset]) -> float:
    classes = sorted(set().union(*reference)) if reference else []
    scores = [_micro([p & {c} for p in predicted], [r & {c} for r in reference])["f1"]
              for c in classes]
    return float(np.mean(scores)) if scores else float("nan")


def clinical_metrics(predicted: Labels, reference: Labels) -> dict[str, float]:
    """``ce_precision``, ``ce_recall``, ``ce_f1_micro``, ``ce_f1_macro`` (findings) and
    ``region_f1`` ((region, finding) pairs) of ``predicted`` against ``reference``."""
    if len(predicted) != len(reference):
        raise ValueError("one reference per prediction")
    found = _micro(finding_sets(predicted), finding_sets(reference))
    return {"ce_precision": found["precision"], "ce_recall": found["recall"],
            "ce_f1_micro": found["f1"],
            "ce_f1_macro": _macro_f1(finding_sets(predicted), finding_sets(reference)),
            "region_f1": _micro(predicted, reference)["f1"]}


def shuffled_f1_chance(reference: Iterable[frozenset]) -> float:
    """Expected micro F1 of predictions that are a random permutation of ``reference`` over
    its reports: a label stated by ``c`` of ``n`` reports is expected to hit ``c²/n`` times,
    and the number of predicted labels equals the number of true ones, so F1 = hits / labels
    (linear in the hits, hence exact in expectation)."""
    labels = list(reference)
    if not labels:
        return float("nan")
    counts: dict = {}
    for pairs in labels:
        for pair in pairs:
            counts[pair] = counts.get(pair, 0) + 1
    total = sum(counts.values())
    if not total:
        return 0.0
    return sum(c * c for c in counts.values()) / len(labels) / total
