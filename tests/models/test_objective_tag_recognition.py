"""ASG image–tag recognition: decoder shapes, gradients, BCE values and uncertainty modes."""

from __future__ import annotations

import math

import pytest
import torch

from cxralign.models.objectives.tag_recognition import (
    TagRecognitionHead,
    class_balance,
    tag_bce,
    tag_targets,
)
from cxralign.pairs.tags import TAG_COUNT, tag_position

torch.set_num_threads(1)


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def _head(**kwargs: object) -> TagRecognitionHead:
    torch.manual_seed(0)
    return TagRecognitionHead(dim=16, **{"num_layers": 2, "num_heads": 2, "uncertain": "separate",
                                         **kwargs})


def test_logits_shape_and_gradients_reach_patches_and_all_parameters() -> None:
    head = _head()
    patches = torch.randn(3, 10, 16, requires_grad=True)
    tags = torch.zeros(3, TAG_COUNT)
    tags[0, tag_position("pneumonia", "present")] = 1.0
    out = head(patches, tags)
    assert out.logits.shape == (3, TAG_COUNT) and out.loss.ndim == 0
    out.loss.backward()
    assert patches.grad is not None and patches.grad.abs().sum() > 0
    for name, parameter in head.named_parameters():
        assert parameter.grad is not None, name
    assert head.queries.grad.abs().sum() > 0 and head.readout_weight.grad.abs().sum() > 0


KEPT_SEPARATE = TAG_COUNT * 2 // 3
"""present + uncertain channels: absent channels are never trained."""


def test_bce_known_answer_separate_mode() -> None:
    tags = torch.zeros(1, TAG_COUNT)
    positives = [tag_position("edema", "present"), tag_position("mass", "uncertain")]
    tags[0, positives] = 1.0
    tags[0, tag_position("pneumothorax", "absent")] = 1.0  # a negation: not a target
    logits = torch.full((1, TAG_COUNT), 2.0)
    # BCE(x, 1) = softplus(-x), BCE(x, 0) = softplus(x)
    expected = (2 * _softplus(-2.0) + (KEPT_SEPARATE - 2) * _softplus(2.0)) / KEPT_SEPARATE
    assert tag_bce(logits, tags, "separate").item() == pytest.approx(expected, rel=1e-6)


def test_absent_channels_carry_no_loss() -> None:
    tags = torch.zeros(1, TAG_COUNT)
    logits = torch.zeros(1, TAG_COUNT)
    absent = tag_position("pneumothorax", "absent")
    changed = logits.clone()
    changed[0, absent] = 50.0
    assert tag_bce(changed, tags, "separate").item() == pytest.approx(
        tag_bce(logits, tags, "separate").item())


def test_pos_weight_balances_rare_positives_known_answer() -> None:
    edema = tag_position("edema", "present")
    tags = torch.zeros(4, TAG_COUNT)
    tags[0, edema] = 1.0  # 1 positive, 3 negatives -> weight 3
    weights = class_balance(tags, "separate")
    assert weights[edema].item() == 3.0
    assert weights[tag_position("mass", "present")].item() == 1.0  # no positive: neutral
    logits = torch.zeros(4, TAG_COUNT)
    per_entry = _softplus(0.0)
    expected = (3 * per_entry + (4 * KEPT_SEPARATE - 1) * per_entry) / (4 * KEPT_SEPARATE)
    assert tag_bce(logits, tags, "separate", weights).item() == pytest.approx(expected, rel=1e-6)
    head = _head()
    head.fit_class_balance(tags)
    assert head.pos_weight[edema].item() == 3.0


def test_ignore_mode_masks_uncertain_channels_only() -> None:
    unsure = tag_position("mass", "uncertain")
    tags = torch.zeros(1, TAG_COUNT)
    tags[0, tag_position("edema", "present")] = 1.0
    logits = torch.full((1, TAG_COUNT), 2.0)
    kept = TAG_COUNT // 3
    expected = (_softplus(-2.0) + (kept - 1) * _softplus(2.0)) / kept
    assert tag_bce(logits, tags, "ignore").item() == pytest.approx(expected, rel=1e-6)
    hedged = tags.clone()
    hedged[0, unsure] = 1.0
    logits2 = logits.clone()
    logits2[0, unsure] = -7.0
    assert tag_bce(logits2, hedged, "ignore").item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("mode", "present"), [("positive", 1.0), ("negative", 0.0)])
def test_folding_modes_decide_whether_uncertain_is_present(mode: str, present: float) -> None:
    tags = torch.zeros(2, TAG_COUNT)
    tags[0, tag_position("pneumonia", "uncertain")] = 1.0
    original = tags.clone()
    targets, mask = tag_targets(tags, mode)  # type: ignore[arg-type]
    assert targets[0, tag_position("pneumonia", "present")] == present
    assert targets.sum() == present  # the uncertain channel itself is masked out
    assert mask[0, tag_position("pneumonia", "uncertain")] == 0.0
    assert mask.sum() == 2 * TAG_COUNT // 3
    assert torch.equal(tags, original)  # the caller's tag vectors are not modified


def test_separate_mode_keeps_uncertain_as_its_own_target() -> None:
    tags = torch.zeros(1, TAG_COUNT)
    tags[0, tag_position("pneumonia", "uncertain")] = 1.0
    targets, mask = tag_targets(tags, "separate")
    assert torch.equal(targets, tags) and mask.sum() == KEPT_SEPARATE


def test_patch_mask_hides_padded_patches() -> None:
    head = _head().eval()
    patches = torch.randn(2, 6, 16)
    mask = torch.tensor([[True] * 4 + [False] * 2] * 2)
    changed = patches.clone()
    changed[:, 4:] = 100.0
    with torch.no_grad():
        assert torch.allclose(head.predict(patches, mask), head.predict(changed, mask),
                              atol=1e-5)
        assert not torch.allclose(head.predict(patches), head.predict(changed), atol=1e-3)


def test_weight_scales_loss_and_bad_mode_is_rejected() -> None:
    patches = torch.randn(2, 5, 16)
    tags = torch.zeros(2, TAG_COUNT)
    plain = _head().eval()(patches, tags).loss
    weighted = _head(weight=0.5).eval()(patches, tags).loss
    assert weighted.item() == pytest.approx(0.5 * plain.item(), rel=1e-6)
    with pytest.raises(ValueError, match="uncertain"):
        _head(uncertain="drop")  # type: ignore[arg-type]
