"""Ingestion stage: incoming batches (or the embedded phantom batch) → de-identified tables and
staged arrays, one ``batches`` partition per ``data/incoming/<batch>/`` folder."""

from pathlib import Path

import dagster as dg

from cxralign import layout
from cxralign.io.ingest import IngestSettings, ingest
from cxralign.io.staging import open_staged
from cxralign.lineage.step import Upstream
from cxralign.synthetic import synthesize
from cxralign.synthetic.settings import SynthesisSettings
from cxralign_pipeline.lib.metadata import image_grid, png_markdown, table_metadata
from cxralign_pipeline.lib.partitions import BATCHES, EMBEDDED_BATCH_PREFIX
from cxralign_pipeline.lib.resources import CatalogResource
from cxralign_pipeline.lib.stage import stage_asset
from cxralign_pipeline.lib.steps import StepOutcome, recorded_step

INGESTED_TABLES = ("images", "reports", "rejected_inputs")


class EmbeddedDatasetConfig(SynthesisSettings, dg.Config):
    """Size and seed of the phantom batch generated when ``data/incoming/`` holds no batch."""


class DicomImagesConfig(IngestSettings, dg.Config):
    """Ingestion settings (defaults in ``cxralign.io.ingest.IngestSettings``)."""


def embedded_batch_name(settings: SynthesisSettings) -> str:
    """The folder (and partition) name of the phantom batch these settings generate."""
    return f"{EMBEDDED_BATCH_PREFIX}-seed{settings.seed}-n{settings.studies}"


def incoming_batches(incoming_dir: Path) -> list[Path]:
    """Batch folders under ``incoming/``, in name order (hidden folders are in-flight copies)."""
    if not incoming_dir.is_dir():
        return []
    return sorted(p for p in incoming_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


@stage_asset(kinds={"python", "dicom"})
def incoming_studies(
    context: dg.AssetExecutionContext, config: EmbeddedDatasetConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """The batches of raw studies waiting in ``data/incoming/``, each registered as a partition
    of ``batches`` (the sensor does the same for batches that arrive later).

    With none there, a deterministic phantom batch (real DICOM files, reports, ground truth) is
    generated so the whole pipeline runs out of the box; real data replaces it by dropping
    studies into ``data/incoming/<batch>/``.
    """
    def work() -> StepOutcome:
        batches = incoming_batches(catalog.incoming_dir)
        generated = None
        if not batches:
            name = embedded_batch_name(config)
            context.log.info(f"no incoming batch; generating the embedded phantom batch {name}")
            generated = synthesize(
                catalog.incoming_dir / name, studies=config.studies, seed=config.seed,
                workers=config.workers, progress=context.log.info, max_side=config.max_side,
            )
            batches = incoming_batches(catalog.incoming_dir)
        names = [b.name for b in batches]
        known = set(context.instance.get_dynamic_partitions(BATCHES.name))
        new = [name for name in names if name not in known]
        if new:
            context.instance.add_dynamic_partitions(BATCHES.name, new)
        metadata: dict[str, dg.RawMetadataValue] = {
            "batches": dg.MetadataValue.json(names),
            "batch_count": len(names),
            "registered_partitions": dg.MetadataValue.json(new),
        }
        if generated is not None:
            metadata |= {
                "generated_studies": generated.studies,
                "generated_images": generated.images,
                "generation_seconds": round(generated.seconds, 2),
            }
        # Only a generated batch is an output of this step; real batches are the user's input.
        outputs = [catalog.incoming_dir / embedded_batch_name(config)] if generated else []
        return StepOutcome(outputs=outputs, metadata=metadata)

    return recorded_step(context, Path(catalog.data_dir), config, work)


@stage_asset(deps=[incoming_studies], partitions_def=BATCHES,
    kinds={"python", "duckdb", "parquet"},
)
def dicom_images(
    context: dg.AssetExecutionContext, config: DicomImagesConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """De-identified ``images``, ``reports`` and ``rejected_inputs`` tables plus uint8 array
    shards for one incoming batch (partition); other batches are not read.

    Bad inputs become ``rejected_inputs`` rows with a reason instead of failing the run; the
    counts are in this asset's metadata.
    """
    store = catalog.catalog
    batch = context.partition_key
    source = catalog.incoming_dir / batch

    def work() -> StepOutcome:
        if not source.is_dir():
            # the partition key only: paths under incoming/ may carry patient names
            raise FileNotFoundError(f"batch {batch!r} has no folder under the incoming "
                                    "directory")
        summary = ingest(source, store, config, partition=batch, progress=context.log.info)
        rejected = sum(summary.rejected.values())
        metadata: dict[str, dg.RawMetadataValue] = {
            "images": summary.images,
            "studies": summary.studies,
            "reports": summary.reports,
            "rejected": rejected,
            "rejected_by_reason": dg.MetadataValue.json(summary.rejected),
            "quality_flags": dg.MetadataValue.json(summary.quality_flags),
            "seconds": round(summary.seconds, 2),
            "images_per_second": round(summary.images_per_second, 1),
            "catalog": dg.MetadataValue.path(str(store.database_path)),
        }
        if summary.images:
            images = store.read_table("images", [batch])
            metadata |= table_metadata(
                images, columns=["image_id", "study_id", "modality", "photometric", "bits_stored",
                                 "rows", "columns", "split"],
            )
            sample = images.slice(0, 8).to_pylist()
            pictures = [open_staged(store.root, row["staged_path"], row["staged_index"]) for row in sample]
            metadata["staged_examples"] = png_markdown(
                image_grid(pictures), f"{len(pictures)} staged images ({config.staged_size} px)"
            )
        outputs = [store.partition_path(t, batch) for t in INGESTED_TABLES]
        return StepOutcome(
            outputs=[*outputs, layout.arrays_dir(store.root, batch)], metadata=metadata,
            input_rows={"studies": summary.studies, "images": summary.images + rejected},
            rejected={"inputs": rejected},
        )

    incoming = Upstream("incoming", batch, [source])  # the user's files, outside the graph
    return recorded_step(context, Path(catalog.data_dir), config, work, sources=[incoming])
