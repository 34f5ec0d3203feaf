"""Region grounding ranks on constructed scores, report-generation scores on known texts."""

from __future__ import annotations

import pytest
import torch

from cxralign.eval.evaluate import evaluate_model
from cxralign.eval.grounding import (
    GroundingQuery,
    grounding_chance,
    grounding_metrics,
    grounding_prior,
    grounding_rank,
)
from cxralign.eval.settings import EvaluationSettings
from cxralign.generate.evaluation import text_scores
from cxralign.models.model import AlignmentModel

REGIONS = ["right lung", "left lung", "cardiac silhouette", "trachea"]


def test_named_box_scoring_highest_is_rank_one():
    query = GroundingQuery(torch.tensor([0.1, 0.9, 0.3, 0.2]), REGIONS, frozenset({"left lung"}))
    assert grounding_rank(query) == 1


def test_rank_counts_boxes_above_the_best_named_one():
    scores = torch.tensor([0.5, 0.1, 0.9, 0.7])
    assert grounding_rank(GroundingQuery(scores, REGIONS, frozenset({"left lung"}))) == 4
    # two named regions: the better one counts
    both = frozenset({"left lung", "right lung"})
    assert grounding_rank(GroundingQuery(scores, REGIONS, both)) == 3
    with pytest.raises(ValueError):
        grounding_rank(GroundingQuery(scores, REGIONS, frozenset({"spine"})))


def test_metrics_from_region_and_sentence_embeddings():
    # region embeddings are one-hot; a sentence embedding equals its region's: perfect grounding
    regions = torch.eye(4)
    queries = [GroundingQuery(regions @ regions[i], REGIONS, frozenset({REGIONS[i]}))
               for i in range(4)]
    metrics = grounding_metrics(queries)
    assert metrics["grounding_top1"] == 1.0 and metrics["grounding_mean_rank"] == 1.0
    assert metrics["grounding_queries"] == 4
    assert grounding_chance(queries) == {"grounding_top1": 0.25, "grounding_mean_rank": 2.5}
    # sentences pointing at the wrong region rank it last
    wrong = [GroundingQuery(-(regions @ regions[i]), REGIONS, frozenset({REGIONS[i]}))
             for i in range(4)]
    assert grounding_metrics(wrong)["grounding_mean_rank"] == 4.0


def test_random_scores_ground_at_about_chance():
    generator = torch.Generator().manual_seed(0)
    queries = [GroundingQuery(torch.rand(4, generator=generator), REGIONS, frozenset({"trachea"}))
               for _ in range(2000)]
    metrics = grounding_metrics(queries)
    assert metrics["grounding_top1"] == pytest.approx(0.25, abs=0.03)
    assert metrics["grounding_mean_rank"] == pytest.approx(2.5, abs=0.1)


def test_grounding_chance_counts_correct_boxes_per_query():
    scores = torch.zeros(4)
    queries = [GroundingQuery(scores, REGIONS, frozenset({"left lung", "right lung"})),
               GroundingQuery(scores[:3], REGIONS[:3], frozenset({"trachea", "left lung"}))]
    chance = grounding_chance(queries)
    # 2 of 4 boxes named, then 1 of 3 (the image has no trachea box)
    assert chance["grounding_top1"] == pytest.approx((2 / 4 + 1 / 3) / 2)
    # expected rank of the best named box: (4 + 1) / (2 + 1) and (3 + 1) / (1 + 1)
    assert chance["grounding_mean_rank"] == pytest.approx((5 / 3 + 2) / 2)


def test_region_prior_baseline_picks_the_most_named_region():
    scores = torch.rand(4, generator=torch.Generator().manual_seed(0))
    queries = [GroundingQuery(scores, REGIONS, frozenset({name}))
               for name in ("trachea", "trachea", "trachea", "left lung")]
    prior = grounding_prior(queries)
    # the trachea box ranks first for every query whatever the scores: right 3 times of 4
    assert prior["grounding_top1"] == 0.75
    # left lung comes second (named once, before the never-named regions)
    assert prior["grounding_mean_rank"] == pytest.approx((1 + 1 + 1 + 2) / 4)


def test_identical_reports_score_one_and_disjoint_ones_zero():
    texts = ["No pleural effusion or pneumothorax.", "Mild cardiomegaly with small effusion."]
    perfect = text_scores(texts, texts)
    assert perfect == pytest.approx({"generation_bleu1": 1.0, "generation_bleu2": 1.0,
                                     "generation_bleu3": 1.0, "generation_bleu4": 1.0,
                                     "generation_rouge_l": 1.0})
    disjoint = text_scores(["alpha beta gamma delta epsilon"], ["one two three four five"])
    assert disjoint["generation_bleu1"] == 0.0 and disjoint["generation_rouge_l"] == 0.0
    partial = text_scores(["no pleural effusion seen today"], ["no pleural effusion"])
    assert 0.0 < partial["generation_bleu1"] < 1.0 and 0.0 < partial["generation_rouge_l"] < 1.0
    assert text_scores([], []) == {}


def test_generator_off_still_scores_both_baselines(eval_catalog, eval_models):
    """generation_epochs = 0: no generator row, the two training-free baseline rows stay."""
    settings = EvaluationSettings(generation_epochs=0, probe_fractions=[1.0], probe_seeds=[0],
                                  probe_min_positives=1)
    evaluation = evaluate_model(AlignmentModel.load(eval_models[0]), eval_catalog, settings,
                                progress=lambda line: None)
    generation = {key for key in evaluation.metrics if "generation_" in key}
    assert "generation_ce_f1_micro" not in generation  # the generator's own row
    assert {"nearest_neighbour:generation_bleu4", "most_frequent:generation_rouge_l",
            "nearest_neighbour:generation_ce_f1_micro"} <= generation
    assert not any(key.startswith(("BLEU", "ROUGE")) for key in evaluation.metrics)
    assert evaluation.trivial["generation_ce_f1_micro"] == (
        evaluation.metrics["most_frequent:generation_ce_f1_micro"])
    assert 0.0 <= evaluation.chance["generation_ce_f1_micro"] <= 1.0
    assert "generation_threshold" not in evaluation.details
