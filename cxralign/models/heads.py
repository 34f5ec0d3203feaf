"""Projection heads into the joint image–text space."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
from torch import nn

from cxralign.models.distributed import is_distributed


class ProjectionHead(nn.Module):
    """Linear–ReLU–Linear (ConVIRT's non-linear ``g_v``/``g_u``), ending in a batch norm
    without affine parameters over the whole (all-rank) batch.

    A non-linear head lets the encoder keep information the contrastive task does not reward
    (SimCLR's finding). The closing non-affine batch norm is there because a from-scratch image
    tower starts with nearly identical embeddings for every image (mean cosine 0.99 at random
    init) and a pretrained text tower can be pushed to the same state within a few steps: with
    every dimension centred and scaled over the batch, the embeddings cannot all point the same
    way, so the contrastive loss has a gradient from the first step. It has no affine
    parameters, so it cannot learn its way back to a collapsed scale.

    Statistics are taken over every rank's rows (a differentiable all-reduce of the sums), so
    a run on N processes normalises exactly as one process with the whole batch would;
    ``torch.nn.SyncBatchNorm`` does this on GPUs only, and the CPU runs here use gloo. Any
    leading shape is accepted (``(..., in_dim)``): patches and words share the head and their
    statistics are taken over all rows. With fewer than two rows over all ranks in training,
    or in eval mode, the running statistics are used.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True),
                                 nn.Linear(hidden_dim, out_dim))
        self.norm = nn.BatchNorm1d(out_dim, affine=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        projected = self.mlp(features)
        rows = projected.reshape(-1, projected.shape[-1])
        mean, variance = self.norm.running_mean, self.norm.running_var
        if self.training:
            count, batch_mean, batch_variance = _global_moments(rows)
            if count > 1:
                mean, variance = batch_mean, batch_variance
                self._update_running(count, batch_mean.detach(), batch_variance.detach())
        return ((rows - mean) / torch.sqrt(variance + self.norm.eps)).reshape(projected.shape)

    @torch.no_grad()
    def _update_running(self, count: float, mean: torch.Tensor, variance: torch.Tensor) -> None:
        momentum = self.norm.momentum
        unbiased = variance * count / (count - 1)
        self.norm.running_mean.lerp_(mean, momentum)
        self.norm.running_var.lerp_(unbiased, momentum)
        self.norm.num_batches_tracked.add_(1)


def _global_moments(rows: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
    """``(count, mean, biased variance)`` of ``rows`` over every rank, differentiable, in two
    passes (the mean first, then the squared deviations from it): a from-scratch encoder's
    embeddings are nearly equal, and ``E[x²] − E[x]²`` would cancel to noise there. Every rank
    must call it (also with no rows), since it runs collectives."""
    count = torch.tensor([float(len(rows))], device=rows.device)
    total = rows.sum(dim=0)
    if is_distributed():
        dist.all_reduce(count)
        total = dist_nn.all_reduce(total)
    number = max(float(count), 1.0)
    mean = total / number
    squares = ((rows - mean) ** 2).sum(dim=0)
    if is_distributed():
        squares = dist_nn.all_reduce(squares)
    return float(count), mean, squares / number
