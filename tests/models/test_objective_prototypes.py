"""MGCA prototype alignment: Sinkhorn-Knopp codes, swapped prediction, gradients, and the
distributed run (two gloo processes) matching the single-process result."""

from __future__ import annotations

import math

import pytest
import torch

from cxralign.models.objectives.prototypes import (
    PrototypeAlignmentLoss,
    sinkhorn_knopp,
    swapped_prediction,
)

torch.set_num_threads(1)

MGCA = {"temperature": 0.2, "epsilon": 0.05, "sinkhorn_iterations": 3}
"""MGCA's prototype hyper-parameters (the recipe's defaults too)."""


def test_sinkhorn_known_answer_on_a_balanced_problem() -> None:
    # exp(s/ε)ᵀ = [[e, 1], [1, e]] is already balanced: every round leaves it unchanged
    codes = sinkhorn_knopp(torch.eye(2), iterations=3, epsilon=1.0)
    e = math.e
    expected = torch.tensor([[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]])
    assert torch.allclose(codes, expected, atol=1e-6)


def test_sinkhorn_equipartitions_prototypes_over_the_batch() -> None:
    torch.manual_seed(0)
    scores = torch.randn(12, 4)
    scores[:, 0] += 3.0  # every sample prefers prototype 0
    codes = sinkhorn_knopp(scores, iterations=100, epsilon=0.5)
    assert torch.allclose(codes.sum(dim=1), torch.ones(12), atol=1e-5)
    assert torch.allclose(codes.sum(dim=0), torch.full((4,), 3.0), atol=1e-3)
    plain = torch.softmax(scores / 0.5, dim=1)
    assert plain.sum(dim=0)[0] > 6.0  # without Sinkhorn prototype 0 takes most of the mass


def test_sinkhorn_survives_a_small_epsilon() -> None:
    scores = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    codes = sinkhorn_knopp(scores, iterations=3, epsilon=0.005)
    assert torch.isfinite(codes).all()
    assert torch.allclose(codes, torch.eye(2), atol=1e-6)


def test_swapped_prediction_known_answer() -> None:
    image_scores = torch.tensor([[1.0, 0.0]])
    text_scores = torch.tensor([[0.0, 0.0]])
    image_codes = torch.tensor([[1.0, 0.0]])
    text_codes = torch.tensor([[0.5, 0.5]])
    value = swapped_prediction(image_scores, text_scores, image_codes, text_codes, 1.0)
    # image codes vs uniform text prediction: log 2; text codes vs softmax([1, 0]):
    # -½ log(e/(e+1)) - ½ log(1/(e+1)) = log(e+1) - ½
    expected = 0.5 * (math.log(2) + math.log(math.e + 1) - 0.5)
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_gradients_reach_embeddings_and_prototypes_not_codes() -> None:
    torch.manual_seed(0)
    loss_fn = PrototypeAlignmentLoss(dim=8, num_prototypes=5, weight=2.0, **MGCA)
    images = torch.randn(6, 8, requires_grad=True)
    texts = torch.randn(6, 8, requires_grad=True)
    out = loss_fn(images, texts)
    assert out.loss.ndim == 0 and out.image_codes.shape == (6, 5)
    assert not out.image_codes.requires_grad and not out.text_codes.requires_grad
    out.loss.backward()
    for tensor in (images, texts, loss_fn.prototypes):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0
    unweighted = swapped_prediction(loss_fn.scores(images), loss_fn.scores(texts),
                                    out.image_codes, out.text_codes, 0.2).mean()
    assert out.loss.item() == pytest.approx(2.0 * unweighted.item(), rel=1e-5)


def test_mismatched_shapes_are_rejected() -> None:
    loss = PrototypeAlignmentLoss(dim=4, num_prototypes=3, **MGCA)
    with pytest.raises(ValueError, match="differ"):
        loss(torch.randn(2, 4), torch.randn(3, 4))


def _prototype_rank(rank: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    loss_fn = PrototypeAlignmentLoss(dim=8, num_prototypes=5, **{**MGCA, "epsilon": 0.1})
    images, texts = torch.randn(7, 8), torch.randn(7, 8)
    rows = slice(0, 3) if rank == 0 else slice(3, 7)  # unequal local batches
    out = loss_fn(images[rows], texts[rows])
    out.loss.backward()
    return {"loss": out.loss.detach(), "codes": out.image_codes, "text_codes": out.text_codes,
            "grad": loss_fn.prototypes.grad}


def test_distributed_codes_and_loss_equal_the_single_process_run(on_two_gloo_ranks) -> None:
    ranks = on_two_gloo_ranks(_prototype_rank)
    torch.manual_seed(0)
    loss_fn = PrototypeAlignmentLoss(dim=8, num_prototypes=5, **{**MGCA, "epsilon": 0.1})
    images, texts = torch.randn(7, 8), torch.randn(7, 8)
    single = loss_fn(images, texts)
    single.loss.backward()
    assert torch.allclose(torch.cat([r["codes"] for r in ranks]), single.image_codes, atol=1e-6)
    assert torch.allclose(torch.cat([r["text_codes"] for r in ranks]), single.text_codes,
                          atol=1e-6)
    # DDP averages over ranks: mean of rank losses / gradients == the single-process values
    mean_loss = sum(r["loss"] for r in ranks) / 2
    assert mean_loss.item() == pytest.approx(single.loss.item(), rel=1e-5)
    mean_grad = sum(r["grad"] for r in ranks) / 2
    assert torch.allclose(mean_grad, loss_fn.prototypes.grad, atol=1e-6)
