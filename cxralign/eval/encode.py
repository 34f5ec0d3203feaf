"""Running a frozen :class:`~cxralign.models.model.AlignmentModel` over a split, in batches,
without gradients: global image embeddings, pooled backbone features (for probes), region
embeddings of given boxes, feature maps (for segmentation) and text embeddings.

Every path switches the model to eval mode (batch norm uses its running statistics, dropout is
off) and runs without gradients; inputs go to the model's device and embeddings come back on
the CPU.

Images go through the pre-training input path with augmentation switched off (plain resize of
the staged square to the model's input size, the same normalisation), and boxes through the same
map, so nothing here has its own idea of geometry or intensity scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cxralign.eval.data import Box
from cxralign.models.model import AlignmentModel
from cxralign.train.augment import Augmentation, sample_views, warp_boxes, warp_images
from cxralign.train.collate import normalise, pad_ids


@dataclass(frozen=True)
class ImageEmbeddings:
    """``global_`` (N, D) joint-space embeddings; ``pooled`` (N, C) the backbone's feature map
    averaged over space (the frozen features linear probes read); ``regions[i]`` (R_i, D) the
    embeddings of image i's boxes, in the order they were given."""

    global_: torch.Tensor
    pooled: torch.Tensor
    regions: list[torch.Tensor]


def _device(model: AlignmentModel) -> torch.device:
    return next(model.parameters()).device


def model_inputs(pixels: np.ndarray, image_size: int) -> tuple[torch.Tensor, object]:
    """Staged ``(B, S, S)`` uint8 -> normalised ``(B, 1, size, size)`` inputs and their views."""
    views = sample_views(len(pixels), pixels.shape[-1], image_size, Augmentation.none(),
                         torch.Generator())
    return normalise(warp_images(torch.from_numpy(np.ascontiguousarray(pixels)), views)), views


@torch.no_grad()
def encode_images(
    model: AlignmentModel, staged: Sequence[np.ndarray], boxes: Sequence[Sequence[Box]] | None,
    batch_size: int,
) -> ImageEmbeddings:
    """Embed every staged image (and, when ``boxes`` is given, each image's staged-pixel boxes)."""
    model.eval()
    globals_, pooled, regions = [], [], []
    for start in range(0, len(staged), batch_size):
        pixels = np.stack([staged[i] for i in range(start, min(start + batch_size, len(staged)))])
        images, views = model_inputs(pixels, model.image_size)
        features = model.encode_images(images.to(_device(model)))
        globals_.append(features.global_.cpu())
        pooled.append(features.feature_map.mean(dim=(2, 3)).cpu())
        if boxes is None:
            continue
        chunk = [boxes[start + i] for i in range(len(pixels))]
        flat = torch.tensor([box for image in chunk for box in image], dtype=torch.float64)
        owner = torch.tensor([i for i, image in enumerate(chunk) for _ in image], dtype=torch.long)
        if len(flat) == 0:
            regions.extend(torch.zeros(0, features.global_.shape[1]) for _ in chunk)
            continue
        input_boxes, _ = warp_boxes(flat.reshape(-1, 4), owner, views)
        embedded = model.encode_regions(features.feature_map, input_boxes.to(_device(model)),
                                        owner.to(_device(model))).cpu()
        regions.extend(embedded[owner == i] for i in range(len(chunk)))
    return ImageEmbeddings(torch.cat(globals_), torch.cat(pooled), regions)


@torch.no_grad()
def feature_maps(model: AlignmentModel, staged: np.ndarray, batch_size: int) -> torch.Tensor:
    """``(n, C, h, w)`` backbone feature maps of staged ``(n, S, S)`` images."""
    model.eval()
    maps = []
    for start in range(0, len(staged), batch_size):
        images, _ = model_inputs(staged[start : start + batch_size], model.image_size)
        maps.append(model.encode_images(images.to(_device(model))).feature_map.cpu())
    return torch.cat(maps)


@torch.no_grad()
def encode_token_rows(
    model: AlignmentModel, rows: Sequence[Sequence[int]], batch_size: int
) -> torch.Tensor:
    """``(N, D)`` global text embeddings of already tokenised rows."""
    model.eval()
    pad = model.tokenizer.pad_token_id or 0
    out = []
    for start in range(0, len(rows), batch_size):
        ids, mask = pad_ids(rows[start : start + batch_size], pad)
        out.append(model.encode_texts(ids.to(_device(model)), mask.to(_device(model)))
                   .global_.cpu())
    return torch.cat(out) if out else torch.zeros(0, model.recipe.embed_dim)


def encode_strings(
    model: AlignmentModel, texts: Sequence[str], max_tokens: int, batch_size: int
) -> torch.Tensor:
    """``(N, D)`` global text embeddings of raw strings (prompts)."""
    return encode_token_rows(model, tokenize_strings(model, texts, max_tokens), batch_size)


def tokenize_strings(model: AlignmentModel, texts: Sequence[str], max_tokens: int
                     ) -> list[list[int]]:
    """Token id rows of raw strings as the model's tokenizer makes them, cut at ``max_tokens``."""
    return model.tokenizer(list(texts), truncation=True, max_length=max_tokens)["input_ids"]
