"""Ingestion stage: incoming batches (or the embedded phantom batch) → de-identified tables and
staged arrays."""

from pathlib import Path

import dagster as dg

from assets.metadata import image_grid, png_markdown, table_preview
from assets.resources import CatalogResource
from cxralign.io.ingest import IngestSettings, ingest
from cxralign.io.staging import open_staged
from cxralign.synthetic import synthesize
from cxralign.synthetic.settings import SynthesisSettings

EMBEDDED_BATCH_PREFIX = "synthetic"


class EmbeddedDatasetConfig(SynthesisSettings, dg.Config):
    """Size and seed of the phantom batch generated when ``data/incoming/`` holds no batch."""


class DicomImagesConfig(IngestSettings, dg.Config):
    """Ingestion settings (defaults in ``cxralign.io.ingest.IngestSettings``)."""


def incoming_batches(incoming_dir: Path) -> list[Path]:
    """Batch folders under ``incoming/``, in name order (hidden folders are in-flight copies)."""
    if not incoming_dir.is_dir():
        return []
    return sorted(p for p in incoming_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


@dg.asset(group_name="ingestion", kinds={"python", "dicom"})
def incoming_studies(
    context: dg.AssetExecutionContext, config: EmbeddedDatasetConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """The batches of raw studies waiting in ``data/incoming/``.

    With none there, a deterministic phantom batch (real DICOM files, reports, ground truth) is
    generated so the whole pipeline runs out of the box; real data replaces it by dropping
    studies into ``data/incoming/<batch>/``.
    """
    batches = incoming_batches(catalog.incoming_dir)
    generated = None
    if not batches:
        name = f"{EMBEDDED_BATCH_PREFIX}-seed{config.seed}-n{config.studies}"
        context.log.info(f"no incoming batch; generating the embedded phantom batch {name}")
        generated = synthesize(
            catalog.incoming_dir / name, studies=config.studies, seed=config.seed,
            workers=config.workers,
        )
        batches = incoming_batches(catalog.incoming_dir)
    metadata: dict[str, dg.RawMetadataValue] = {
        "batches": dg.MetadataValue.json([b.name for b in batches]),
        "batch_count": len(batches),
    }
    if generated is not None:
        metadata |= {
            "generated_studies": generated.studies,
            "generated_images": generated.images,
            "generation_seconds": round(generated.seconds, 2),
        }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name="ingestion", deps=[incoming_studies], kinds={"python", "duckdb", "parquet"})
def dicom_images(
    context: dg.AssetExecutionContext, config: DicomImagesConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """De-identified ``images``, ``reports`` and ``rejected_inputs`` tables plus uint8 array
    shards, one partition per incoming batch.

    Bad inputs become ``rejected_inputs`` rows with a reason instead of failing the run; the
    counts are in this asset's metadata.
    """
    store = catalog.catalog
    totals = {"images": 0, "studies": 0, "reports": 0, "rejected": 0}
    rejected_by_reason: dict[str, int] = {}
    flags: dict[str, int] = {}
    seconds = 0.0
    for batch in incoming_batches(catalog.incoming_dir):
        summary = ingest(batch, store, config, partition=batch.name, progress=context.log.info)
        totals["images"] += summary.images
        totals["studies"] += summary.studies
        totals["reports"] += summary.reports
        totals["rejected"] += sum(summary.rejected.values())
        for reason, count in summary.rejected.items():
            rejected_by_reason[reason] = rejected_by_reason.get(reason, 0) + count
        for flag, count in summary.quality_flags.items():
            flags[flag] = flags.get(flag, 0) + count
        seconds += summary.seconds

    metadata: dict[str, dg.RawMetadataValue] = {
        **totals,
        "rejected_by_reason": dg.MetadataValue.json(rejected_by_reason),
        "quality_flags": dg.MetadataValue.json(flags),
        "seconds": round(seconds, 2),
        "images_per_second": round(totals["images"] / seconds, 1) if seconds else 0.0,
        "catalog": dg.MetadataValue.path(str(store.database_path)),
    }
    if totals["images"]:
        images = store.read_table("images")
        metadata["preview"] = table_preview(
            images, columns=["image_id", "study_id", "modality", "photometric", "bits_stored",
                             "rows", "columns", "split"],
        )
        sample = images.slice(0, 8).to_pylist()
        pictures = [open_staged(store.root, row["staged_path"], row["staged_index"]) for row in sample]
        metadata["staged_examples"] = png_markdown(
            image_grid(pictures), f"{len(pictures)} staged images ({config.image_size} px)"
        )
    return dg.MaterializeResult(metadata=metadata)
