"""What the encoders and the model hand back: small named bundles instead of tuples."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ImageFeatures:
    """An image batch in the joint space (projected, not normalised).

    ``global_`` (B, D) whole-image embedding; ``patches`` (B, P, D) one embedding per cell of
    the ``grid`` (h, w) with ``P = h·w`` in row-major order; ``feature_map`` (B, C, h, w) the
    backbone's unprojected map, which region pooling (RoI-align) reads.
    """

    global_: torch.Tensor
    patches: torch.Tensor
    grid: tuple[int, int]
    feature_map: torch.Tensor


@dataclass(frozen=True)
class TextFeatures:
    """A text batch in the joint space (projected, not normalised).

    ``global_`` (N, D) whole-text embedding; ``words`` (N, T, D) one embedding per token;
    ``word_mask`` (N, T) bool: True for real words (not padding, [CLS] or [SEP]);
    ``word_importance`` (N, T) the [CLS] attention to each token when the recipe weights words
    by it (MGCA), else None.
    """

    global_: torch.Tensor
    words: torch.Tensor
    word_mask: torch.Tensor
    word_importance: torch.Tensor | None = None


@dataclass(frozen=True)
class LossOutput:
    """``total`` = ``sum(terms.values())``; each term is already multiplied by its recipe
    weight, so the terms show directly how much each objective contributes."""

    total: torch.Tensor
    terms: dict[str, torch.Tensor]
