"""Gold sources decoded into training arrays, through the same loaders ingestion uses.

Training and inference must see identical pixels, so each gold image is decoded and staged by
``cxralign.io.dicom.load_dicom`` / ``cxralign.io.raster.load_raster`` exactly as ingestion
would (same windowing, same top-left anchored ``S x S`` square). Boxes are then mapped with the
staged scale and normalised by ``S``: ``(original * scale) / S``.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cxralign.anatomy.geometry import REGION_INDEX
from cxralign.anatomy.sources import GoldImage, TrainingSource
from cxralign.io.dicom import load_dicom
from cxralign.io.ingest import IngestSettings
from cxralign.io.layouts import is_raster
from cxralign.io.preprocess import LoadedImage
from cxralign.io.raster import load_raster
from cxralign.io.rejections import Rejection
from cxralign.vocabulary import REGIONS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GoldArrays:
    """Staged gold images: ``images`` (n, S, S) uint8, ``boxes`` (n, 29, 4) float32 normalised
    by S, ``mask`` (n, 29) bool (region annotated), ``groups`` and ``names`` per image."""

    images: np.ndarray
    boxes: np.ndarray
    mask: np.ndarray
    groups: tuple[str, ...]
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: np.ndarray) -> GoldArrays:
        indices = np.asarray(indices, dtype=np.int64)
        return GoldArrays(
            images=self.images[indices], boxes=self.boxes[indices], mask=self.mask[indices],
            groups=tuple(self.groups[i] for i in indices),
            names=tuple(self.names[i] for i in indices),
        )

    @staticmethod
    def concatenate(parts: list[GoldArrays]) -> GoldArrays:
        return GoldArrays(
            images=np.concatenate([p.images for p in parts]),
            boxes=np.concatenate([p.boxes for p in parts]),
            mask=np.concatenate([p.mask for p in parts]),
            groups=tuple(g for p in parts for g in p.groups),
            names=tuple(n for p in parts for n in p.names),
        )


def load_image(path: Path, size: int) -> LoadedImage:
    """Decode and stage one DICOM/PNG/JPEG file exactly as ingestion does."""
    limits = IngestSettings()
    if is_raster(path):
        return load_raster(path, size, limits.min_side, limits.max_side)
    return load_dicom(path, size, limits.min_side, limits.max_side)


def _stage_one(args: tuple[GoldImage, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
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
    return loaded.staged, boxes, mask


def stage_source(source: TrainingSource, size: int, workers: int = 1) -> GoldArrays:
    """Decode every image of ``source`` to ``size x size``; unreadable files are skipped with a
    warning (a broken file must not stop training on the others). With ``workers > 1`` a
    forkserver pool decodes (a threaded caller must not fork), so scripts need the
    ``if __name__ == "__main__"`` idiom, as for ingestion."""
    jobs = [(gold, size) for gold in source.images]
    if workers > 1 and len(jobs) > 1:
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(_stage_one, jobs, chunksize=8))
    else:
        results = [_stage_one(job) for job in jobs]
    kept = [i for i, result in enumerate(results) if not isinstance(result, str)]
    for result in results:
        if isinstance(result, str):
            logger.warning("%s: gold image skipped (%s)", source.name, result)
    staged = [results[i] for i in kept]
    return GoldArrays(
        images=np.stack([r[0] for r in staged]) if staged else np.zeros((0, size, size), np.uint8),
        boxes=np.stack([r[1] for r in staged]) if staged else np.zeros((0, len(REGIONS), 4), np.float32),
        mask=np.stack([r[2] for r in staged]) if staged else np.zeros((0, len(REGIONS)), bool),
        groups=tuple(source.images[i].group for i in kept),
        names=tuple(source.images[i].path.name for i in kept),
    )
