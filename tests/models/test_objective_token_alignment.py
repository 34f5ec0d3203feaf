"""MGCA token-wise alignment: local InfoNCE values, importance weights, masks, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from cxralign.models.objectives.token_alignment import (
    TokenAlignmentLoss,
    importance_weights,
    local_contrastive,
)

torch.set_num_threads(1)


def test_local_contrastive_known_answer() -> None:
    tokens = torch.eye(2).unsqueeze(0)
    weights = torch.tensor([[0.5, 0.5]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    loss = local_contrastive(tokens, tokens.clone(), weights, mask, temperature=1.0)
    # similarity [[1, 0], [0, 1]]: each token's CE (both directions) is log(1 + e^-1)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_local_contrastive_ignores_padded_tokens() -> None:
    tokens = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])
    mask = torch.tensor([[True, True, False]])
    weights = importance_weights(torch.ones(1, 3), mask, None)
    assert torch.allclose(weights, torch.tensor([[0.5, 0.5, 0.0]]))
    loss = local_contrastive(tokens, tokens.clone(), weights, mask, temperature=1.0)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_importance_weights_clip_to_quantiles_and_normalise() -> None:
    raw = torch.tensor([[1.0, 2.0, 3.0, 4.0, 100.0, 50.0]])
    mask = torch.tensor([[True, True, True, True, True, False]])
    weights = importance_weights(raw, mask, (0.1, 0.9))
    # quantiles of [1, 2, 3, 4, 100] (linear): 0.1 -> 1.4, 0.9 -> 4 + 0.6·96 = 61.6
    clipped = torch.tensor([1.4, 2.0, 3.0, 4.0, 61.6, 0.0])
    assert torch.allclose(weights[0], clipped / clipped.sum(), atol=1e-6)
    assert weights.requires_grad is False


def test_equal_raw_weights_stay_uniform_after_clipping() -> None:
    mask = torch.tensor([[True, True, True, False]])
    weights = importance_weights(torch.ones(1, 4), mask, (0.1, 0.9))
    assert torch.allclose(weights, torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0.0]]))


def _inputs(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    words = torch.randn(3, 7, 16, requires_grad=True)
    patches = torch.randn(3, 9, 16, requires_grad=True)
    word_mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3, [True] * 2 + [False] * 5])
    return {"words": words, "word_mask": word_mask, "patches": patches,
            "word_weights": torch.rand(3, 7, requires_grad=True),
            "patch_weights": torch.rand(3, 9)}


def test_gradients_reach_words_patches_and_both_attentions_not_weights() -> None:
    torch.manual_seed(0)
    loss_fn = TokenAlignmentLoss(dim=16, num_heads=2, temperature=0.1)
    inputs = _inputs()
    out = loss_fn(**inputs)
    assert out.loss.ndim == 0 and out.word_loss.ndim == 0 and out.patch_loss.ndim == 0
    assert out.loss.item() == pytest.approx(0.5 * (out.word_loss + out.patch_loss).item())
    out.loss.backward()
    assert inputs["words"].grad.abs().sum() > 0 and inputs["patches"].grad.abs().sum() > 0
    assert inputs["word_weights"].grad is None  # importance weights are constants (MGCA)
    for module in (loss_fn.word_to_patch, loss_fn.patch_to_word):
        assert module.in_proj_weight.grad.abs().sum() > 0


def test_padded_words_do_not_change_the_loss() -> None:
    torch.manual_seed(0)
    loss_fn = TokenAlignmentLoss(dim=16, num_heads=1, temperature=0.1)
    inputs = _inputs()
    base = loss_fn(**inputs).loss
    changed = dict(inputs)
    words = inputs["words"].detach().clone()
    words[1, 4:] = 50.0
    weights = inputs["word_weights"].detach().clone()
    weights[1, 4:] = 9.0
    changed["words"], changed["word_weights"] = words, weights
    assert loss_fn(**changed).loss.item() == pytest.approx(base.item(), rel=1e-5)


def test_patch_mask_is_respected() -> None:
    torch.manual_seed(0)
    loss_fn = TokenAlignmentLoss(dim=16, num_heads=1, temperature=0.1)
    inputs = _inputs()
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[:, 6:] = False
    base = loss_fn(**inputs, patch_mask=mask).loss
    patches = inputs["patches"].detach().clone()
    patches[:, 6:] = -20.0
    changed = {**inputs, "patches": patches}
    assert loss_fn(**changed, patch_mask=mask).loss.item() == pytest.approx(base.item(),
                                                                             rel=1e-5)


def test_no_valid_words_gives_zero_loss_with_grad_fn() -> None:
    torch.manual_seed(0)
    loss_fn = TokenAlignmentLoss(dim=16, num_heads=1, temperature=0.1)
    inputs = _inputs()
    inputs["word_mask"] = torch.zeros(3, 7, dtype=torch.bool)
    out = loss_fn(**inputs)
    assert out.word_loss.item() == 0.0 and out.patch_loss.item() == 0.0
    assert out.loss.grad_fn is not None
    out.loss.backward()
    assert torch.isfinite(inputs["patches"].grad).all()


def test_sample_without_words_is_left_out_of_both_sides() -> None:
    torch.manual_seed(0)
    loss_fn = TokenAlignmentLoss(dim=16, num_heads=1, temperature=0.1)
    inputs = _inputs()
    inputs["word_mask"] = inputs["word_mask"].clone()
    inputs["word_mask"][2] = False
    full = loss_fn(**inputs)
    first_two = loss_fn(**{name: value[:2] for name, value in inputs.items()})
    assert full.patch_loss.item() == pytest.approx(first_two.patch_loss.item(), rel=1e-5)
    assert full.word_loss.item() == pytest.approx(first_two.word_loss.item(), rel=1e-5)
