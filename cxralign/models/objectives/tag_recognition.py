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
channels. Only what a report *states is there* is recognised: the ``absent`` channels are never
trained, because "no pneumothorax" is a property of how a radiologist writes (templates list
negatives whether or not anyone looked for them), not of the image, and a mean over 78 channels
of which 26 are unlearnable mostly teaches the prior. Present findings are rare, so each
channel's positives are up-weighted by its negative/positive ratio on the training set
(``pos_weight``, set by :meth:`TagRecognitionHead.fit_class_balance`); otherwise predicting
"nothing" everywhere is a near-optimal BCE. Hedged findings ("possible pneumonia") set the
``uncertain`` channel; how the loss treats them is a choice of the caller, never a silent zero
(``uncertain=``):

* ``"separate"`` (default): uncertain is a channel of its own, trained like a present one.
* ``"ignore"``: uncertain channels are masked out of the loss.
* ``"positive"``: uncertain counts as present (CheXpert's U-Ones): the present target becomes
  ``max(present, uncertain)``; the uncertain channel is then redundant and masked out.
* ``"negative"``: uncertain counts as not present (U-Zeros): the uncertain channel is masked
  out and the present target stays 0.

The loss is the mean (pos-weighted) BCE over the (sample, channel) entries the mode keeps; the
number of kept channels is fixed per mode, so the mean never depends on which studies are hedged.
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
    """``(targets, loss_mask)`` both ``(B, TAG_COUNT)`` float: the ``absent`` channels are
    masked out, the ``uncertain`` ones handled by ``uncertain`` (module docstring)."""
    if uncertain not in UNCERTAIN_MODES:
        raise ValueError(f"uncertain must be one of {UNCERTAIN_MODES}, got {uncertain!r}")
    if tags.shape[-1] != TAG_COUNT:
        raise ValueError(f"tag vectors need {TAG_COUNT} channels, got {tags.shape[-1]}")
    targets = tags.to(torch.float32).clone()
    mask = torch.ones_like(targets)
    absent = _channel("absent").to(tags.device)
    targets[:, absent] = 0.0
    mask[:, absent] = 0.0
    if uncertain == "separate":
        return targets, mask
    unsure = _channel("uncertain").to(tags.device)
    if uncertain == "positive":
        present = _channel("present").to(tags.device)
        targets[:, present] = torch.maximum(targets[:, present], targets[:, unsure])
    targets[:, unsure] = 0.0
    mask[:, unsure] = 0.0
    return targets, mask


def class_balance(tags: torch.Tensor, uncertain: UncertainMode, max_weight: float = 50.0
                  ) -> torch.Tensor:
    """``(TAG_COUNT,)`` positive weights: negatives / positives per kept channel of the
    training tag matrix ``tags`` (N, TAG_COUNT), clipped to ``[1, max_weight]`` so a channel
    with one positive cannot dominate; 1 where a channel has no positive or is masked."""
    targets, mask = tag_targets(tags, uncertain)
    positives = (targets * mask).sum(dim=0)
    negatives = ((1 - targets) * mask).sum(dim=0)
    ratio = torch.where(positives > 0, negatives / positives.clamp_min(1.0),
                        torch.ones_like(positives))
    return ratio.clamp(1.0, max_weight)


def tag_bce(logits: torch.Tensor, tags: torch.Tensor, uncertain: UncertainMode,
            pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean (``pos_weight``-ed) BCE-with-logits over the entries kept by ``uncertain``."""
    targets, mask = tag_targets(tags, uncertain)
    per_entry = F.binary_cross_entropy_with_logits(logits.float(), targets, reduction="none",
                                                   pos_weight=pos_weight)
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

    def __init__(self, dim: int, *, num_layers: int, num_heads: int, uncertain: UncertainMode,
                 num_tags: int = TAG_COUNT, feedforward_dim: int | None = None,
                 dropout: float = 0.1, weight: float = 1.0) -> None:
        super().__init__()
        if uncertain not in UNCERTAIN_MODES:
            raise ValueError(f"uncertain must be one of {UNCERTAIN_MODES}, got {uncertain!r}")
        if num_tags != TAG_COUNT:
            raise ValueError(f"tag recognition needs the {TAG_COUNT}-tag vocabulary")
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
        self.register_buffer("pos_weight", torch.ones(num_tags))

    def fit_class_balance(self, tags: torch.Tensor) -> None:
        """Set ``pos_weight`` from the training set's tag matrix ``tags`` (N, TAG_COUNT)."""
        self.pos_weight.copy_(class_balance(tags.float(), self.uncertain))

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
        loss = tag_bce(logits, tags, self.uncertain, self.pos_weight)
        return TagRecognitionOutput(loss=self.weight * loss, logits=logits)
