"""The training losses and step count: the auxiliary interior loss rewards logits that mark
the cells inside the gold box and ignores regions without gold."""

from __future__ import annotations

import torch

from cxralign.anatomy.settings import AnatomySettings
from cxralign.anatomy.train import default_steps, interior_loss


def _gold() -> tuple[torch.Tensor, torch.Tensor]:
    target = torch.tensor([[[0.25, 0.0, 0.75, 0.5], [0.0, 0.0, 1.0, 1.0]]])  # (1, 2, 4)
    valid = torch.tensor([[True, False]])
    return target, valid


def test_interior_loss_is_lowest_for_logits_that_mark_the_box():
    target, valid = _gold()
    inside = torch.zeros(4, 4)
    inside[0:2, 1:3] = 1  # rows of y in [0, 0.5), columns of x in [0.25, 0.75)
    right = (inside * 2 - 1)[None, None].repeat(1, 2, 1, 1) * 8
    wrong = -right
    assert interior_loss(right, target, valid) < 0.01 < interior_loss(wrong, target, valid)


def test_interior_loss_ignores_regions_without_gold():
    target, valid = _gold()
    logits = torch.zeros(1, 2, 4, 4)
    changed = logits.clone()
    changed[:, 1] = 5.0  # only the unannotated region differs
    assert torch.isclose(interior_loss(logits, target, valid), interior_loss(changed, target, valid))
    none = torch.zeros_like(valid)
    assert interior_loss(logits, target, none) == 0


def test_default_steps_are_epochs_over_the_images():
    settings = AnatomySettings(epochs=3, batch_size=16)
    assert default_steps(33, settings) == 9
    assert default_steps(32, settings) == 6
