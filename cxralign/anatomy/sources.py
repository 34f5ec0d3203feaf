"""Gold boxes the detector learns from, whatever format they come in.

Every reader turns its format into the same :class:`TrainingSource`: image files with boxes in
the ORIGINAL image's pixels, keyed by Chest ImaGenome region name, and a group key (the
patient) so evaluations can split without leaking a patient across folds. A region a source
does not annotate is simply absent from its boxes; the trainer masks it out of the loss.

- ``coco_source``: COCO detection JSON (``bbox = [x, y, width, height]``), category names
  matched to region names case-insensitively (``Right Lung`` -> ``right lung``); optionally a
  folder of binary lung masks named like the images (e.g. the V7 masks of the COVID lung-box
  set), a dense training signal the boxes alone do not give.
- ``imagenome_source``: Chest ImaGenome scene graphs (``objects[].bbox_name`` and
  ``original_x1..original_y2``), images found by DICOM id anywhere under ``images_dir``.
- ``phantom_source``: a ``cxralign.synthetic.synthesize`` folder (all 29 regions per image).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from cxralign.anatomy.geometry import REGION_INDEX
from cxralign.io.layouts import IMAGE_SUFFIXES
from cxralign.layout import GROUND_TRUTH_DIR

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class GoldImage:
    """One image file, its gold boxes (region -> box in original pixels) and, when the source
    has one, a binary mask of both lungs in the same frame as the image."""

    path: Path
    boxes: dict[str, Box]
    group: str
    lung_mask: Path | None = None


@dataclass(frozen=True)
class TrainingSource:
    """A named set of gold images (``name`` shows up in training reports)."""

    name: str
    images: tuple[GoldImage, ...]

    def regions(self) -> set[str]:
        return {region for image in self.images for region in image.boxes}


def coco_source(
    annotations_json: Path, images_dir: Path, masks_dir: Path | None = None
) -> TrainingSource:
    """Gold boxes from a COCO detection file; unknown categories and uncategorised boxes are
    skipped with a warning (a box without a name cannot be taught). With ``masks_dir``, each
    image's lung mask is the file of the same name there (an image without one is counted in
    a warning and trains on its boxes alone)."""
    data = json.loads(Path(annotations_json).read_text(encoding="utf-8"))
    category_region: dict[int, str] = {}
    for category in data.get("categories", []):
        region = str(category.get("name", "")).strip().lower()
        if region in REGION_INDEX:
            category_region[category["id"]] = region
        else:
            logger.warning("COCO category %r is not a Chest ImaGenome region; skipped",
                           category.get("name"))
    boxes: dict[int, dict[str, Box]] = {}
    for annotation in data.get("annotations", []):
        region = category_region.get(annotation.get("category_id"))
        if region is None:
            logger.warning("COCO annotation %s has no known category; skipped",
                           annotation.get("id"))
            continue
        x, y, width, height = (float(v) for v in annotation["bbox"])
        if width <= 0 or height <= 0:
            logger.warning("COCO annotation %s has an empty box; skipped", annotation.get("id"))
            continue
        boxes.setdefault(annotation["image_id"], {})[region] = (x, y, x + width, y + height)
    images = tuple(
        GoldImage(
            path=Path(images_dir) / entry["file_name"],
            boxes=boxes[entry["id"]],
            group=str((entry.get("metadata") or {}).get("patientid") or entry["file_name"]),
            lung_mask=_mask_file(masks_dir, entry["file_name"]),
        )
        for entry in data.get("images", [])
        if entry["id"] in boxes
    )
    if masks_dir is not None:
        unmasked = sum(image.lung_mask is None for image in images)
        if unmasked:
            logger.warning("%d of %d COCO images have no lung mask in %s", unmasked,
                           len(images), masks_dir)
    return TrainingSource(name=f"coco:{Path(annotations_json).name}", images=images)


def _mask_file(masks_dir: Path | None, file_name: str) -> Path | None:
    if masks_dir is None:
        return None
    path = Path(masks_dir) / file_name
    return path if path.is_file() else None


def imagenome_source(scene_graph_dir: Path, images_dir: Path) -> TrainingSource:
    """Gold boxes from Chest ImaGenome ``*_SceneGraph.json`` files whose image is on disk."""
    files = {
        path.stem: path
        for path in Path(images_dir).rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    }
    images: list[GoldImage] = []
    missing = 0
    for graph_path in sorted(Path(scene_graph_dir).rglob("*.json")):
        graph = json.loads(graph_path.read_text(encoding="utf-8"))
        image_key = str(graph.get("image_id") or graph_path.stem.split("_")[0])
        if image_key not in files:
            missing += 1
            continue
        boxes = {
            obj["bbox_name"]: (float(obj["original_x1"]), float(obj["original_y1"]),
                               float(obj["original_x2"]), float(obj["original_y2"]))
            for obj in graph.get("objects", [])
            if obj.get("bbox_name") in REGION_INDEX
            and obj["original_x2"] > obj["original_x1"] and obj["original_y2"] > obj["original_y1"]
        }
        if boxes:
            group = str(graph.get("patient_id") or image_key)
            images.append(GoldImage(path=files[image_key], boxes=boxes, group=group))
    if missing:
        logger.warning("%d scene graphs have no image under %s; skipped", missing, images_dir)
    return TrainingSource(name=f"imagenome:{Path(scene_graph_dir).name}", images=tuple(images))


def phantom_source(out_dir: Path) -> TrainingSource:
    """Gold boxes of a phantom batch written by ``cxralign.synthetic.synthesize``."""
    out_dir = Path(out_dir)
    studies = pq.read_table(out_dir / GROUND_TRUTH_DIR / "studies.parquet",
                            columns=["image_key", "patient_key", "dicom_path"]).to_pylist()
    regions = pq.read_table(out_dir / GROUND_TRUTH_DIR / "regions.parquet").to_pylist()
    boxes: dict[str, dict[str, Box]] = {}
    for row in regions:
        boxes.setdefault(row["image_key"], {})[row["region"]] = (
            row["x1"], row["y1"], row["x2"], row["y2"])
    images = tuple(
        GoldImage(path=out_dir / row["dicom_path"], boxes=boxes[row["image_key"]],
                  group=row["patient_key"])
        for row in studies
        if row["image_key"] in boxes
    )
    return TrainingSource(name=f"phantom:{out_dir.name}", images=images)
