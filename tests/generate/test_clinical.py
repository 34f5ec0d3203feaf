"""Clinical-efficacy scores on constructed report pairs with answers worked out by hand."""

from __future__ import annotations

import math

import pytest

from cxralign.eval.clinical import clinical_metrics, report_labels, shuffled_f1_chance
from cxralign.text.pipeline import load_parser


@pytest.fixture(scope="module")
def parser():
    return load_parser("rules")


def scores(predicted: list[str], reference: list[str], parser) -> dict[str, float]:
    return clinical_metrics(report_labels(predicted, parser), report_labels(reference, parser))


def test_negated_finding_is_not_positive(parser):
    result = scores(["No effusion."], ["Right pleural effusion."], parser)
    assert result["ce_precision"] == 0 and result["ce_recall"] == 0
    assert result["ce_f1_micro"] == 0 and result["region_f1"] == 0


def test_identical_reports_score_one(parser):
    text = "Right pleural effusion. Possible mild cardiomegaly."
    result = scores([text], [text], parser)
    assert result["ce_f1_micro"] == result["ce_f1_macro"] == result["region_f1"] == 1.0


def test_uncertain_counts_as_positive(parser):
    assert scores(["Possible right pleural effusion."], ["Right pleural effusion."],
                  parser)["ce_f1_micro"] == 1.0


def test_wrong_side_hits_the_finding_but_not_the_region(parser):
    result = scores(["Left pleural effusion."], ["Right pleural effusion."], parser)
    assert result["ce_f1_micro"] == 1.0
    assert result["region_f1"] == 0.0


def test_micro_and_macro_by_hand(parser):
    # effusion: 2 of 3 references found, no false positive -> F1 0.8; cardiomegaly: 1.0
    predicted = ["Right pleural effusion.", "No effusion.",
                 "Possible mild cardiomegaly. Small left pleural effusion."]
    reference = ["Right pleural effusion.", "Right pleural effusion.",
                 "Possible mild cardiomegaly. Small left pleural effusion."]
    result = scores(predicted, reference, parser)
    assert result["ce_precision"] == 1.0
    assert result["ce_recall"] == pytest.approx(3 / 4)
    assert result["ce_f1_micro"] == pytest.approx(6 / 7)
    assert result["ce_f1_macro"] == pytest.approx((0.8 + 1.0) / 2)
    assert result["region_f1"] == pytest.approx(6 / 7)


def test_normal_reports_have_no_macro_classes(parser):
    result = scores(["No acute cardiopulmonary process."], ["The lungs are clear."], parser)
    assert result["ce_f1_micro"] == 0 and math.isnan(result["ce_f1_macro"])


def test_shuffled_chance_is_exact():
    # labels a (2 of 4 reports) and b (1 of 4): expected hits 4/4 + 1/4, 3 labels -> 5/12
    labels = [frozenset({"a"}), frozenset({"a", "b"}), frozenset(), frozenset()]
    assert shuffled_f1_chance(labels) == pytest.approx(5 / 12)
    assert shuffled_f1_chance([frozenset()] * 3) == 0.0
