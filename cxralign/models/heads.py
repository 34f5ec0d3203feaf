"""Projection heads into the joint image–text space."""

from __future__ import annotations

from torch import nn


class ProjectionHead(nn.Sequential):
    """Linear–ReLU–Linear, ConVIRT's non-linear projection ``g_v``/``g_u``: a non-linear head
    lets the encoder keep information the contrastive task does not reward (SimCLR's finding).
    No batch norm, so the same head also projects every patch or word of a batch."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True),
                         nn.Linear(hidden_dim, out_dim))
