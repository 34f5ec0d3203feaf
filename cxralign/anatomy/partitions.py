"""Anatomy boxes on one catalog partition (batch): shared by the Dagster asset and the
``cxralign anatomy boxes`` command that ``dvc.yaml`` calls, so both write identical files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from cxralign.anatomy.detector import Detector, load_detector
from cxralign.anatomy.locate import boxes_table
from cxralign.anatomy.settings import AnatomySettings
from cxralign.io.catalog import Catalog
from cxralign.io.staging import StagedImages


def load_optional_detector(model_dir: Path | None) -> Detector | None:
    """The detector saved in ``model_dir``; ``None`` (atlas only) when no directory is given."""
    return load_detector(model_dir) if model_dir is not None else None


def write_boxes(
    catalog: Catalog, batch: str, detector: Detector | None, settings: AnatomySettings
) -> pa.Table:
    """``images`` of ``batch`` → its ``boxes`` (29 regions per image, staged pixels)."""
    images = catalog.read_table("images", [batch])
    staged = StagedImages.from_catalog(catalog, [batch])
    boxes = boxes_table(images, staged, detector, settings)
    catalog.write_table("boxes", boxes, batch)
    return boxes
