"""Anatomy stage: a region detector trained from gold boxes, and 29 region boxes on every image."""

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from cxralign import layout
from cxralign.anatomy.detector import CONFIG_FILE
from cxralign.anatomy.draw import draw_boxes
from cxralign.anatomy.partitions import load_optional_detector, write_boxes
from cxralign.anatomy.settings import AnatomySettings
from cxralign.anatomy.sources import TrainingSource, coco_source, imagenome_source
from cxralign.anatomy.train import train_detector
from cxralign.io.catalog import Catalog
from cxralign.io.staging import open_staged
from cxralign_pipeline.defs.io.assets import dicom_images
from cxralign_pipeline.lib.metadata import image_grid, png_markdown, table_metadata, value_counts
from cxralign_pipeline.lib.partitions import BATCHES
from cxralign_pipeline.lib.resources import CatalogResource
from cxralign_pipeline.lib.stage import stage_asset
from cxralign_pipeline.lib.steps import StepOutcome, recorded_step


class AnatomyDetectorConfig(AnatomySettings, dg.Config):
    """Detector training settings (defaults in ``cxralign.anatomy.settings.AnatomySettings``)
    plus the gold-box files a user has. The incoming phantom batches' ground truth is kept for
    evaluation and never trained on."""

    coco_annotations: str = Field(default="", description="COCO box file (e.g. lung boxes); empty = none.")
    coco_images: str = Field(default="", description="Folder of the COCO file's images.")
    coco_masks: str = Field(default="", description="Folder of lung masks named like the COCO images; empty = none.")
    imagenome_scene_graphs: str = Field(default="", description="Chest ImaGenome scene-graph folder; empty = none.")
    imagenome_images: str = Field(default="", description="Folder of the scene graphs' images.")


class AnatomyBoxesConfig(AnatomySettings, dg.Config):
    """When detector boxes are trusted (``min_score``); other settings are the detector's."""


def _training_sources(config: AnatomyDetectorConfig) -> list[TrainingSource]:
    sources = []
    if config.coco_annotations:
        masks = Path(config.coco_masks) if config.coco_masks else None
        sources.append(coco_source(Path(config.coco_annotations), Path(config.coco_images), masks))
    if config.imagenome_scene_graphs:
        sources.append(
            imagenome_source(Path(config.imagenome_scene_graphs), Path(config.imagenome_images))
        )
    return sources


def materialised_detector(data_dir: Path | str, otherwise: str = "") -> Path:
    """The anatomy_detector asset's model directory, or an error that says to materialise it
    (and ``otherwise``, what else the caller could do) when it holds no detector."""
    model_dir = layout.anatomy_model_dir(data_dir)
    if not (model_dir / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"no anatomy detector in {model_dir}: materialise anatomy_detector "
                                f"first{', or ' + otherwise if otherwise else ''}")
    return model_dir


@stage_asset(kinds={"pytorch"})
def anatomy_detector(
    context: dg.AssetExecutionContext, config: AnatomyDetectorConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """A 29-region box detector (weights, config and fitted atlas in ``data/models/anatomy``),
    trained from phantom radiographs plus any COCO / Chest ImaGenome boxes configured."""
    model_dir = layout.anatomy_model_dir(catalog.data_dir)

    def work() -> StepOutcome:
        report = train_detector(_training_sources(config), model_dir, config, progress=context.log.info)
        return StepOutcome([model_dir], dict(report.as_metadata()))

    return recorded_step(context, Path(catalog.data_dir), config, work)


@stage_asset(deps=[dicom_images, anatomy_detector], partitions_def=BATCHES,
    kinds={"python", "parquet"},
)
def anatomy_boxes(
    context: dg.AssetExecutionContext, config: AnatomyBoxesConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """``boxes``: all 29 regions on every image of one batch, in staged pixels, from the
    detector where it is confident and the anatomical atlas elsewhere (``source`` says which)."""
    store = catalog.catalog
    batch = context.partition_key

    def work() -> StepOutcome:
        model_dir = materialised_detector(catalog.data_dir)
        boxes = write_boxes(store, batch, load_optional_detector(model_dir), config)
        images = store.read_table("images", [batch])
        written = [store.partition_path("boxes", batch)]
        metadata: dict[str, dg.RawMetadataValue] = {
            "images": pc.count_distinct(boxes["image_id"]).as_py(),
            "boxes": boxes.num_rows,
            **table_metadata(boxes, columns=["image_id", "region", "x1", "y1", "x2", "y2", "source"]),
        }
        if boxes.num_rows:
            metadata |= {"by_source": value_counts(boxes, "source"), "examples": _examples(store, images, boxes)}
        return StepOutcome(written, metadata, {"images": images.num_rows})

    return recorded_step(context, Path(catalog.data_dir), config, work)


def _examples(store: Catalog, images: pa.Table, boxes: pa.Table, count: int = 4) -> dg.MetadataValue:
    """The regions drawn on the first staged images, for a person to eyeball."""
    pictures = []
    for row in images.slice(0, count).to_pylist():
        mine = boxes.filter(pc.equal(boxes["image_id"], row["image_id"])).to_pylist()
        pictures.append(draw_boxes(
            open_staged(store.root, row["staged_path"], row["staged_index"]),
            {box["region"]: (box["x1"], box["y1"], box["x2"], box["y2"]) for box in mine},
        ))
    return png_markdown(image_grid(pictures), "regions on the first staged images")
