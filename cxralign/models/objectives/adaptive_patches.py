"""AdaMatch adaptive patch extraction and patch–word matching.

Lesions do not respect a fixed patch grid: a small nodule fills a fraction of one cell, an
effusion spans several. AdaMatch's adaptive patch extraction (APE) lets every grid cell move and
resize its patch: a small head reads the cell's feature and predicts an offset ``(dx, dy)`` and a
size ``(w, h)``, in units of the cell; features are then sampled bilinearly at ``k × k`` points
spread evenly inside the adaptive patch (``torch.nn.functional.grid_sample``, so offsets and
sizes are differentiable and no compiled op is needed) and averaged into the patch feature.
The head's last layer starts at zero, so training starts from the plain grid (zero offset, unit
size) and moves patches only where the matching loss pays for it.

Patch–word matching (AdaMatch's adaptive patch–word alignment, in the token-wise max form of
FILIP): for an image ``i`` and a report ``j``, each valid word of ``j`` picks its most similar
adaptive patch of ``i`` (cosine), and the image–report similarity is the mean over the words of
these maxima. AdaMatch matches in both directions, so the patch→word direction is mixed in:
each adaptive patch picks its most similar word, averaged over the patches, weighted by
``patch_to_word_weight`` (½ by default; 0 gives the word→patch form alone). Word→patch keeps
every word responsible for finding its evidence; patch→word asks every patch to be explained by
some word, which pushes patches over normal anatomy towards the words that describe it
("heart size is normal") instead of leaving them unconstrained. A symmetric InfoNCE over the
batch (image→report rows, report→image columns) then pulls matched pairs together.

Public API (tensor-level)::

    extractor = AdaptivePatchExtractor(channels=C, grid=(7, 7), samples_per_side=2,
                                       max_offset=1.0, min_size=0.25, max_size=4.0)
    patches = extractor(feature_map)      # feature_map (B, C, H, W)
    patches.features  # (B, P, C), P = gh·gw, row-major over the grid
    patches.boxes     # (B, P, 4) x1, y1, x2, y2 normalised to [0, 1] of the feature map
    patches.offsets   # (B, P, 2) (dx, dy) in cells;  patches.sizes (B, P, 2) (w, h) in cells
    sample_patches(feature_map, offsets, sizes, grid, samples_per_side) -> (B, P, C)

    matcher = PatchWordMatchingLoss(temperature=0.07, weight=1.0, patch_to_word_weight=0.5)
    out = matcher(patches,      # (B, P, D) adaptive patch features (projected to the text space)
                  words,        # (B, T, D) word features
                  word_mask)    # (B, T) bool, True = real word
    out.loss        # scalar (weighted); out.similarity (B_local, B_global) image→report

Geometry. Coordinates ``u ∈ [0, W]`` run over pixel edges (pixel ``x`` has centre
``x + ½``), matching ``grid_sample(align_corners=False)``. Cell ``(a, b)`` of a ``gh × gw``
grid has width ``cw = W/gw``, centre ``((b + ½)·cw, (a + ½)·ch)``; the adaptive patch has
centre ``centre + (dx·cw, dy·ch)`` and size ``(w·cw, h·ch)``, and sample ``s`` of ``k`` per
side sits at ``centre + size·((s + ½)/k − ½)``. With zero offsets, unit sizes and ``k = W/gw``
the samples hit pixel centres exactly, so the patch feature equals
``avg_pool2d(feature_map, cell)``: the plain grid. Samples falling outside the map read zeros
(``padding_mode="zeros"``): the head learns that padding is not evidence rather than being
shown repeated border features.

Distributed. Reports and images of other ranks are gathered with
``cxralign.models.distributed.gather_with_grad``; each rank's loss covers its own rows against
the global batch, and (with DDP averaging gradients) the mean of the rank losses is the
single-process loss over the global batch when local batch sizes are equal (as DDP's
samplers make them). Ranks may tokenise to different ``T``; words are padded to the longest.
Memory: the similarity tensor is ``B_local × B_global × T × P`` per direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cxralign.models.distributed import (
    gather_with_grad,
    gather_without_grad,
    is_distributed,
    row_offset,
)


@dataclass
class AdaptivePatches:
    """Output of :class:`AdaptivePatchExtractor` (see the module docstring for shapes)."""

    features: torch.Tensor
    boxes: torch.Tensor
    offsets: torch.Tensor
    sizes: torch.Tensor


@dataclass
class PatchWordMatchingOutput:
    """Weighted ``loss`` and the local-images × global-reports ``similarity`` (before τ)."""

    loss: torch.Tensor
    similarity: torch.Tensor


def _cell_centres(grid: tuple[int, int], device: torch.device, dtype: torch.dtype
                  ) -> torch.Tensor:
    """``(P, 2)`` cell centres (x, y) in cell units, row-major over the grid."""
    rows, cols = grid
    ys = torch.arange(rows, device=device, dtype=dtype) + 0.5
    xs = torch.arange(cols, device=device, dtype=dtype) + 0.5
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)


def patch_boxes(offsets: torch.Tensor, sizes: torch.Tensor, grid: tuple[int, int]
                ) -> torch.Tensor:
    """``(B, P, 4)`` boxes x1, y1, x2, y2 normalised to [0, 1] (may exceed it near edges)."""
    rows, cols = grid
    scale = offsets.new_tensor([cols, rows])
    centres = (_cell_centres(grid, offsets.device, offsets.dtype) + offsets) / scale
    half = sizes / scale / 2
    return torch.cat([centres - half, centres + half], dim=-1)


def sample_patches(feature_map: torch.Tensor, offsets: torch.Tensor, sizes: torch.Tensor,
                   grid: tuple[int, int], samples_per_side: int) -> torch.Tensor:
    """Mean of ``k × k`` bilinear samples inside each adaptive patch: ``(B, P, C)``.

    ``offsets`` and ``sizes`` are ``(B, P, 2)`` in cell units (x, y), ``P = gh·gw``.
    """
    batch, channels = feature_map.shape[:2]
    k = samples_per_side
    if k < 1:
        raise ValueError(f"samples_per_side must be >= 1, got {k}")
    boxes = patch_boxes(offsets, sizes, grid)  # in [0, 1]
    centres = (boxes[..., :2] + boxes[..., 2:]) / 2
    extent = boxes[..., 2:] - boxes[..., :2]
    steps = (torch.arange(k, device=feature_map.device, dtype=feature_map.dtype) + 0.5) / k - 0.5
    sy, sx = torch.meshgrid(steps, steps, indexing="ij")
    pattern = torch.stack([sx.reshape(-1), sy.reshape(-1)], dim=-1)  # (k·k, 2) in (x, y)
    points = centres[:, :, None, :] + extent[:, :, None, :] * pattern  # (B, P, k·k, 2)
    sampled = F.grid_sample(feature_map, points * 2 - 1, mode="bilinear",
                            padding_mode="zeros", align_corners=False)  # (B, C, P, k·k)
    return sampled.mean(dim=-1).transpose(1, 2).reshape(batch, -1, channels)


class AdaptivePatchExtractor(nn.Module):
    """AdaMatch's APE: per-cell offset/size head + bilinear patch sampling.

    Args:
        channels: ``C`` of the feature map.
        grid: ``(gh, gw)`` patch grid laid over the feature map (``P = gh·gw`` patches).
        samples_per_side: ``k``; choose ``H/gh`` to start exactly from average-pooled cells.
        hidden: width of the offset/size head.
        max_offset: bound (in cells) of ``|dx|, |dy|`` (``tanh`` squashing).
        min_size, max_size: bounds (in cells) of ``w, h`` (exponential parameterisation).
    """

    def __init__(self, channels: int, *, grid: tuple[int, int], samples_per_side: int,
                 hidden: int = 64, max_offset: float = 1.0, min_size: float = 0.25,
                 max_size: float = 4.0) -> None:
        super().__init__()
        if not 0 < min_size <= 1.0 <= max_size:
            raise ValueError("sizes must satisfy 0 < min_size <= 1 <= max_size")
        self.grid: tuple[int, int] = (int(grid[0]), int(grid[1]))
        self.samples_per_side = samples_per_side
        self.max_offset = max_offset
        self.log_size_range = (math.log(min_size), math.log(max_size))
        self.head = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.GELU(),
                                  nn.Conv2d(hidden, 4, 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, feature_map: torch.Tensor) -> AdaptivePatches:
        """Adaptive patch features of ``feature_map`` (B, C, H, W)."""
        cells = F.adaptive_avg_pool2d(feature_map, self.grid)
        raw = self.head(cells).flatten(2).transpose(1, 2)  # (B, P, 4)
        offsets = self.max_offset * torch.tanh(raw[..., :2])
        low, high = self.log_size_range
        sizes = torch.exp(raw[..., 2:].clamp(low, high))
        features = sample_patches(feature_map, offsets, sizes, self.grid, self.samples_per_side)
        return AdaptivePatches(features=features, boxes=patch_boxes(offsets, sizes, self.grid),
                               offsets=offsets, sizes=sizes)


def word_max_similarity(patches: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor
                        ) -> torch.Tensor:
    """``(B_img, B_rep)``: for each image–report pair, the mean over the report's valid words of
    the best cosine similarity among the image's patches (0 for a report without words)."""
    patches = F.normalize(patches, dim=-1)
    words = F.normalize(words, dim=-1)
    token_sim = torch.einsum("ipd,jtd->ijtp", patches, words)  # (B_img, B_rep, T, P)
    best = token_sim.max(dim=-1).values  # (B_img, B_rep, T)
    mask = word_mask.to(best.dtype)[None, :, :]
    return (best * mask).sum(dim=-1) / mask.sum(dim=-1).clamp_min(1.0)


def patch_max_similarity(patches: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor
                         ) -> torch.Tensor:
    """``(B_img, B_rep)``: for each image–report pair, the mean over the image's patches of the
    best cosine similarity among the report's valid words (0 for a report without words)."""
    patches = F.normalize(patches, dim=-1)
    words = F.normalize(words, dim=-1)
    token_sim = torch.einsum("ipd,jtd->ijpt", patches, words)  # (B_img, B_rep, P, T)
    valid = word_mask.bool()[None, :, None, :]
    best = token_sim.masked_fill(~valid, -torch.inf).max(dim=-1).values  # (B_img, B_rep, P)
    has_words = word_mask.bool().any(dim=-1)[None, :]
    return torch.where(has_words, best.mean(dim=-1), torch.zeros_like(best[..., 0]))


def matching_similarity(patches: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor,
                        patch_to_word_weight: float) -> torch.Tensor:
    """``(B_img, B_rep)`` image–report similarity mixing both matching directions."""
    similarity = word_max_similarity(patches, words, word_mask)
    if patch_to_word_weight == 0:
        return similarity
    return ((1 - patch_to_word_weight) * similarity
            + patch_to_word_weight * patch_max_similarity(patches, words, word_mask))


def _pad_words_to_global_length(words: torch.Tensor, word_mask: torch.Tensor
                                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (masked) word rows so every rank has the same ``T``: ranks tokenise their own batch,
    and the gather needs equal trailing shapes. Identity in a single process."""
    if not is_distributed():
        return words, word_mask
    length = torch.tensor([words.shape[1]], device=words.device)
    torch.distributed.all_reduce(length, op=torch.distributed.ReduceOp.MAX)
    missing = int(length) - words.shape[1]
    if missing == 0:
        return words, word_mask
    return F.pad(words, (0, 0, 0, missing)), F.pad(word_mask, (0, missing), value=False)


class PatchWordMatchingLoss(nn.Module):
    """Symmetric InfoNCE over word→best-patch image–report similarities (module docstring).

    Args:
        temperature: softmax temperature of the similarities.
        weight: factor applied to the returned loss.
        patch_to_word_weight: share of the patch→word direction in the similarity.
    """

    def __init__(self, *, temperature: float, patch_to_word_weight: float,
                 weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if not 0 <= patch_to_word_weight <= 1:
            raise ValueError(f"patch_to_word_weight must lie in [0, 1], got "
                             f"{patch_to_word_weight}")
        self.temperature = temperature
        self.weight = weight
        self.patch_to_word_weight = patch_to_word_weight

    def forward(self, patches: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor
                ) -> PatchWordMatchingOutput:
        """Loss of local image rows ``patches`` (B,P,D) against reports ``words`` (B,T,D)."""
        if patches.shape[0] != words.shape[0] or words.shape[:2] != word_mask.shape:
            raise ValueError("patches, words and word_mask must share the batch (and T) sizes")
        words, word_mask = _pad_words_to_global_length(words, word_mask.bool())
        local = patches.shape[0]
        all_patches = gather_with_grad(patches)
        all_words = gather_with_grad(words)
        all_mask = gather_without_grad(word_mask.to(torch.uint8)).bool()
        mix = self.patch_to_word_weight
        image_to_report = matching_similarity(patches, all_words, all_mask, mix)  # (B_l, B_g)
        report_to_image = matching_similarity(all_patches, words, word_mask, mix).T
        targets = torch.arange(local, device=patches.device) + row_offset(local)
        loss = 0.5 * (F.cross_entropy(image_to_report / self.temperature, targets)
                      + F.cross_entropy(report_to_image / self.temperature, targets))
        return PatchWordMatchingOutput(loss=self.weight * loss, similarity=image_to_report)
