"""Zero-shot classification: an image is scored for a finding by how much closer it lies to the
finding's positive prompts ("There is pleural effusion.") than to its negative ones ("No pleural
effusion.").

Each side is a prompt ensemble: every template is filled in with the finding, embedded, L2
normalised, and the templates' embeddings are averaged (CLIP's ensembling), so no single
wording decides the score. The score ``cos(image, positive) - cos(image, negative)`` is a
monotone function of the two-prompt softmax CLIP-style evaluations use, so the AUC is the same
without a temperature. Chance is AUC 0.5 by definition; the trivial baseline is the random-init
encoder row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from cxralign.eval.auc import auc_per_finding


def prompts(findings: Sequence[str], templates: Sequence[str]) -> list[str]:
    """Every template (``{finding}`` filled in) for every finding, template-major: the
    ``len(templates) * len(findings)`` strings :func:`ensemble` expects embedded in order."""
    return [template.format(finding=finding) for template in templates for finding in findings]


def ensemble(embeddings: torch.Tensor, templates: int) -> torch.Tensor:
    """``(F, D)`` unit-length mean of each finding's normalised template embeddings, from the
    ``(templates * F, D)`` embeddings of :func:`prompts`."""
    normalised = F.normalize(embeddings.float(), dim=-1)
    grouped = normalised.reshape(templates, -1, normalised.shape[-1])
    return F.normalize(grouped.mean(dim=0), dim=-1)


def prompt_ensembles(
    embed: Callable[[list[str]], torch.Tensor], positive_templates: Sequence[str],
    negative_templates: Sequence[str], findings: Sequence[str],
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(F, D)`` positive and negative ensembles of ``findings``, every prompt embedded by
    ``embed`` (strings -> ``(N, D)``), so the same prompts can be read by any text side."""
    positive, negative = (ensemble(embed(prompts(findings, templates)), len(templates))
                          for templates in (positive_templates, negative_templates))
    return positive, negative


def zero_shot_scores(
    image_embeddings: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
) -> torch.Tensor:
    """``(N, F)`` scores: cosine to each finding's positive prompt minus to its negative one."""
    images = F.normalize(image_embeddings.float(), dim=-1)
    return images @ F.normalize(positive.float(), dim=-1).T - images @ F.normalize(
        negative.float(), dim=-1
    ).T


def zero_shot_auc(
    image_embeddings: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    labels: np.ndarray,
    findings: Sequence[str],
) -> dict[str, float]:
    """Per-finding AUC of the zero-shot scores, over findings with both classes."""
    return auc_per_finding(zero_shot_scores(image_embeddings, positive, negative), labels,
                           findings)
