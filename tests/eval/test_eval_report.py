"""Aggregation over seeds, the primary-vs-baseline verdict and the outputs, on constructed
evaluations (no model involved)."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pytest

from cxralign.eval.evaluate import ModelEvaluation
from cxralign.eval.report import (
    RANDOM_INIT_BASELINE,
    generation_markdown,
    metrics_table,
    write_report,
)
from cxralign.eval.run import ModelSpec, RunOutcome, aggregate
from cxralign.eval.settings import EvaluationSettings
from cxralign.eval.verdict import compare


def _outcome(values: dict[str, list[float]], metric: str = "grounding_top1",
             chance: float = 0.25, trivial: float = 0.4) -> RunOutcome:
    outcome = RunOutcome()
    for label, per_seed in values.items():
        for seed, value in enumerate(per_seed):
            outcome.evaluations.append((ModelSpec(label, seed), ModelEvaluation(
                metrics={metric: value}, chance={metric: chance}, trivial={metric: trivial})))
    return outcome


def test_mean_and_sample_std_over_seeds():
    summary = aggregate(_outcome({"asg": [0.5, 0.7, 0.6], "convirt": [0.2]}))
    asg = summary["asg"]["grounding_top1"]
    assert asg["mean"] == pytest.approx(0.6) and asg["std"] == pytest.approx(0.1)
    assert asg["seeds"] == [0, 1, 2] and asg["values"] == pytest.approx([0.5, 0.7, 0.6])
    assert summary["convirt"]["grounding_top1"]["std"] is None  # one seed has no spread


def test_nan_values_are_kept_as_null_but_not_averaged():
    summary = aggregate(_outcome({"asg": [0.4, math.nan]}))
    assert summary["asg"]["grounding_top1"]["mean"] == pytest.approx(0.4)
    assert summary["asg"]["grounding_top1"]["values"] == [pytest.approx(0.4), None]


def test_verdict_separates_clear_wins_from_overlapping_ones():
    clear = compare(aggregate(_outcome({"asg": [0.60, 0.62], "convirt": [0.30, 0.31]})), "asg")
    assert clear[0].better and clear[0].separated and "beats convirt" in clear[0].sentence()
    overlap = compare(aggregate(_outcome({"asg": [0.3, 0.7], "convirt": [0.45, 0.5]})), "asg")
    assert overlap[0].better and not overlap[0].separated
    lost = compare(aggregate(_outcome({"asg": [0.1], "random-init": [0.2]})), "asg")
    assert not lost[0].better and "does NOT beat" in lost[0].sentence()
    ranks = compare(aggregate(_outcome({"asg": [3.0], "convirt": [9.0]}, "grounding_mean_rank")),
                    "asg")
    assert ranks[0].better  # a lower mean rank is better


def test_outputs_on_constructed_outcome(tmp_path):
    outcome = _outcome({"asg": [0.6, 0.7], "convirt": [0.3, 0.2]})
    report = write_report(outcome, EvaluationSettings(), tmp_path)
    metrics = json.loads(report.metrics_path.read_text())
    assert list(metrics) == ["asg", "convirt", "random-init", "chance", "trivial", "generation"]
    assert metrics["asg"]["grounding_top1"]["mean"] == pytest.approx(0.65)
    assert metrics["random-init"] == {}  # always listed, here not evaluated
    assert metrics["chance"] == {"grounding_top1": 0.25}
    assert metrics["trivial"]["grounding_top1"]["value"] == 0.4
    assert "region is named" in metrics["trivial"]["grounding_top1"]["method"]
    summary = report.summary_path.read_text()
    assert "| metric | chance | trivial baseline | asg | convirt | random-init |" in summary
    assert ("| grounding_top1 | 0.250 | 0.400 | 0.650 ± 0.071 (2.6× chance) | "
            "0.250 ± 0.071 (1.0× chance) | not evaluated |") in summary
    assert "| model seeds | | | 0, 1 | 0, 1 | none |" in summary
    assert [p.name for p in report.plots] == ["metrics.png"]  # no retrieval examples given
    rows = metrics_table(report.summary).to_pylist()
    assert rows[0] == {"recipe": "asg", "metric": "grounding_top1", "mean": pytest.approx(0.65),
                       "std": pytest.approx(0.0707, abs=1e-4), "n_seeds": 2, "seeds": [0, 1]}
    assert "beats convirt on grounding_top1" in report.markdown


def test_auc_baseline_is_the_random_init_row_and_findings_are_counted(tmp_path):
    outcome = _outcome({"asg": [0.8, 0.9], "random-init": [0.55]}, "probe_auc_100", 0.5, 0.0)
    for _, evaluation in outcome.evaluations:
        evaluation.metrics["probe_n_findings_100"] = 7.0
    report = write_report(outcome, EvaluationSettings(), tmp_path)
    metrics = json.loads(report.metrics_path.read_text())
    assert metrics["trivial"]["probe_auc_100"] == {
        "value": pytest.approx(0.55), "method": RANDOM_INIT_BASELINE}
    assert ("| probe_auc_100 | 0.500 | 0.550 | 0.850 ± 0.071 [7 findings] | not evaluated | "
            "0.550 ± n/a [7 findings] |") in report.markdown


def test_chance_references_average_over_models():
    outcome = _outcome({"asg": [0.6], "convirt": [0.3]})
    assert outcome.reference("chance") == {"grounding_top1": 0.25}
    assert outcome.reference("trivial") == {"grounding_top1": 0.4}


def test_one_seed_shows_its_mean_and_no_spread(tmp_path):
    """asg has two seeds, convirt one: convirt's std is null / n/a everywhere it is written,
    and its gap to asg is never called separated."""
    report = write_report(_outcome({"asg": [0.60, 0.62], "convirt": [0.30]}),
                          EvaluationSettings(), tmp_path)
    metrics = json.loads(report.metrics_path.read_text())
    assert metrics["convirt"]["grounding_top1"] == {"mean": 0.3, "std": None, "seeds": [0],
                                                    "values": [0.3]}
    assert metrics["asg"]["grounding_top1"]["std"] == pytest.approx(0.0141, abs=1e-4)
    assert ("| grounding_top1 | 0.250 | 0.400 | 0.610 ± 0.014 (2.4× chance) | "
            "0.300 ± n/a (1.2× chance) | not evaluated |") in report.markdown
    rows = {r["recipe"]: r for r in metrics_table(report.summary).to_pylist()}
    assert rows["convirt"]["std"] is None and rows["asg"]["std"] == pytest.approx(0.0141, abs=1e-4)
    [comparison] = report.comparisons
    assert comparison.better and not comparison.separated  # a 0.31 gap, but one seed
    assert comparison.sentence() == ("asg is ahead of (not shown (one seed)) convirt on "
                                     "grounding_top1: 0.610 ± 0.014 vs 0.300 ± n/a")
    assert "n/a with one seed" in report.markdown


def test_generation_table_writes_one_seed_as_n_a():
    rows = {"generator": {"generation_bleu4": {"mean": 0.25, "std": None}},
            "most_frequent": {"generation_bleu4": {"mean": 0.125, "std": 0.0},
                              "generation_ce_f1_micro": {"mean": 0.5, "std": 0.25}}}
    table = generation_markdown(rows, {"generation_ce_f1_micro": 0.3})
    assert "| generation_bleu4 | – | 0.250 ± n/a | 0.125 ± 0.000 |" in table
    assert "| generation_ce_f1_micro | 0.300 | n/a | 0.500 ± 0.250 |" in table


def test_quality_suite_accepts_a_one_seed_row_without_spread(tmp_path):
    """The evaluation_metrics gate checks std ≥ 0 where there is one; a null (one seed) passes,
    a negative one still fails."""
    from cxralign.quality import SUITES, validate_table
    from cxralign.quality.views import evaluation_completeness

    report = write_report(_outcome({"asg": [0.60, 0.62], "convirt": [0.30]}),
                          EvaluationSettings(), tmp_path)
    table = metrics_table(report.summary)
    suite = SUITES["evaluation_metrics"]()
    checked = validate_table("evaluation_metrics", evaluation_completeness(table), suite)
    assert checked.success, [f.describe() for f in checked.failures]
    negative = table.set_column(3, "std", pa.array([-0.1, None], pa.float64()))
    checked = validate_table("evaluation_metrics", evaluation_completeness(negative), suite)
    assert {f.column for f in checked.failures} == {"std"}
