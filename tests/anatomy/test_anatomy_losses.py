"""The training losses and step count: the auxiliary lung-mask loss rewards logits that mark
the lung, learns from partly covered cells, and ignores images without a mask."""

from __future__ import annotations

import torch

from cxralign.anatomy.settings import AnatomySettings
from cxralign.anatomy.train import default_steps, lung_mask_loss


def _mask() -> torch.Tensor:
    """One 8 x 8 mask whose lung covers the left half: on a 4 x 4 grid, columns 0-1."""
    masks = torch.zeros(1, 1, 8, 8)
    masks[..., :4] = 1.0
    return masks


def test_lung_mask_loss_is_lowest_for_logits_that_mark_the_lung():
    masks, has = _mask(), torch.tensor([True])
    lung = torch.zeros(1, 1, 4, 4)
    lung[..., :2] = 1
    right, wrong = (lung * 2 - 1) * 8, (1 - lung * 2) * 8
    assert lung_mask_loss(right, masks, has) < 0.01 < lung_mask_loss(wrong, masks, has)


def test_lung_mask_loss_targets_the_covered_fraction_of_each_cell():
    masks = torch.zeros(1, 1, 8, 8)
    masks[..., :3] = 1.0  # grid column 1 (image columns 2-3) is half lung
    half = torch.zeros(1, 1, 4, 4)
    half[..., 0], half[..., 1], half[..., 2:] = 20.0, 0.0, -20.0  # logit 0 = probability 0.5
    sharper = half.clone()
    sharper[..., 1] = 3.0
    has = torch.tensor([True])
    assert lung_mask_loss(half, masks, has) < lung_mask_loss(sharper, masks, has)


def test_lung_mask_loss_ignores_images_without_a_mask():
    masks = _mask().repeat(2, 1, 1, 1)
    logits = torch.zeros(2, 1, 4, 4)
    changed = logits.clone()
    changed[1] = 5.0  # only the unmasked image differs
    has = torch.tensor([True, False])
    assert torch.isclose(lung_mask_loss(logits, masks, has), lung_mask_loss(changed, masks, has))
    assert lung_mask_loss(logits, masks, torch.tensor([False, False])) == 0


def test_epochs_default_to_what_is_trained_on():
    assert AnatomySettings().with_epochs_for(real_data=True).epochs == 70
    assert AnatomySettings().with_epochs_for(real_data=False).epochs == 5
    assert AnatomySettings(epochs=3).with_epochs_for(real_data=True).epochs == 3


def test_default_steps_are_epochs_over_the_images():
    settings = AnatomySettings(epochs=3, batch_size=16)
    assert default_steps(33, settings) == 9
    assert default_steps(32, settings) == 6
