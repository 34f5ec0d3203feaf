"""Region grounding ranks on constructed scores, report-generation scores on known texts."""

from __future__ import annotations

import pytest
import torch

from cxralign.eval.generation import generation_metrics, generation_references, nearest_reports
from cxralign.eval.grounding import (
    GroundingQuery,
    grounding_chance,
    grounding_metrics,
    grounding_prior,
    grounding_rank,
)

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
    perfect = generation_metrics(texts, texts)
    assert perfect == pytest.approx({"BLEU-1": 1.0, "BLEU-2": 1.0, "BLEU-3": 1.0,
                                     "BLEU-4": 1.0, "ROUGE-L": 1.0})
    disjoint = generation_metrics(["alpha beta gamma delta epsilon"], ["one two three four five"])
    assert disjoint["BLEU-1"] == 0.0 and disjoint["ROUGE-L"] == 0.0
    partial = generation_metrics(["no pleural effusion seen today"], ["no pleural effusion"])
    assert 0.0 < partial["BLEU-1"] < 1.0 and 0.0 < partial["ROUGE-L"] < 1.0


def test_nearest_report_is_the_most_similar_embedding():
    reports = torch.eye(3)
    images = torch.tensor([[0.1, 0.9, 0.0], [0.0, 0.2, 1.0]])
    assert nearest_reports(images, reports) == [1, 2]


def test_generation_references_score_random_and_commonest_training_reports():
    train = ["No acute disease.", "No acute disease.", "Small left effusion."]
    references = ["No acute disease.", "No acute disease."]
    chance, trivial = generation_references(train, references, seed=0)
    assert trivial["BLEU-1"] == pytest.approx(1.0) and trivial["ROUGE-L"] == pytest.approx(1.0)
    assert 0.0 <= chance["ROUGE-L"] <= 1.0
    assert generation_references([], references, seed=0) == ({}, {})
