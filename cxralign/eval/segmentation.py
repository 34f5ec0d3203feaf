"""Lung segmentation with a frozen image encoder: a light decoder is trained on the encoder's
feature map and scored by Dice on held-out patients.

Data: a folder with ``images/`` and ``lung_masks/`` holding the same file names (the public
COVID-19 lung set in ``shared/data/covid_lung_boxes``), and ``metadata.csv`` mapping
``filename`` to ``patientid`` so no patient is in both the training and the held-out images.
Images are decoded and staged exactly as ingestion stages radiographs
(``cxralign.anatomy.dataset.load_image``); masks go through the same top-left anchored
geometry (``cxralign.io.preprocess``) so pixel (i, j) of a mask lies under pixel (i, j) of its
image. A mask whose size differs from its image's cannot be placed and is skipped (counted).
"""

from __future__ import annotations

import csv
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.model_selection import GroupShuffleSplit
from torch import nn
from torch.nn import functional as F
from torchmetrics.segmentation import DiceScore

from cxralign.anatomy.dataset import load_image
from cxralign.io.layouts import IMAGE_SUFFIXES
from cxralign.io.preprocess import resample
from cxralign.io.rejections import Rejection

logger = logging.getLogger(__name__)

MASK_THRESHOLD = 127  # masks are 0/255, some stored as JPEG (lossy edges)


@dataclass(frozen=True)
class MaskSet:
    """Staged images ``(n, S, S)`` uint8, masks ``(n, S, S)`` bool, patient groups, file names
    and how many files were skipped for which reason."""

    images: np.ndarray
    masks: np.ndarray
    groups: tuple[str, ...]
    names: tuple[str, ...]
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)


def _patients(folder: Path) -> dict[str, str]:
    """``filename -> patientid`` from ``metadata.csv`` (empty when there is none)."""
    path = folder / "metadata.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        return {row["filename"]: row["patientid"] for row in csv.DictReader(handle)
                if row.get("filename") and row.get("patientid")}


def stage_mask(path: Path, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """A mask file as a ``(size, size)`` bool array in staged geometry, and its source shape."""
    with Image.open(path) as image:
        grey = np.asarray(image.convert("L"), dtype=np.float32)
    binary = (grey > MASK_THRESHOLD).astype(np.float32)
    content = resample(binary, size) > 0.5
    staged = np.zeros((size, size), dtype=bool)
    staged[: content.shape[0], : content.shape[1]] = content
    return staged, grey.shape


def load_lung_masks(folder: Path, size: int) -> MaskSet:
    """Every image of ``folder/images`` that has a same-named, same-sized mask."""
    folder = Path(folder)
    patients = _patients(folder)
    images, masks, groups, names = [], [], [], []
    skipped: dict[str, int] = {}
    for mask_path in sorted((folder / "lung_masks").iterdir()):
        if mask_path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        image_path = folder / "images" / mask_path.name
        reason = None
        try:
            loaded = load_image(image_path, size) if image_path.is_file() else None
            if loaded is None:
                reason = "no image"
            else:
                mask, shape = stage_mask(mask_path, size)
                if shape != (loaded.rows, loaded.columns):
                    reason = "mask size differs from image"
        except (Rejection, OSError) as error:
            reason = f"unreadable ({getattr(error, 'reason', type(error).__name__)})"
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
            logger.warning("segmentation: %s skipped: %s", mask_path.name, reason)
            continue
        images.append(loaded.staged)
        masks.append(mask)
        groups.append(patients.get(mask_path.name, mask_path.name))
        names.append(mask_path.name)
    empty = np.zeros((0, size, size))
    return MaskSet(
        images=np.stack(images) if images else empty.astype(np.uint8),
        masks=np.stack(masks) if masks else empty.astype(bool),
        groups=tuple(groups), names=tuple(names), skipped=skipped,
    )


def patient_split(
    groups: tuple[str, ...], test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out indices with every patient on one side only."""
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    train, test = next(splitter.split(np.zeros(len(groups)), groups=list(groups)))
    return np.sort(train), np.sort(test)


class MaskDecoder(nn.Module):
    """Two convolutions on the frozen feature map, bilinearly upsampled to the mask size: light
    on purpose, so Dice measures what the encoder's features already know about the lungs."""

    def __init__(self, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.head = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1), nn.BatchNorm2d(hidden), nn.ReLU(),
            nn.Conv2d(hidden, 1, 1),
        )

    def forward(self, features: torch.Tensor, size: int) -> torch.Tensor:
        logits = self.head(features)
        return F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice (the usual pair for a foreground this large)."""
    probabilities = torch.sigmoid(logits)
    overlap = (probabilities * target).sum(dim=(1, 2, 3))
    total = probabilities.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    soft_dice = (2 * overlap + 1) / (total + 1)
    return F.binary_cross_entropy_with_logits(logits, target) + (1 - soft_dice).mean()


def train_decoder(
    features: torch.Tensor, masks: torch.Tensor, epochs: int, lr: float, seed: int,
    batch_size: int = 16,
) -> MaskDecoder:
    """Fit a :class:`MaskDecoder` on precomputed ``(n, C, h, w)`` features and ``(n, S, S)``
    bool masks with Adam."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    decoder = MaskDecoder(features.shape[1])
    optimiser = torch.optim.Adam(decoder.parameters(), lr=lr)
    target = masks.float().unsqueeze(1)
    size = masks.shape[-1]
    decoder.train()
    for _ in range(epochs):
        order = torch.randperm(len(features), generator=generator)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            if len(rows) < 2:  # batch norm needs two samples
                continue
            optimiser.zero_grad()
            _loss(decoder(features[rows], size), target[rows]).backward()
            optimiser.step()
    return decoder.eval()


def dice(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-image Dice of two ``(n, S, S)`` bool mask stacks (torchmetrics)."""
    with warnings.catch_warnings():  # torchmetrics warns of a default change even when set
        warnings.filterwarnings("ignore", message=".*average=macro.*")
        metric = DiceScore(num_classes=1, include_background=True, input_format="one-hot",
                           average="micro", aggregation_level="samplewise")
        return float(metric(predicted.long().unsqueeze(1), target.long().unsqueeze(1)))


def segmentation_metrics(
    features: torch.Tensor, masks: np.ndarray, groups: tuple[str, ...], test_fraction: float,
    epochs: int, lr: float, seed: int,
) -> dict[str, float]:
    """Train on one side of a patient split, ``segmentation_dice`` on the other."""
    train, test = patient_split(groups, test_fraction, seed)
    target = torch.as_tensor(masks)
    decoder = train_decoder(features[train], target[train], epochs, lr, seed)
    with torch.no_grad():
        predicted = decoder(features[test], target.shape[-1]) > 0
    return {
        "segmentation_dice": dice(predicted[:, 0], target[test]),
        "segmentation_train_images": float(len(train)),
        "segmentation_test_images": float(len(test)),
    }


def segmentation_references(
    masks: np.ndarray, groups: tuple[str, ...], test_fraction: float, seed: int,
) -> tuple[dict[str, float], dict[str, float]]:
    """Chance and trivial-baseline ``segmentation_dice`` on the same patient split.

    Chance: a mask of independent pixels, foreground with the training share ``p``, scores an
    expected Dice of about ``2 p q / (p + q)`` against a mask of foreground share ``q``. Trivial
    baseline: the pixel-wise majority of the training masks (where lungs usually are), the
    same for every image.
    """
    train, test = patient_split(groups, test_fraction, seed)
    target = torch.as_tensor(masks)
    share = float(target[train].float().mean())
    shares = target[test].float().mean(dim=(1, 2))
    chance = float((2 * share * shares / (share + shares).clamp_min(1e-12)).mean())
    majority = (target[train].float().mean(dim=0) > 0.5).expand_as(target[test])
    return {"segmentation_dice": chance}, {"segmentation_dice": dice(majority, target[test])}


def grid_too_coarse(features: torch.Tensor, min_grid: int) -> str:
    """Why Dice from ``(n, C, h, w)`` features would be meaningless, or "" when it is not."""
    height, width = features.shape[-2:]
    if min(height, width) >= min_grid:
        return ""
    return (f"segmentation skipped: the feature map is {height}×{width}, under "
            f"{min_grid}×{min_grid}, at this model's input size; Dice would measure upsampling "
            "of a few cells, not the encoder")
