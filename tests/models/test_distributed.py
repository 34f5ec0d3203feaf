"""Without a process group the distributed helpers are identities (the 2-process gloo
equivalence of the contrastive loss is tested with the training loop)."""

from __future__ import annotations

import torch

from cxralign.models.distributed import (
    gather_with_grad,
    gather_without_grad,
    is_distributed,
    rank,
    row_offset,
    world_size,
)


def test_single_process_helpers_are_identities() -> None:
    assert not is_distributed() and rank() == 0 and world_size() == 1 and row_offset(7) == 0
    tensor = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(tensor) is tensor
    assert torch.equal(gather_without_grad(tensor), tensor)
