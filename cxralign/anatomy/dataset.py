"""Gold sources decoded into training arrays, through the same loaders ingestion uses.

Training and inference must see identical pixels, so each gold image is decoded and staged by
``cxralign.io.dicom.load_dicom`` / ``cxralign.io.raster.load_raster`` exactly as ingestion
would (same windowing, same top-left anchored ``S x S`` square). Boxes are then mapped with the
staged scale and normalised by ``S``: ``(original * scale) / S``; a lung mask is resampled and
padded exactly as its image's pixels, so mask, image and boxes stay in one frame.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image

from cxralign.anatomy.geometry import REGION_INDEX
from cxralign.anatomy.sources import GoldImage, TrainingSource
from cxralign.io.dicom import load_dicom
from cxralign.io.ingest import IngestSettings
from cxralign.io.layouts import is_raster
from cxralign.io.preprocess import LoadedImage, resample, to_staged
from cxralign.io.raster import load_raster
from cxralign.io.rejections import Rejection
from cxralign.progress import Emit, Progress
from cxralign.vocabulary import REGIONS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GoldArrays:
    """Staged gold images: ``images`` (n, S, S) uint8, ``boxes`` (n, 29, 4) float32 normalised
    by S, ``mask`` (n, 29) bool (region annotated), ``groups`` and ``names`` per image,
    ``lung_masks`` (n, S, S) uint8 (255 = lung; zeros where ``has_lung_mask`` is False)."""

    images: np.ndarray
    boxes: np.ndarray
    mask: np.ndarray
    groups: tuple[str, ...]
    names: tuple[str, ...]
    lung_masks: np.ndarray
    has_lung_mask: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: np.ndarray) -> GoldArrays:
        indices = np.asarray(indices, dtype=np.int64)
        return GoldArrays(
            images=self.images[indices], boxes=self.boxes[indices], mask=self.mask[indices],
            groups=tuple(self.groups[i] for i in indices),
            names=tuple(self.names[i] for i in indices),
            lung_masks=self.lung_masks[indices], has_lung_mask=self.has_lung_mask[indices],
        )

    @staticmethod
    def concatenate(parts: list[GoldArrays]) -> GoldArrays:
        return GoldArrays(
            images=np.concatenate([p.images for p in parts]),
            boxes=np.concatenate([p.boxes for p in parts]),
            mask=np.concatenate([p.mask for p in parts]),
            groups=tuple(g for p in parts for g in p.groups),
            names=tuple(n for p in parts for n in p.names),
            lung_masks=np.concatenate([p.lung_masks for p in parts]),
            has_lung_mask=np.concatenate([p.has_lung_mask for p in parts]),
        )


def load_image(path: Path, size: int) -> LoadedImage:
    """Decode and stage one DICOM/PNG/JPEG file exactly as ingestion does."""
    limits = IngestSettings()
    if is_raster(path):
        return load_raster(path, size, limits.min_side, limits.max_side)
    return load_dicom(path, size, limits.min_side, limits.max_side)


MASK_ASPECT_TOLERANCE: Final = 0.01


def stage_lung_mask(path: Path, rows: int, columns: int, size: int) -> np.ndarray:
    """A binary mask file staged like an image of ``rows x columns``: first brought to that
    frame (some mask files are stored at another resolution than their image), then resampled
    and padded exactly as the image's pixels; the result is a soft uint8 mask. A mask of
    another shape than its image (a different crop of the figure) cannot be placed and raises
    ``ValueError``."""
    with Image.open(path) as file:
        mask = file.convert("L")
        mask_columns, mask_rows = mask.size
        if abs(mask_columns * rows / (mask_rows * columns) - 1) > MASK_ASPECT_TOLERANCE:
            raise ValueError(f"mask is {mask_columns}x{mask_rows}, a different shape from its "
                             f"{columns}x{rows} image")
        if mask.size != (columns, rows):
            mask = mask.resize((columns, rows), Image.Resampling.NEAREST)
        binary = (np.asarray(mask) > 127).astype(np.float32)
    return to_staged(np.clip(resample(binary, size), 0.0, 1.0), size)


StagedGold = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]


def _stage_one(args: tuple[GoldImage, int]) -> StagedGold | str:
    gold, size = args
    try:
        loaded = load_image(gold.path, size)
    except (Rejection, OSError) as error:
        return f"{gold.path.name}: {getattr(error, 'reason', type(error).__name__)}"
    boxes = np.zeros((len(REGIONS), 4), dtype=np.float32)
    mask = np.zeros(len(REGIONS), dtype=bool)
    for region, box in gold.boxes.items():
        boxes[REGION_INDEX[region]] = np.asarray(box) * loaded.scale / size
        mask[REGION_INDEX[region]] = True
    lung_mask = None
    if gold.lung_mask is not None:
        try:
            lung_mask = stage_lung_mask(gold.lung_mask, loaded.rows, loaded.columns, size)
        except (OSError, ValueError) as error:  # a bad mask costs the mask, not the image
            logger.warning("%s: lung mask skipped (%s)", gold.lung_mask.name, error)
    return loaded.staged, boxes, mask, lung_mask


def stage_source(source: TrainingSource, size: int, workers: int = 1,
                 progress: Emit | None = None) -> GoldArrays:
    """Decode every image of ``source`` to ``size x size``; unreadable files are skipped with a
    warning (a broken file must not stop training on the others); ``progress`` gets throttled
    rate/ETA lines. With ``workers > 1`` a
    forkserver pool decodes (a threaded caller must not fork), so scripts need the
    ``if __name__ == "__main__"`` idiom, as for ingestion."""
    jobs = [(gold, size) for gold in source.images]
    meter = Progress(len(jobs), f"decoding {source.name} images", emit=progress)
    results: list[StagedGold | str] = []
    with contextlib.ExitStack() as stack:
        staged_jobs: Iterator[StagedGold | str] = map(_stage_one, jobs)
        if workers > 1 and len(jobs) > 1:
            context = multiprocessing.get_context("forkserver")
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers, mp_context=context))
            staged_jobs = pool.map(_stage_one, jobs, chunksize=8)
        for result in staged_jobs:
            results.append(result)
            meter.advance()
    kept = [i for i, result in enumerate(results) if not isinstance(result, str)]
    for result in results:
        if isinstance(result, str):
            logger.warning("%s: gold image skipped (%s)", source.name, result)
    staged = [results[i] for i in kept]
    if not staged:
        return GoldArrays(
            images=np.zeros((0, size, size), np.uint8),
            boxes=np.zeros((0, len(REGIONS), 4), np.float32),
            mask=np.zeros((0, len(REGIONS)), bool), groups=(), names=(),
            lung_masks=np.zeros((0, size, size), np.uint8), has_lung_mask=np.zeros(0, bool),
        )
    empty = np.zeros((size, size), np.uint8)
    return GoldArrays(
        images=np.stack([r[0] for r in staged]),
        boxes=np.stack([r[1] for r in staged]),
        mask=np.stack([r[2] for r in staged]),
        groups=tuple(source.images[i].group for i in kept),
        names=tuple(source.images[i].path.name for i in kept),
        lung_masks=np.stack([empty if r[3] is None else r[3] for r in staged]),
        has_lung_mask=np.array([r[3] is not None for r in staged], dtype=bool),
    )
