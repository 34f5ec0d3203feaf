"""Retrieval Recall@k on known answers: perfect embeddings, shuffled ones, random ones."""

from __future__ import annotations

import pytest
import torch

from cxralign.eval.retrieval import hit_rate_at_k, retrieval_metrics


def test_perfect_embeddings_retrieve_their_own_study_first():
    reports = torch.randn(20, 16)
    metrics = retrieval_metrics(reports.clone(), [f"s{i}" for i in range(20)], reports,
                                [f"s{i}" for i in range(20)], ks=(1, 5))
    assert metrics == {"i2t_R@1": 1.0, "i2t_R@5": 1.0, "t2i_R@1": 1.0, "t2i_R@5": 1.0}


def test_two_images_per_study_and_report_queries_hit_any_of_them():
    reports = torch.eye(4)
    images = torch.cat([torch.eye(4), torch.eye(4)])  # every study has two identical views
    studies = ["a", "b", "c", "d"]
    metrics = retrieval_metrics(images, studies + studies, reports, studies, ks=(1,))
    assert metrics["i2t_R@1"] == 1.0 and metrics["t2i_R@1"] == 1.0


def test_wrong_match_scores_zero_at_one_and_one_at_n():
    # each image points at the NEXT study's report: never first, always within all n
    reports = torch.eye(5)
    images = torch.roll(torch.eye(5), shifts=1, dims=0)
    metrics = retrieval_metrics(images, list("abcde"), reports, list("abcde"), ks=(1, 5))
    assert metrics["i2t_R@1"] == 0.0 and metrics["i2t_R@5"] == 1.0


def test_random_embeddings_recall_about_k_over_n():
    generator = torch.Generator().manual_seed(0)
    n = 400
    similarity = torch.rand(n, n, generator=generator)
    relevant = torch.eye(n, dtype=torch.bool)
    recall = hit_rate_at_k(similarity, relevant, ks=(1, 10, 40))
    for k, value in recall.items():
        assert value == pytest.approx(k / n, abs=3 * (k / n * (1 - k / n) / n) ** 0.5 + 1e-3)


def test_a_report_with_identical_text_counts_as_a_hit():
    # study b's report has study a's text: retrieving either for image a (or b) is correct
    reports = torch.eye(3)
    images = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    studies, texts = ["a", "b", "c"], ["Normal chest.", "Normal chest.", "Effusion."]
    by_text = retrieval_metrics(images, studies, reports, studies, ks=(1,), report_texts=texts)
    by_study = retrieval_metrics(images, studies, reports, studies, ks=(1,))
    assert by_text["i2t_R@1"] == pytest.approx(2 / 3) and by_study["i2t_R@1"] == 0.0


def test_duplicate_report_studies_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        retrieval_metrics(torch.eye(2), ["a", "a"], torch.eye(2), ["a", "a"])
