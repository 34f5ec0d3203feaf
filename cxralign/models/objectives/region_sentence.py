"""ASG anatomical region–sentence alignment: symmetric multi-positive InfoNCE.

ASG (anatomical structure-guided pre-training) aligns each anatomical region of a radiograph
with the report sentences that describe it. The pair table (``cxralign.pairs.alignment``) gives,
for every region row of a batch, the set of sentences it gathers: a region named by one sentence,
or a *merged* row (the union box of several regions that one sentence names together).

Public API (tensor-level; the caller pools region features by RoI-align and encodes sentences)::

    loss_fn = RegionSentenceLoss(temperature=0.07, weight=1.0)
    loss = loss_fn(region_features,    # (R, D) float, one row per region/merged pair row
                   sentence_features,  # (S, D) float, one row per sentence of the batch
                   region_sentences)   # (R, S) 0/1, row r gathers sentences where it is 1
    # loss: scalar tensor, already multiplied by ``weight``

Maths. Let ``G`` be the ``(R, S)`` 0/1 matrix. The text target of row ``r`` is the *mean* of its
sentence features, ``t_r = Σ_s G[r,s]·e_s / Σ_s G[r,s]``; region and target are L2-normalised and
``logits = v·tᵀ / τ`` (``R × R``). Rows ``r`` and ``q`` whose sentence groups are identical
(``G[r] == G[q]``; e.g. one sentence "bilateral effusions" pairing with both lungs' rows) have
the same target by construction, so calling one the negative of the other would ask the model to
separate two regions by a text that does not separate them. Instead the target distribution of
row ``r`` spreads uniformly over all rows with its group, ``P[r,q] = [G[r]==G[q]] / n_r``, and

    L = ½ · ( mean_r CE(logits[r, :], P[r])  +  mean_r CE(logits[:, r], P[r]) )

(``P`` is symmetric up to its row normaliser, so the text→region direction uses the same
rows on ``logitsᵀ``). With unique groups this is exactly the symmetric InfoNCE of CLIP/ConVIRT.

Why mean pooling rather than attention pooling. A group is an unordered set of sentences that all
describe the same box; the mean is permutation-invariant, parameter-free and gives one target per
row, so the similarity matrix stays a single matrix product and every negative is the same
vector for every anchor. Region-conditioned attention would let each region pick the easiest
sentence of each candidate group (a shortcut that shrinks the gap to negatives) and costs an
``R × R × S`` tensor.

Edge cases (documented behaviour). Rows whose group is empty (no sentence) carry no text and are
left out. With no usable row the loss is ``0`` computed from the inputs (``sum · 0``), so it has
a ``grad_fn`` and the training step's backward and DDP's gradient bucket stay intact. The
contrast is within the tensors passed in (one rank's batch): sentence indices are local to a
batch, so groups cannot be compared across ranks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cxralign.models.objectives.global_contrastive import symmetric_info_nce

BOTH_DIRECTIONS_EQUAL = 0.5
"""ASG's region–sentence loss weighs region→sentence and sentence→region alike."""


def pool_sentence_groups(sentence_features: torch.Tensor,
                         region_sentences: torch.Tensor) -> torch.Tensor:
    """Mean sentence feature of each row's group, ``(R, D)``; rows with an empty group give 0."""
    groups = region_sentences.to(sentence_features.dtype)
    counts = groups.sum(dim=1, keepdim=True).clamp_min(1.0)
    return (groups @ sentence_features) / counts


def group_positive_targets(region_sentences: torch.Tensor) -> torch.Tensor:
    """``(R, R)`` row-stochastic targets: uniform over the rows with an identical sentence group."""
    groups = (region_sentences > 0).to(torch.float32)
    overlap = groups @ groups.T
    sizes = groups.sum(dim=1)
    same = (overlap == sizes[:, None]) & (overlap == sizes[None, :])
    same = same.to(torch.float32)
    return same / same.sum(dim=1, keepdim=True)


def same_id_targets(group_ids: torch.Tensor) -> torch.Tensor:
    """``(R, R)`` row-stochastic targets: uniform over the rows with the same group id."""
    same = (group_ids[:, None] == group_ids[None, :]).to(torch.float32)
    return same / same.sum(dim=1, keepdim=True)


class RegionSentenceLoss(nn.Module):
    """Symmetric region↔sentence-group InfoNCE with multi-positive targets (module docstring).

    Args:
        temperature: softmax temperature ``τ`` of the cosine logits (ASG/CLIP use 0.07).
        weight: factor applied to the returned loss (leave 1.0 when the caller weights terms).
    """

    def __init__(self, *, temperature: float, weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature
        self.weight = weight

    def forward(self, region_features: torch.Tensor, sentence_features: torch.Tensor,
                region_sentences: torch.Tensor, group_ids: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Loss for ``region_features`` (R,D), ``sentence_features`` (S,D), groups (R,S) 0/1.

        ``group_ids`` (R,) widens the positives across the batch: rows with the same id state
        the same thing (a template sentence repeated in other studies, or the same
        ⟨region, finding, existence⟩ set), so another study's row with the same statement is a
        positive, not a negative. Without it, only rows with identical sentence groups share.
        """
        if region_features.ndim != 2 or sentence_features.ndim != 2:
            raise ValueError("region_features and sentence_features must be 2-D (rows, dim)")
        expected = (region_features.shape[0], sentence_features.shape[0])
        if tuple(region_sentences.shape) != expected:
            raise ValueError(f"region_sentences must have shape {expected}, "
                             f"got {tuple(region_sentences.shape)}")
        keep = region_sentences.sum(dim=1) > 0
        if int(keep.sum()) == 0:
            return (region_features.sum() + sentence_features.sum()) * 0.0
        groups = region_sentences[keep]
        regions = F.normalize(region_features[keep], dim=-1)
        texts = F.normalize(pool_sentence_groups(sentence_features, groups), dim=-1)
        targets = (group_positive_targets(groups) if group_ids is None
                   else same_id_targets(group_ids[keep])).to(regions.dtype)
        # rows are regions and their group texts alike: logits (R, R) and its transpose
        loss = symmetric_info_nce(regions, texts, regions, texts, targets, 1.0 / self.temperature,
                                  image_to_text_weight=BOTH_DIRECTIONS_EQUAL)
        return self.weight * loss
