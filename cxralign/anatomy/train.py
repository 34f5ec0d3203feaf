"""Training the region detector from gold boxes of any source.

Sources are weighted equally (each batch draws about as many images from each source, however
many images it has), so 160 real radiographs are not drowned by a few hundred phantoms: the
phantoms teach the layout of all 29 regions, the real boxes teach what real lungs look like.
A region a source does not annotate is masked out of the loss. Per region the loss is
``5 * L1 + 2 * GIoU`` on the box (normalised coordinates) plus a binary cross-entropy teaching
the score head the IoU the box actually reached; each image weighs the same whatever its
number of annotated regions. Images whose source has lung masks add
``settings.lung_mask_weight`` x a per-cell lung segmentation loss: ~130 radiologist boxes are
8 numbers each, a mask supervises every cell with where the lungs really are. The trained
lung decoder then refines the lung boxes at inference, with the mask-to-box offsets fitted
here on the training images (``lung_masks``); both raised the cross-validated lung IoU
(``benchmarks/RESULTS.md``, anatomy).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import generalized_box_iou_loss

from cxralign.anatomy.atlas import Atlas, default_atlas, fit_atlas
from cxralign.anatomy.augment import AugmentRanges, augment
from cxralign.anatomy.dataset import GoldArrays, stage_source
from cxralign.anatomy.detector import Detector, DetectorConfig, normalise, to_input
from cxralign.anatomy.lung_masks import fit_mask_offsets
from cxralign.anatomy.model import RegionDetectorNet, check_pretrained_path
from cxralign.anatomy.settings import AnatomySettings
from cxralign.anatomy.sources import TrainingSource, phantom_source
from cxralign.io.ingest import IngestSettings
from cxralign.progress import Progress, emitter
from cxralign.vocabulary import REGIONS

L1_WEIGHT, GIOU_WEIGHT, SCORE_WEIGHT = 5.0, 2.0, 1.0
WARMUP_FRACTION = 0.05
WEIGHT_DECAY = 1e-4


@dataclass(frozen=True)
class TrainReport:
    """What a training run did; ``as_metadata`` gives Dagster-ready plain values."""

    model_dir: Path
    images_per_source: dict[str, int]
    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    losses: list[float] = field(repr=False)

    def as_metadata(self) -> dict[str, object]:
        return {
            "model_dir": str(self.model_dir),
            "images_per_source": dict(self.images_per_source),
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "first_loss": round(self.first_loss, 4),
            "last_loss": round(self.last_loss, 4),
        }


def train_detector(
    sources: list[TrainingSource],
    out_dir: Path,
    settings: AnatomySettings,
    progress: Callable[[str], None] | None = None,
) -> TrainReport:
    """Stage every source (plus ``settings.synthetic_studies`` phantoms), train, and save the
    model directory (weights, config, atlas) to ``out_dir``."""
    say = emitter(progress)
    started = time.perf_counter()
    check_pretrained_path(settings.pretrained_path)
    workers = settings.workers or _cores()
    staged_size = IngestSettings().staged_size
    parts: dict[str, GoldArrays] = {}
    for source in sources:
        parts[source.name] = stage_source(source, staged_size, workers, progress=say)
    phantoms = _phantoms(settings, staged_size, workers, say)
    real = [part for part in parts.values() if len(part)]
    if phantoms is not None:
        parts["phantom"] = phantoms
    if not real and phantoms is None:
        raise ValueError("no readable gold images in the training sources")

    settings = settings.with_epochs_for(real_data=bool(real))
    say(f"training {settings.epochs} epochs on {sum(len(p) for p in parts.values())} images")
    net, losses = fit_network([p for p in parts.values() if len(p)], settings, say=say)
    atlas = layout_atlas(real, phantoms)
    Detector(net, detector_config(real, settings), atlas).save(out_dir)
    seconds = time.perf_counter() - started
    window = max(1, len(losses) // 10)
    return TrainReport(
        model_dir=Path(out_dir),
        images_per_source={name: len(part) for name, part in parts.items()},
        steps=len(losses),
        seconds=seconds,
        first_loss=float(np.mean(losses[:window])),
        last_loss=float(np.mean(losses[-window:])),
        losses=losses,
    )


def _phantoms(
    settings: AnatomySettings, size: int, workers: int, say: Callable[[str], None]
) -> GoldArrays | None:
    """``settings.synthetic_studies`` freshly generated phantoms, staged (None for zero)."""
    if not settings.synthetic_studies:
        return None
    from cxralign.synthetic import synthesize

    say(f"generating {settings.synthetic_studies} phantom radiographs")
    with tempfile.TemporaryDirectory(prefix="cxralign-phantoms-") as scratch:
        synthesize(Path(scratch), settings.synthetic_studies, seed=settings.seed, workers=workers,
                   progress=say)
        return stage_source(phantom_source(Path(scratch)), size, workers, progress=say)


def learns_lung_masks(parts: list[GoldArrays], settings: AnatomySettings) -> bool:
    """Whether training on ``parts`` teaches the lung decoder: the loss is on and some image
    has a mask. Training and the saved config must agree, or an untrained decoder would
    refine the boxes."""
    return bool(settings.lung_mask_weight) and any(part.has_lung_mask.any() for part in parts)


def detector_config(real: list[GoldArrays], settings: AnatomySettings) -> DetectorConfig:
    """The saved config: with the lung-box offsets of the real images' masks when the network
    learned lungs from masks (else the lung decoder is untrained and not used)."""
    config = DetectorConfig.from_settings(settings)
    if not learns_lung_masks(real, settings):
        return config
    offsets = fit_mask_offsets(GoldArrays.concatenate([p for p in real if p.has_lung_mask.any()]))
    return replace(config, lung_mask_offsets=tuple(tuple(float(v) for v in row) for row in offsets))


def layout_atlas(real: list[GoldArrays], phantoms: GoldArrays | None) -> Atlas:
    """The atlas of a training run: what real gold annotates (at least the lungs' place in the
    image) comes from real gold, the rest from the phantoms (phantom lungs sit differently in
    their frame than real ones, so they must not shift the real average)."""
    base = fit_atlas(phantoms) if phantoms is not None else None
    return fit_atlas(GoldArrays.concatenate(real), fallback=base) if real else base or default_atlas()


def fit_network(
    parts: list[GoldArrays],
    settings: AnatomySettings,
    ranges: AugmentRanges | None = None,
    steps: int | None = None,
    say: Callable[[str], None] | None = None,
) -> tuple[RegionDetectorNet, list[float]]:
    """Train a fresh network on staged gold ``parts`` (one per source, weighted equally);
    ``steps`` defaults to ``epochs`` passes over all images; ``say`` gets throttled rate/ETA
    lines (default: the ``cxralign`` logger). Returns the net (eval mode) and the loss of
    every step."""
    ranges = ranges or AugmentRanges()
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    gold = GoldArrays.concatenate(parts)
    weights = torch.cat([torch.full((len(p),), 1.0 / len(p)) for p in parts])
    total = steps or default_steps(len(gold), settings)

    net = RegionDetectorNet(settings.backbone, len(REGIONS), settings.pretrained_path)
    optimiser = torch.optim.AdamW(net.parameters(), lr=settings.learning_rate,
                                  weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=settings.learning_rate, total_steps=total, pct_start=WARMUP_FRACTION)
    images = _resized(gold.images, settings.input_size)
    has_lung_mask = torch.from_numpy(gold.has_lung_mask)
    lung_masks = (_resized(gold.lung_masks, settings.input_size)[:, None]
                  if learns_lung_masks(parts, settings) else None)
    boxes, mask = torch.from_numpy(gold.boxes), torch.from_numpy(gold.mask)
    config = DetectorConfig.from_settings(settings)
    losses: list[float] = []
    net.train()
    meter = Progress(total, "detector training (steps)", emit=say)
    for _ in range(total):
        batch = torch.multinomial(weights, settings.batch_size, replacement=True, generator=generator)
        x, target, valid, maps = augment(images[batch], boxes[batch], mask[batch],
                                         settings.input_size, ranges, generator,
                                         lung_masks[batch] if lung_masks is not None else None)
        predicted, score_logits, lung_logits = net(normalise(x, config))
        loss = region_loss(predicted, score_logits, target, valid)
        if maps is not None:
            loss = loss + settings.lung_mask_weight * lung_mask_loss(
                lung_logits, maps, has_lung_mask[batch])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        meter.advance(detail=f"loss {np.mean(losses[-50:]):.4f} (last 50 steps)")
    return net.eval(), losses


def _resized(arrays: np.ndarray, size: int) -> torch.Tensor:
    """Staged uint8 ``(n, S, S)`` arrays resized once to the network input, as inference
    resizes; augmentation then resamples them at (about) 1:1."""
    return (to_input(arrays, size)[:, 0] * 255).round().to(torch.uint8)


def default_steps(images: int, settings: AnatomySettings) -> int:
    """Optimisation steps of a default run: ``settings.epochs`` passes over ``images``."""
    return settings.epochs * math.ceil(images / settings.batch_size)


def region_loss(
    predicted: torch.Tensor, score_logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Masked box + score loss; every image with at least one annotated region weighs the same."""
    l1 = (predicted - target).abs().sum(-1)
    giou = generalized_box_iou_loss(predicted, target.detach(), reduction="none")
    reached = _iou(predicted.detach(), target)
    score = F.binary_cross_entropy_with_logits(score_logits, reached, reduction="none")
    per_region = L1_WEIGHT * l1 + GIOU_WEIGHT * giou + SCORE_WEIGHT * score
    # where(), not a product: a masked region's placeholder box may give a NaN GIoU.
    per_region = torch.where(valid, per_region, torch.zeros_like(per_region))
    regions = valid.sum(-1)
    per_image = per_region.sum(-1) / regions.clamp_min(1)
    annotated = regions > 0
    return per_image[annotated].mean() if annotated.any() else per_region.sum() * 0


def lung_mask_loss(
    logits: torch.Tensor, masks: torch.Tensor, has_mask: torch.Tensor
) -> torch.Tensor:
    """Binary cross-entropy of the lung logits ``(B, 1, h, w)`` against the augmented masks
    ``(B, 1, H, W)`` in [0, 1], area-averaged onto the logit grid (a cell half inside the
    lung is taught 0.5), over the images that have a mask (``has_mask`` (B,) bool)."""
    target = F.adaptive_avg_pool2d(masks, logits.shape[-2:])
    per_image = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean((1, 2, 3))
    weights = has_mask.to(logits.dtype)
    return (per_image * weights).sum() / weights.sum().clamp_min(1)


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    low = torch.maximum(a[..., :2], b[..., :2])
    high = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (high - low).clamp_min(0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp_min(0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp_min(0).prod(-1)
    return inter / (area_a + area_b - inter).clamp_min(1e-9)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
