"""ASG image–tag recognition: a query-per-tag transformer decoder over image patches + BCE.

ASG adds a multi-label task to image–text pre-training: from the image alone, predict which
(finding, existence) statements the report makes. It sharpens the image encoder on exactly the
clinical content the contrastive losses see only through free text. One learned query per tag
attends (cross-attention) to the patch features, so each tag looks at the image regions relevant
to it; a per-tag linear read-out gives one logit per tag.

Public API (tensor-level)::

    head = TagRecognitionHead(dim=D, num_layers=2, num_heads=4, uncertain="separate", weight=1.0)
    out = head(patches,           # (B, P, D) image patch features
               tags,              # (B, 78) float 0/1 study tag vector (cxralign.pairs.tags)
               patch_mask=None)   # optional (B, P) bool, True = real patch
    out.loss    # scalar, BCE-with-logits, already multiplied by ``weight``
    out.logits  # (B, 78) one logit per tag of ``cxralign.pairs.tags.tag_index()``
    head.predict(patches) -> (B, 78) logits without a loss

The tag vocabulary is ``FINDINGS × EXISTENCE`` finding-major (``present, absent, uncertain``), 78
channels. Hedged findings ("possible pneumonia") set the ``uncertain`` channel; how the loss treats
them is a choice of the caller, never a silent zero (``uncertain=``):

* ``"separate"`` (default): uncertain is a channel of its own, trained like any other.
* ``"ignore"``: uncertain channels are masked out of the loss (their logits exist but are not
  trained); the mean runs over the remaining channels only.
* ``"positive"``: uncertain counts as present (CheXpert's U-Ones): the present target becomes
  ``max(present, uncertain)``; the uncertain channel is then redundant and masked out.
* ``"negative"``: uncertain counts as absent (U-Zeros): the absent target becomes
  ``max(absent, uncertain)``; the uncertain channel is masked out.

The loss is the mean BCE over the (sample, channel) entries the mode keeps; the number of kept
channels is fixed per mode, so the mean never depends on which studies are hedged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from cxralign.pairs.tags import TAG_COUNT
from cxralign.vocabulary import EXISTENCE

UncertainMode = Literal["separate", "ignore", "positive", "negative"]
UNCERTAIN_MODES: tuple[str, ...] = ("separate", "ignore", "positive", "negative")


@dataclass
class TagRecognitionOutput:
    """``loss`` scalar (weighted) and ``logits`` (B, TAG_COUNT)."""

    loss: torch.Tensor
    logits: torch.Tensor


def _channel(existence: str) -> torch.Tensor:
    """Indices of every tag with ``existence`` in the finding-major vocabulary."""
    return torch.arange(EXISTENCE.index(existence), TAG_COUNT, len(EXISTENCE))


def tag_targets(tags: torch.Tensor, uncertain: UncertainMode) -> tuple[torch.Tensor, torch.Tensor]:
    """``(targets, loss_mask)`` both ``(B, TAG_COUNT)`` float for the uncertainty ``uncertain``."""
    if uncertain not in UNCERTAIN_MODES:
        raise ValueError(f"uncertain must be one of {UNCERTAIN_MODES}, got {uncertain!r}")
    targets = tags.to(torch.float32).clone()
    mask = torch.ones_like(targets)
    if uncertain == "separate":
        return targets, mask
    if tags.shape[-1] != TAG_COUNT:
        raise ValueError(f"mode {uncertain!r} needs {TAG_COUNT} tag channels, "
                         f"got {tags.shape[-1]}")
    unsure = _channel("uncertain").to(tags.device)
    if uncertain in ("positive", "negative"):
        folded = _channel("present" if uncertain == "positive" else "absent").to(tags.device)
        targets[:, folded] = torch.maximum(targets[:, folded], targets[:, unsure])
    mask[:, unsure] = 0.0
    return targets, mask


def tag_bce(logits: torch.Tensor, tags: torch.Tensor, uncertain: UncertainMode = "separate"
            ) -> torch.Tensor:
    """Mean BCE-with-logits over the entries kept by ``uncertain`` (module docstring)."""
    targets, mask = tag_targets(tags, uncertain)
    per_entry = F.binary_cross_entropy_with_logits(logits.float(), targets, reduction="none")
    return (per_entry * mask).sum() / mask.sum()


class TagRecognitionHead(nn.Module):
    """Query-per-tag ``nn.TransformerDecoder`` over patch features with a BCE loss.

    Args:
        dim: feature width ``D`` of the patch features (and of the decoder).
        num_tags: number of tag queries (``TAG_COUNT`` = 78 for the project's vocabulary).
        num_layers: decoder layers (ASG uses a shallow decoder; 2 by default).
        num_heads: attention heads; must divide ``dim``.
        feedforward_dim: width of the decoder MLP (default ``2·dim``).
        dropout: decoder dropout.
        uncertain: treatment of hedged findings, see the module docstring.
        weight: factor applied to the returned loss.
    """

    def __init__(self, dim: int, num_tags: int = TAG_COUNT, num_layers: int = 2,
                 num_heads: int = 4, feedforward_dim: int | None = None, dropout: float = 0.1,
                 uncertain: UncertainMode = "separate", weight: float = 1.0) -> None:
        super().__init__()
        if uncertain not in UNCERTAIN_MODES:
            raise ValueError(f"uncertain must be one of {UNCERTAIN_MODES}, got {uncertain!r}")
        if num_tags != TAG_COUNT and uncertain != "separate":
            raise ValueError("uncertainty modes other than 'separate' need the 78-tag vocabulary")
        self.uncertain = uncertain
        self.weight = weight
        self.queries = nn.Parameter(torch.randn(num_tags, dim) * 0.02)
        layer = nn.TransformerDecoderLayer(
            d_model=dim, nhead=num_heads, dim_feedforward=feedforward_dim or 2 * dim,
            dropout=dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers=num_layers,
                                             norm=nn.LayerNorm(dim))
        # per-tag read-out (group-wise linear): logit_k = <h_k, w_k> + b_k
        self.readout_weight = nn.Parameter(torch.randn(num_tags, dim) * dim ** -0.5)
        self.readout_bias = nn.Parameter(torch.zeros(num_tags))

    def predict(self, patches: torch.Tensor, patch_mask: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Tag logits ``(B, num_tags)`` from patch features ``(B, P, D)``."""
        queries = self.queries.unsqueeze(0).expand(patches.shape[0], -1, -1)
        padding = None
        if patch_mask is not None:
            # a sample without any valid patch would make attention NaN: let it see them all
            valid = patch_mask.bool() | ~patch_mask.bool().any(dim=1, keepdim=True)
            padding = ~valid
        hidden = self.decoder(queries, patches, memory_key_padding_mask=padding)
        return (hidden * self.readout_weight).sum(dim=-1) + self.readout_bias

    def forward(self, patches: torch.Tensor, tags: torch.Tensor,
                patch_mask: torch.Tensor | None = None) -> TagRecognitionOutput:
        """Logits and weighted BCE loss against the study tag vectors ``tags`` (B, num_tags)."""
        logits = self.predict(patches, patch_mask)
        return TagRecognitionOutput(loss=self.weight * tag_bce(logits, tags, self.uncertain),
                                    logits=logits)
