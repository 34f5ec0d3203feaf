"""Zero-shot classification: an image is scored for a finding by how much closer it lies to a
positive prompt ("There is pleural effusion.") than to a negative one ("No pleural effusion.").

The score ``cos(image, positive) - cos(image, negative)`` is a monotone function of the
two-prompt softmax CLIP-style evaluations use, so the AUC is the same without a temperature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from cxralign.eval.auc import auc_per_finding, macro


def prompts(findings: Sequence[str], template: str) -> list[str]:
    """One prompt per finding, ``template`` with ``{finding}`` filled in."""
    return [template.format(finding=finding) for finding in findings]


def zero_shot_scores(
    image_embeddings: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
) -> torch.Tensor:
    """``(N, F)`` scores: cosine to each finding's positive prompt minus to its negative one."""
    images = F.normalize(image_embeddings.float(), dim=-1)
    return images @ F.normalize(positive.float(), dim=-1).T - images @ F.normalize(
        negative.float(), dim=-1
    ).T


def zero_shot_metrics(
    image_embeddings: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    labels: np.ndarray,
    findings: Sequence[str],
) -> tuple[dict[str, float], dict[str, float]]:
    """(``{"zero_shot_macro_auc": ...}``, per-finding AUCs) over findings with both classes."""
    per_finding = auc_per_finding(
        zero_shot_scores(image_embeddings, positive, negative), labels, findings
    )
    return {"zero_shot_macro_auc": macro(per_finding)}, per_finding
