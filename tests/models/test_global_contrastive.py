"""Global image–report InfoNCE: known answers, gradients, soft labels, temperature."""

from __future__ import annotations

import math

import pytest
import torch

from cxralign.models.model import build_objective
from cxralign.models.objectives.global_contrastive import (
    GlobalContrastiveLoss,
    Temperature,
    symmetric_info_nce,
)
from cxralign.models.objectives.soft_label import similarity_tags, soft_label_targets
from cxralign.models.recipes import RecipeConfig
from cxralign.pairs.soft_labels import soft_targets
from cxralign.pairs.tags import TAG_COUNT, tag_position


def global_loss(**recipe_fields: object) -> GlobalContrastiveLoss:
    """The loss as the base recipe configures it, with ``recipe_fields`` changed (the recipe
    holds every hyper-parameter's one default)."""
    loss = build_objective("global", RecipeConfig(**recipe_fields))
    assert isinstance(loss, GlobalContrastiveLoss)
    return loss


def test_orthonormal_pairs_known_answer() -> None:
    """Embeddings e_i: cosine logits are I/τ; each row's CE is log(1 + (n-1)·e^(-1/τ))."""
    n, tau = 3, 0.5
    loss = global_loss(temperature=tau)(torch.eye(n) * 3.0, torch.eye(n))
    assert loss.item() == pytest.approx(math.log(1 + (n - 1) * math.exp(-1 / tau)), rel=1e-6)


def test_hand_computed_asymmetric_case() -> None:
    """Two studies, image 1 equal to report 0: both directions computed by hand."""
    images = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # logits (τ = 1): image→text [[1, 0], [1, 0]], text→image [[1, 1], [0, 0]]
    image_to_text = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(1))) / 2
    text_to_image = (math.log(2) + math.log(2)) / 2
    loss = global_loss(temperature=1.0)(images, texts)
    assert loss.item() == pytest.approx((image_to_text + text_to_image) / 2, rel=1e-6)


def test_shapes_and_gradients_reach_both_modalities() -> None:
    torch.manual_seed(0)
    images = torch.randn(5, 8, requires_grad=True)
    texts = torch.randn(5, 8, requires_grad=True)
    loss = global_loss(temperature=0.1, learnable_temperature=True)
    value = loss(images, texts)
    value.backward()
    assert value.ndim == 0 and value.item() > 0
    assert images.grad.abs().sum() > 0 and texts.grad.abs().sum() > 0
    assert loss.temperature.log_scale.grad is not None
    with pytest.raises(ValueError, match="differ in shape"):
        loss(images, texts[:4])


def test_matched_pairs_score_lower_than_shuffled() -> None:
    torch.manual_seed(1)
    images = torch.randn(6, 16)
    loss = global_loss(temperature=0.1)
    assert loss(images, images + 0.01 * torch.randn(6, 16)) < loss(images, images.roll(1, 0))


def _tags(*statements: list[tuple[str, str]]) -> torch.Tensor:
    tags = torch.zeros(len(statements), TAG_COUNT)
    for row, study in enumerate(statements):
        for finding, existence in study:
            tags[row, tag_position(finding, existence)] = 1.0
    return tags


def test_soft_labels_alpha_zero_equals_hard_and_alpha_changes_the_loss() -> None:
    torch.manual_seed(2)
    images, texts = torch.randn(3, 8), torch.randn(3, 8)
    tags = _tags([("pleural effusion", "absent")], [("pleural effusion", "absent")],
                 [("pneumothorax", "present")])
    hard = global_loss(temperature=0.2)(images, texts)
    zero = global_loss(temperature=0.2, soft_label_alpha=0.0)(images, texts, tags)
    soft = global_loss(temperature=0.2, soft_label_alpha=0.5)(images, texts, tags)
    assert zero.item() == pytest.approx(hard.item(), rel=1e-6)
    assert soft.item() != pytest.approx(hard.item(), rel=1e-3)
    with pytest.raises(ValueError, match="tags"):
        global_loss(soft_label_alpha=0.5)(images, texts)


def test_soft_label_loss_matches_the_formula_with_pairs_soft_targets() -> None:
    torch.manual_seed(3)
    images, texts = torch.randn(3, 4), torch.randn(3, 4)
    tags = _tags([("edema", "present")], [("edema", "present"), ("opacity", "present")], [])
    targets = torch.from_numpy(soft_targets(tags.numpy(), 0.4)).float()
    v, t = torch.nn.functional.normalize(images), torch.nn.functional.normalize(texts)
    expected = symmetric_info_nce(v, t, v, t, targets, 1 / 0.25, image_to_text_weight=0.5)
    loss = global_loss(temperature=0.25, soft_label_alpha=0.4)(images, texts, tags)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_uncertain_tags_policy_changes_similarity() -> None:
    """'possible effusion' vs 'effusion': unrelated when uncertain is its own channel, the same
    study under U-Ones, and an empty tag set (one-hot target) when uncertain is ignored."""
    tags = _tags([("pleural effusion", "uncertain")], [("pleural effusion", "present")])
    separate = soft_label_targets(tags, 1.0, "separate")
    positive = soft_label_targets(tags, 1.0, "positive")
    ignored = soft_label_targets(tags, 1.0, "ignore")
    assert torch.allclose(separate, torch.eye(2))
    assert torch.allclose(positive, torch.full((2, 2), 0.5))
    assert torch.allclose(ignored, torch.eye(2))
    # U-Zeros: the hedged finding is simply not present; absent channels are never compared
    assert similarity_tags(tags, "negative")[0].sum() == 0
    assert similarity_tags(tags, "separate")[1, tag_position("pleural effusion", "present")] == 1


def test_soft_labels_compare_present_findings_only() -> None:
    """ERL's soft labels come from the sets of present findings: two reports that negate
    different findings state the same (empty) set, and a shared negation makes no similarity."""
    tags = _tags([("pneumothorax", "absent")], [("pleural effusion", "absent")],
                 [("edema", "present"), ("pneumothorax", "absent")])
    targets = soft_label_targets(tags, 1.0, "separate")
    assert torch.allclose(targets[0], torch.tensor([0.5, 0.5, 0.0]))
    assert torch.allclose(targets[2], torch.tensor([0.0, 0.0, 1.0]))


def test_temperature_fixed_or_learnable_and_clamped() -> None:
    fixed = Temperature(0.1, learnable=False)
    assert fixed().item() == pytest.approx(0.1) and not list(fixed.parameters())
    learnable = Temperature(0.07, learnable=True)
    with torch.no_grad():
        learnable.log_scale.fill_(20.0)  # τ = e^-20 would blow up the logits
    assert learnable().item() == pytest.approx(0.01)
    with pytest.raises(ValueError):
        Temperature(0.001, learnable=False)


def test_convirt_direction_weight_lambda() -> None:
    """λ weighs image→text against text→image (ConVIRT uses 0.75)."""
    images = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    image_to_text = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(1))) / 2
    text_to_image = math.log(2)
    loss = global_loss(temperature=1.0, image_to_text_weight=0.75)(images, texts)
    assert loss.item() == pytest.approx(0.75 * image_to_text + 0.25 * text_to_image, rel=1e-6)
