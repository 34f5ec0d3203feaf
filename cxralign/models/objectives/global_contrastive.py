"""Bidirectional image–report InfoNCE: ConVIRT's loss, MGCA's ITA and ASG's IRA.

With L2-normalised image embeddings ``v`` and report embeddings ``t`` of ``N`` studies and a
temperature ``τ``, the image→report and report→image losses of study ``i`` are

    ℓ(v→t)_i = − Σ_j q_ij · log( exp(⟨v_i, t_j⟩/τ) / Σ_k exp(⟨v_i, t_k⟩/τ) )
    ℓ(t→v)_i = − Σ_j q_ij · log( exp(⟨t_i, v_j⟩/τ) / Σ_k exp(⟨t_i, v_k⟩/τ) )

and the loss is ``λ·mean_i ℓ(v→t)_i + (1-λ)·mean_i ℓ(t→v)_i``: ConVIRT weighs the
image→text direction by λ = 0.75, MGCA's ITA, ASG's IRA and CLIP use λ = ½. Hard targets
``q = I`` give the classic loss; ASG's soft labels set
``q = (1-α)·I + α·rownorm(tag similarity)`` (see :mod:`.soft_label`), symmetric in ``i, j`` so
the same row serves both directions.

Negatives come from every rank: each rank scores its own rows against the gathered columns of
all ranks (:func:`cxralign.models.distributed.gather_with_grad`) and averages over its own rows.
With equal batch sizes per rank, the mean of the ranks' losses is the single-process loss of the
whole global batch, and DDP's gradient averaging makes the gradients agree too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cxralign.models.distributed import gather_with_grad, gather_without_grad, row_offset
from cxralign.models.objectives.soft_label import soft_label_targets
from cxralign.models.objectives.tag_recognition import UncertainMode

MIN_TEMPERATURE = 0.01
"""A learned temperature is clamped here (CLIP's logit-scale cap of 100) to keep logits finite."""


class Temperature(nn.Module):
    """``τ``, either fixed or learned as ``log(1/τ)`` (CLIP), whose gradient scale does not
    depend on how small ``τ`` already is."""

    def __init__(self, initial: float, learnable: bool) -> None:
        super().__init__()
        if initial < MIN_TEMPERATURE:
            raise ValueError(f"temperature must be >= {MIN_TEMPERATURE}, got {initial}")
        log_scale = torch.tensor(math.log(1.0 / initial))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def scale(self) -> torch.Tensor:
        """``1/τ``, the factor applied to cosine similarities."""
        return self.log_scale.clamp(max=math.log(1.0 / MIN_TEMPERATURE)).exp()

    def forward(self) -> torch.Tensor:
        return 1.0 / self.scale()


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``−Σ_j targets_ij · log softmax(logits_i)_j``."""
    return -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def symmetric_info_nce(image_rows: torch.Tensor, text_rows: torch.Tensor,
                       image_columns: torch.Tensor, text_columns: torch.Tensor,
                       targets: torch.Tensor, scale: torch.Tensor | float,
                       image_to_text_weight: float) -> torch.Tensor:
    """``λ·CE(s·vᵣ·Tᵀ, q) + (1-λ)·CE(s·tᵣ·Vᵀ, q)`` for L2-normalised row embeddings
    ``(B, D)`` against column embeddings ``(N, D)`` with target rows ``q`` ``(B, N)``."""
    image_to_text = scale * image_rows @ text_columns.T
    text_to_image = scale * text_rows @ image_columns.T
    return (image_to_text_weight * soft_cross_entropy(image_to_text, targets)
            + (1.0 - image_to_text_weight) * soft_cross_entropy(text_to_image, targets))


class GlobalContrastiveLoss(nn.Module):
    """Bidirectional InfoNCE between pooled image and report embeddings, with negatives from all
    ranks and optional ASG soft labels (module docstring). Every hyper-parameter is given:
    their defaults are the recipe's (:class:`cxralign.models.recipes.RecipeConfig`).

    Args:
        temperature: ``τ`` (its initial value when ``learnable_temperature``).
        learnable_temperature: learn ``log(1/τ)``.
        soft_label_alpha: ASG's mixing weight ``α``; 0 = hard targets (``tags`` ignored).
        uncertain: how hedged findings enter the tag similarity (:mod:`.soft_label`).
        image_to_text_weight: ``λ`` of the image→text direction (ConVIRT 0.75; ½ symmetric).
    """

    def __init__(self, *, temperature: float, learnable_temperature: bool,
                 soft_label_alpha: float, uncertain: UncertainMode,
                 image_to_text_weight: float) -> None:
        super().__init__()
        if not 0.0 <= soft_label_alpha <= 1.0:
            raise ValueError(f"soft_label_alpha must lie in [0, 1], got {soft_label_alpha}")
        if not 0.0 <= image_to_text_weight <= 1.0:
            raise ValueError(f"image_to_text_weight must lie in [0, 1], got "
                             f"{image_to_text_weight}")
        self.temperature = Temperature(temperature, learnable_temperature)
        self.image_to_text_weight = image_to_text_weight
        self.soft_label_alpha = soft_label_alpha
        self.uncertain = uncertain

    def forward(self, image_embeddings: torch.Tensor, text_embeddings: torch.Tensor,
                tags: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of this rank's ``B`` studies: embeddings ``(B, D)`` (any scale; normalised
        here) and, for soft labels, their tag vectors ``(B, 78)``."""
        if image_embeddings.shape != text_embeddings.shape:
            raise ValueError(f"image and text embeddings differ in shape: "
                             f"{tuple(image_embeddings.shape)} vs {tuple(text_embeddings.shape)}")
        images = F.normalize(image_embeddings, dim=-1)
        texts = F.normalize(text_embeddings, dim=-1)
        all_images, all_texts = gather_with_grad(images), gather_with_grad(texts)
        first = row_offset(len(images))
        targets = self._targets(len(all_images), tags, images.device)[first:first + len(images)]
        return symmetric_info_nce(images, texts, all_images, all_texts, targets.to(images.dtype),
                                  self.temperature.scale(), self.image_to_text_weight)

    def _targets(self, columns: int, tags: torch.Tensor | None,
                 device: torch.device) -> torch.Tensor:
        """``(N, N)`` targets over the gathered batch: identity, or ASG's soft labels."""
        if self.soft_label_alpha == 0.0:
            return torch.eye(columns, device=device)
        if tags is None:
            raise ValueError("soft-label contrast (soft_label_alpha > 0) needs the studies' tags")
        return soft_label_targets(gather_without_grad(tags), self.soft_label_alpha,
                                  self.uncertain)
