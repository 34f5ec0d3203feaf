"""Retrieval Recall@k on known answers (perfect, shuffled, random embeddings), by study and by
finding set, with exact chance levels and the finding-set-prior baseline."""

from __future__ import annotations

import itertools

import pytest
import torch

from cxralign.eval.chance import chance_hit_rate_at_k, prior_scores
from cxralign.eval.retrieval import (
    RetrievalKeys,
    hit_rate_at_k,
    metric_name,
    relevance,
    retrieval_metrics,
)


def _by_study(image_studies: list[str], report_studies: list[str]) -> dict[str, RetrievalKeys]:
    return {"study": RetrievalKeys(image_studies, report_studies)}


def test_perfect_embeddings_retrieve_their_own_study_first():
    reports = torch.randn(20, 16)
    studies = [f"s{i}" for i in range(20)]
    keys = _by_study(studies, studies)
    result = retrieval_metrics(reports.clone(), reports, keys, keys["study"], ks=(1, 5))
    assert result.metrics == {"retrieval_i2t_r1_study": 1.0, "retrieval_i2t_r5_study": 1.0,
                              "retrieval_t2i_r1_study": 1.0, "retrieval_t2i_r5_study": 1.0}
    assert result.chance == pytest.approx({"retrieval_i2t_r1_study": 1 / 20,
                                           "retrieval_i2t_r5_study": 5 / 20,
                                           "retrieval_t2i_r1_study": 1 / 20,
                                           "retrieval_t2i_r5_study": 5 / 20})


def test_two_images_per_study_and_report_queries_hit_any_of_them():
    reports = torch.eye(4)
    images = torch.cat([torch.eye(4), torch.eye(4)])  # every study has two identical views
    studies = ["a", "b", "c", "d"]
    keys = _by_study(studies + studies, studies)
    result = retrieval_metrics(images, reports, keys, keys["study"], ks=(1,))
    assert result.metrics["retrieval_i2t_r1_study"] == 1.0
    assert result.metrics["retrieval_t2i_r1_study"] == 1.0
    # a report query has two relevant images of eight: 1 - C(6,1)/C(8,1)
    assert result.chance["retrieval_t2i_r1_study"] == pytest.approx(2 / 8)


def test_wrong_match_scores_zero_at_one_and_one_at_n():
    # each image points at the NEXT study's report: never first, always within all n
    reports = torch.eye(5)
    images = torch.roll(torch.eye(5), shifts=1, dims=0)
    keys = _by_study(list("abcde"), list("abcde"))
    metrics = retrieval_metrics(images, reports, keys, keys["study"], ks=(1, 5)).metrics
    assert metrics["retrieval_i2t_r1_study"] == 0.0 and metrics["retrieval_i2t_r5_study"] == 1.0


def test_random_embeddings_recall_about_k_over_n():
    generator = torch.Generator().manual_seed(0)
    n = 400
    similarity = torch.rand(n, n, generator=generator)
    relevant = torch.eye(n, dtype=torch.bool)
    recall = hit_rate_at_k(similarity, relevant, ks=(1, 10, 40))
    for k, value in recall.items():
        assert value == pytest.approx(k / n, abs=3 * (k / n * (1 - k / n) / n) ** 0.5 + 1e-3)
    assert chance_hit_rate_at_k(relevant, (1, 10, 40)) == pytest.approx(
        {1: 1 / n, 10: 10 / n, 40: 40 / n})


def test_chance_is_exact_for_known_multiplicities():
    """Four queries whose keys occur 3, 2, 1 and 0 times among six candidates."""
    relevant = relevance(["a", "b", "c", "d"], ["a", "a", "a", "b", "b", "c"])
    assert relevant.sum(dim=1).tolist() == [3, 2, 1, 0]
    chance = chance_hit_rate_at_k(relevant, (1, 2, 6, 10))
    assert chance[1] == pytest.approx((3 / 6 + 2 / 6 + 1 / 6 + 0) / 4)
    # 1 - C(6-m, 2) / C(6, 2) per query: 1 - 3/15, 1 - 6/15, 1 - 10/15, 0
    assert chance[2] == pytest.approx((12 / 15 + 9 / 15 + 5 / 15 + 0) / 4)
    assert chance[6] == chance[10] == pytest.approx(3 / 4)  # every candidate is retrieved


def test_random_rankings_reach_the_formula():
    """Simulated random similarities agree with the hypergeometric chance level."""
    relevant = relevance([f"k{i % 5}" for i in range(40)], [f"k{i % 7}" for i in range(30)])
    generator = torch.Generator().manual_seed(1)
    ks = (1, 3, 10)
    similarity = torch.rand(2000, *relevant.shape, generator=generator)  # 2000 random rankings
    chance = chance_hit_rate_at_k(relevant, ks)
    for k in ks:
        top = similarity.topk(k, dim=-1).indices
        hits = relevant.expand_as(similarity).gather(-1, top).any(dim=-1)
        assert hits.float().mean().item() == pytest.approx(chance[k], abs=0.005), k
    assert chance[1] != pytest.approx(1 / 30)  # several relevant candidates: not k / n


def test_a_report_with_identical_text_counts_as_a_hit():
    # study b's report has study a's text: retrieving either for image a (or b) is correct
    reports = torch.eye(3)
    images = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    texts = ["Normal chest.", "Normal chest.", "Effusion."]
    by_text = _by_study(texts, texts)
    by_study = _by_study(list("abc"), list("abc"))
    metrics = retrieval_metrics(images, reports, by_text, by_text["study"], ks=(1,)).metrics
    assert metrics["retrieval_i2t_r1_study"] == pytest.approx(2 / 3)
    assert retrieval_metrics(images, reports, by_study, by_study["study"],
                             ks=(1,)).metrics["retrieval_i2t_r1_study"] == 0.0


def test_finding_set_hits_and_chance():
    """Images retrieve another study's report stating the same findings (or, for the two
    normal studies, the same empty set): a finding-set hit, a study miss."""
    sets = [("edema",), ("edema",), (), (), ("effusion", "edema")]
    reports = torch.eye(5)
    images = reports[[1, 0, 3, 2, 1]]  # the last image points at a report of a different set
    keys = {"study": RetrievalKeys(list("abcde"), list("abcde")),
            "findings": RetrievalKeys(sets, sets)}
    result = retrieval_metrics(images, reports, keys, keys["findings"], ks=(1,))
    assert result.metrics["retrieval_i2t_r1_study"] == 0.0
    assert result.metrics["retrieval_i2t_r1_findings"] == pytest.approx(4 / 5)
    # relevant reports per image: 2, 2, 2 (empty set), 2, 1 of 5
    assert result.chance["retrieval_i2t_r1_findings"] == pytest.approx((2 * 4 + 1) / 25)
    assert result.chance["retrieval_i2t_r1_study"] == pytest.approx(1 / 5)


def test_prior_baseline_ranks_by_finding_set_frequency_ignoring_the_query():
    sets = [("edema",), (), ("edema",), ("edema",), ()]
    assert prior_scores(sets).argsort(descending=True).tolist() == [0, 2, 3, 1, 4]
    keys = {"findings": RetrievalKeys(sets, sets)}
    result = retrieval_metrics(torch.randn(5, 4), torch.randn(5, 4), keys, keys["findings"],
                               ks=(1, 4))
    # every image gets report 0 (edema, the commonest set) first: a hit for the 3 edema images
    assert result.trivial["retrieval_i2t_r1_findings"] == pytest.approx(3 / 5)
    # the first 4 reports hold both sets: every image is hit
    assert result.trivial["retrieval_i2t_r4_findings"] == 1.0
    assert set(result.trivial) == set(result.chance) == set(result.metrics)


def test_metric_keys_are_stable():
    names = {metric_name(d, k, kind)
             for d, k, kind in itertools.product(("i2t", "t2i"), (1, 10), ("study", "findings"))}
    assert {"retrieval_i2t_r1_study", "retrieval_i2t_r1_findings", "retrieval_t2i_r1_findings",
            "retrieval_i2t_r10_study"} <= names
