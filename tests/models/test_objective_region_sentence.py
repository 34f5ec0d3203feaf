"""ASG region–sentence alignment: shapes, gradients, hand-computed values, grouping edge cases."""

from __future__ import annotations

import math

import pytest
import torch

from cxralign.models.objectives.region_sentence import (
    RegionSentenceLoss,
    group_positive_targets,
    pool_sentence_groups,
    same_id_targets,
)


def test_unique_groups_reduce_to_symmetric_infonce_known_answer() -> None:
    regions = torch.eye(2)
    sentences = torch.eye(2)
    loss = RegionSentenceLoss(temperature=1.0)(regions, sentences, torch.eye(2))
    # logits [[1, 0], [0, 1]]: every row and column has CE log(1 + e^-1)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_identical_groups_are_shared_positives_not_negatives() -> None:
    # rows 0 and 1 both gather sentence 0 (one sentence naming two regions), row 2 sentence 1
    groups = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    regions = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    sentences = torch.eye(2)
    loss = RegionSentenceLoss(temperature=1.0)(regions, sentences, groups)
    e = math.e
    # rows 0/1: logits [1, 1, 0], target [½, ½, 0] -> log(2 + e^-1); row 2: log(1 + 2 e^-1);
    # the logits matrix is symmetric, so the text->region direction gives the same value
    expected = (2 * math.log(2 + 1 / e) + math.log(1 + 2 / e)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    targets = group_positive_targets(groups)
    assert torch.allclose(targets, torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0],
                                                 [0.0, 0.0, 1.0]]))


def test_overlapping_but_different_groups_stay_negatives() -> None:
    groups = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert torch.equal(group_positive_targets(groups), torch.eye(2))


def test_multi_sentence_group_uses_the_mean_sentence() -> None:
    torch.manual_seed(0)
    sentences = torch.randn(3, 8)
    groups = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    pooled = pool_sentence_groups(sentences, groups)
    assert torch.allclose(pooled[0], (sentences[0] + sentences[1]) / 2)
    regions = torch.randn(2, 8)
    loss_fn = RegionSentenceLoss(temperature=0.1)
    via_groups = loss_fn(regions, sentences, groups)
    via_means = loss_fn(regions, pooled, torch.eye(2))
    assert via_groups.item() == pytest.approx(via_means.item(), rel=1e-5)


def test_gradients_reach_regions_and_sentences_and_weight_scales() -> None:
    torch.manual_seed(1)
    regions = torch.randn(5, 16, requires_grad=True)
    sentences = torch.randn(7, 16, requires_grad=True)
    groups = (torch.rand(5, 7) > 0.6).float()
    groups[torch.arange(5), torch.arange(5)] = 1.0
    loss = RegionSentenceLoss(temperature=0.07)(regions, sentences, groups)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert regions.grad is not None and regions.grad.abs().sum() > 0
    assert sentences.grad is not None and sentences.grad[:5].abs().sum() > 0
    weighted = RegionSentenceLoss(temperature=0.07, weight=0.25)(regions, sentences, groups)
    assert weighted.item() == pytest.approx(0.25 * loss.item(), rel=1e-6)


def test_rows_without_sentences_are_left_out() -> None:
    torch.manual_seed(2)
    regions = torch.randn(3, 4)
    sentences = torch.randn(2, 4)
    groups = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    loss_fn = RegionSentenceLoss(temperature=0.5)
    with_empty = loss_fn(regions, sentences, groups)
    without = loss_fn(regions[[0, 2]], sentences, groups[[0, 2]])
    assert with_empty.item() == pytest.approx(without.item(), rel=1e-6)


@pytest.mark.parametrize("rows", [0, 3])
def test_no_usable_row_gives_zero_loss_with_grad_fn(rows: int) -> None:
    regions = torch.randn(rows, 4, requires_grad=True)
    sentences = torch.randn(2, 4, requires_grad=True)
    loss = RegionSentenceLoss(temperature=0.07)(regions, sentences, torch.zeros(rows, 2))
    assert loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert sentences.grad is not None and torch.all(sentences.grad == 0)


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="region_sentences"):
        RegionSentenceLoss(temperature=0.07)(torch.randn(2, 4), torch.randn(3, 4), torch.ones(2, 2))


def test_rows_stating_the_same_thing_in_other_studies_are_positives() -> None:
    """Rows 0 and 1 come from two studies whose own sentences (0 and 1) state the same thing
    in other words: with group ids they share the target instead of being each other's
    negatives."""
    groups = torch.eye(3)
    regions = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    sentences = torch.tensor([[0.8, 0.6], [1.0, 0.0], [0.0, 1.0]])
    loss_fn = RegionSentenceLoss(temperature=1.0)
    shared = loss_fn(regions, sentences, groups, torch.tensor([7, 7, 3]))
    targets = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    assert torch.allclose(same_id_targets(torch.tensor([7, 7, 3])), targets)
    logits = regions @ sentences.T  # unit rows already, τ = 1
    expected = 0.5 * (-(targets * logits.log_softmax(dim=1)).sum(dim=1).mean()
                      - (targets * logits.T.log_softmax(dim=1)).sum(dim=1).mean())
    assert shared.item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss_fn(regions, sentences, groups).item() != pytest.approx(shared.item())
