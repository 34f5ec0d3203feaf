"""MGCA cross-modal prototype alignment (CPA): Sinkhorn–Knopp codes + swapped prediction.

Instance-level contrast treats two studies with the same disease as negatives. MGCA adds a
clustering view shared by both modalities: ``K`` learnable prototypes (unit vectors in the joint
space). Each image and each report embedding is softly assigned to the prototypes; the *codes*
of one modality are computed with Sinkhorn–Knopp, which forces every prototype to be used
equally often over the batch (without it all samples collapse onto one prototype), and the
*other* modality must predict them (SwAV's swapped prediction). Image and report of a study must
thus fall into the same semantic cluster. (MGCA switches this term on after a warm-up epoch and
freezes the prototypes for the first one; that schedule belongs to the training loop.)

Public API (tensor-level)::

    loss_fn = PrototypeAlignmentLoss(dim=D, num_prototypes=500, temperature=0.2,
                                     epsilon=0.05, sinkhorn_iterations=3, weight=1.0)
    out = loss_fn(image_global,   # (B, D) image embeddings of the local batch
                  text_global)    # (B, D) report embeddings, row i ↔ image i
    out.loss         # scalar (weighted); see "Distributed" below
    out.image_codes  # (B, K) Sinkhorn assignment of the images (rows sum to 1, no grad)
    out.text_codes   # (B, K) of the reports
    sinkhorn_knopp(scores (B, K), iterations, epsilon) -> (B, K) codes (also distributed)

Maths. ``z`` (image or text) and the prototypes ``c_k`` are L2-normalised, ``s = z·cᵀ``.
Codes: ``Q = exp(s/ε)ᵀ`` (K × B_total) normalised to sum 1, then ``iterations`` rounds of
``rows ← rows·(1/K)/row_sum`` (each prototype gets mass 1/K) and
``cols ← cols·(1/B_total)/col_sum`` (each sample mass 1/B_total); the code of a sample is its
column renormalised to sum 1.
Predictions ``p = softmax(s/τ)``. Swapped prediction:

    L = ½ ( mean_i −Σ_k q^img_ik log p^txt_ik  +  mean_i −Σ_k q^txt_ik log p^img_ik ).

Codes are targets: computed under ``no_grad``. Sinkhorn runs in float64 after subtracting the
global maximum of ``s/ε`` (a constant factor that the first normalisation removes), so
``exp`` neither overflows nor underflows for ``ε ≳ 0.003``.

Distributed. The Sinkhorn marginals are over the *global* batch: the total mass, the per-prototype
row sums and the batch size are summed with ``torch.distributed.all_reduce`` when a process group
is initialised, so every rank computes the codes the single-process run would compute for its
rows. The returned loss is ``local_sum · world_size / global_count``: DDP averages gradients over
ranks, which turns this into exactly the single-process mean over the global batch (also for
unequal local batch sizes); the mean of the returned losses over ranks equals the
single-process loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from cxralign.models.distributed import is_distributed, world_size


def _all_reduce(tensor: torch.Tensor, maximum: bool = False) -> torch.Tensor:
    """In-place all-reduce (sum, or max) when a process group exists; identity otherwise."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX if maximum else dist.ReduceOp.SUM)
    return tensor


@dataclass
class PrototypeOutput:
    """Weighted ``loss`` and the Sinkhorn codes of both modalities (B, K)."""

    loss: torch.Tensor
    image_codes: torch.Tensor
    text_codes: torch.Tensor


@torch.no_grad()
def sinkhorn_knopp(scores: torch.Tensor, iterations: int, epsilon: float
                   ) -> torch.Tensor:
    """Equipartitioned soft assignment ``(B, K)`` of the rows of ``scores`` (B, K) (module
    docstring); sums over the global batch across ranks when distributed."""
    if iterations < 0 or epsilon <= 0:
        raise ValueError("iterations must be >= 0 and epsilon > 0")
    logits = scores.detach().to(torch.float64) / epsilon
    peak = logits.max() if logits.numel() else logits.new_tensor(float("-inf"))
    peak = _all_reduce(peak.clone(), maximum=True)
    q = torch.exp(logits - peak).T  # (K, B)
    num_prototypes, local_batch = q.shape
    total_batch = _all_reduce(torch.tensor(float(local_batch), dtype=torch.float64,
                                           device=q.device))
    q /= _all_reduce(q.sum())
    for _ in range(iterations):
        row_sums = _all_reduce(q.sum(dim=1))
        q *= ((1.0 / num_prototypes) / row_sums).unsqueeze(1)
        q *= ((1.0 / total_batch) / q.sum(dim=0)).unsqueeze(0)
    codes = q / q.sum(dim=0, keepdim=True)
    return codes.T.to(scores.dtype)


def swapped_prediction(image_scores: torch.Tensor, text_scores: torch.Tensor,
                       image_codes: torch.Tensor, text_codes: torch.Tensor,
                       temperature: float) -> torch.Tensor:
    """Per-sample swapped-prediction cross-entropy ``(B,)``: ½ (image codes vs text
    predictions + text codes vs image predictions)."""
    image_log_p = F.log_softmax(image_scores / temperature, dim=1)
    text_log_p = F.log_softmax(text_scores / temperature, dim=1)
    image_to_text = -(image_codes * text_log_p).sum(dim=1)
    text_to_image = -(text_codes * image_log_p).sum(dim=1)
    return 0.5 * (image_to_text + text_to_image)


class PrototypeAlignmentLoss(nn.Module):
    """``K`` learnable prototypes with MGCA's swapped-prediction loss (module docstring).

    Args:
        dim: embedding width ``D`` of the global image and text embeddings.
        num_prototypes: ``K`` (MGCA: 500).
        temperature: softmax temperature of the predictions (MGCA ``proto_temperature`` 0.2).
        epsilon: entropic regularisation of Sinkhorn–Knopp (MGCA: 0.05).
        sinkhorn_iterations: Sinkhorn rounds (MGCA: 3).
        weight: factor applied to the returned loss.
    """

    def __init__(self, dim: int, *, num_prototypes: int, temperature: float, epsilon: float,
                 sinkhorn_iterations: int, weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0 or epsilon <= 0:
            raise ValueError("temperature and epsilon must be positive")
        self.temperature = temperature
        self.epsilon = epsilon
        self.sinkhorn_iterations = sinkhorn_iterations
        self.weight = weight
        self.prototypes = nn.Parameter(torch.empty(num_prototypes, dim))
        nn.init.normal_(self.prototypes, std=1.0 / math.sqrt(dim))

    def scores(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Cosine scores ``(B, K)`` of embeddings against the (normalised) prototypes."""
        return F.normalize(embeddings, dim=-1) @ F.normalize(self.prototypes, dim=-1).T

    def forward(self, image_global: torch.Tensor, text_global: torch.Tensor) -> PrototypeOutput:
        """Swapped-prediction loss of paired ``image_global`` and ``text_global`` (B, D)."""
        if image_global.shape != text_global.shape:
            raise ValueError(f"image and text embeddings differ in shape: "
                             f"{tuple(image_global.shape)} vs {tuple(text_global.shape)}")
        image_scores = self.scores(image_global)
        text_scores = self.scores(text_global)
        image_codes = sinkhorn_knopp(image_scores, self.sinkhorn_iterations, self.epsilon)
        text_codes = sinkhorn_knopp(text_scores, self.sinkhorn_iterations, self.epsilon)
        per_sample = swapped_prediction(image_scores, text_scores, image_codes, text_codes,
                                        self.temperature)
        count = _all_reduce(torch.tensor(float(per_sample.shape[0]), device=per_sample.device))
        loss = per_sample.sum() * world_size() / count.clamp_min(1.0)
        return PrototypeOutput(loss=self.weight * loss, image_codes=image_codes,
                               text_codes=text_codes)
