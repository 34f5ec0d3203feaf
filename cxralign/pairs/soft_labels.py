"""Soft targets for ASG's soft-label image–report contrastive loss.

Plain InfoNCE treats every other study in a batch as a negative, although two reports that say
the same thing ("no effusion, no pneumothorax") describe interchangeable images. ASG softens the
one-hot target with tag similarity: target = ``(1 - α)·I + α·S̃``, where ``S̃`` is the
study×study similarity of tag vectors, normalised so each row sums to 1.

Similarity is the cosine of the tag vectors: it is non-negative (tags are 0/1), 1 for identical
tag sets whatever their size, and symmetric. A study with no tag has no direction: it is
similar (1) to every other study with no tag, since both state the same, empty set (for the
present-finding vectors that training compares, two normal studies), and to nothing else.

Both directions: the image→report loss takes row ``i`` of the target over the batch's reports,
the report→image loss takes row ``j`` over the batch's images. Row-normalising ``S`` and ``Sᵀ``
gives the same matrix because ``S`` is symmetric, so one matrix serves both; the training stage
uses ``targets`` for ``logits`` and for ``logits.T`` alike.
"""

from __future__ import annotations

import numpy as np


def tag_similarity(tags: np.ndarray) -> np.ndarray:
    """Cosine similarity ``(n, n)`` of the rows of ``tags`` ``(n, TAG_COUNT)``; all-zero rows
    are 1 to each other (see the module docstring)."""
    tags = np.asarray(tags, dtype=np.float64)
    if tags.ndim != 2:
        raise ValueError(f"tags must be a (studies, tags) matrix, got shape {tags.shape}")
    norms = np.linalg.norm(tags, axis=1)
    unit = np.divide(tags, norms[:, None], out=np.zeros_like(tags), where=norms[:, None] > 0)
    similarity = unit @ unit.T
    empty = norms == 0
    similarity[np.ix_(empty, empty)] = 1.0
    np.fill_diagonal(similarity, 1.0)
    return similarity


def soft_targets(tags: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha)·I + alpha·rownorm(tag_similarity(tags))``: rows sum to 1; ``alpha = 0``
    is the identity (plain InfoNCE), ``alpha = 1`` the pure similarity distribution."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    similarity = tag_similarity(tags)
    normalised = similarity / similarity.sum(axis=1, keepdims=True)
    return (1.0 - alpha) * np.eye(len(similarity)) + alpha * normalised
