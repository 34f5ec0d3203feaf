"""Report text stage: raw reports → sections → sentences → ⟨region, finding, existence⟩
triplets (with the report findings the calibrated second stage indexes among them).

Each asset is partitioned by batch: it reads its upstream table's partition for that batch only
and writes the same partition of its own table, so a batch's text can be traced back to the
batch it came from and an old batch is never re-read.
"""

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from cxralign.text.calibration import load_calibrator
from cxralign.text.partitions import (
    rejected_partition,
    write_sections,
    write_sentences,
    write_triplets,
)
from cxralign.text.pipeline import load_parser
from cxralign.text.settings import TextSettings
from cxralign_pipeline.defs.io.assets import dicom_images
from cxralign_pipeline.lib.metadata import table_metadata, value_counts
from cxralign_pipeline.lib.partitions import BATCHES
from cxralign_pipeline.lib.resources import CatalogResource
from cxralign_pipeline.lib.stage import stage_asset
from cxralign_pipeline.lib.steps import StepOutcome, recorded_step


class ReportTripletsConfig(TextSettings, dg.Config):
    """Triplet parsing settings (defaults in ``cxralign.text.settings.TextSettings``)."""


@stage_asset(deps=[dicom_images], partitions_def=BATCHES,
    kinds={"python", "parquet"},
)
def report_sections(context: dg.AssetExecutionContext, catalog: CatalogResource) -> dg.MaterializeResult:
    """Findings, impression, indication, comparison, history and technique of every report.

    Reports with no usable text become ``rejected_inputs`` rows (stage ``report_sections``).
    """
    store = catalog.catalog
    batch = context.partition_key

    def work() -> StepOutcome:
        sections, rejects = write_sections(store, batch)
        written = [
            store.partition_path("sections", batch),
            store.partition_path("rejected_inputs", rejected_partition(batch)),
        ]
        metadata: dict[str, dg.RawMetadataValue] = {
            "studies": sections.num_rows, "rejected": rejects.num_rows,
            "without_headings": sections.column("has_headings").to_pylist().count(False),
            **table_metadata(sections, columns=["study_id", "findings", "impression"]),
        }
        read = {"reports": sections.num_rows + rejects.num_rows}
        return StepOutcome(written, metadata, read, {"reports": rejects.num_rows})

    return recorded_step(context, Path(catalog.data_dir), None, work)


@stage_asset(deps=[report_sections], partitions_def=BATCHES,
    kinds={"python", "parquet"},
)
def report_sentences(context: dg.AssetExecutionContext, catalog: CatalogResource) -> dg.MaterializeResult:
    """One row per sentence of the findings and impression, with character offsets."""
    store = catalog.catalog
    batch = context.partition_key

    def work() -> StepOutcome:
        table = write_sentences(store, batch)
        written = [store.partition_path("sentences", batch)]
        metadata: dict[str, dg.RawMetadataValue] = {
            "sentences": table.num_rows,
            **table_metadata(table, columns=["study_id", "sentence_index", "section", "text"]),
        }
        sections = pq.read_metadata(store.partition_path("sections", batch)).num_rows
        return StepOutcome(written, metadata, {"sections": sections})

    return recorded_step(context, Path(catalog.data_dir), None, work)


@stage_asset(deps=[report_sentences], partitions_def=BATCHES,
    kinds={"python", "parquet"},
)
def report_triplets(
    context: dg.AssetExecutionContext, config: ReportTripletsConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """⟨anatomical region, finding, existence⟩ triplets with their evidence span and cue, and
    ``report_findings``: per positive (report, finding), how it is stated and whether the
    calibrated second stage (config ``calibrator``; empty: the shipped one) indexes it as a
    report label (the triplets stay what the text says)."""
    store = catalog.catalog
    batch = context.partition_key

    def work() -> StepOutcome:
        parser = load_parser(config.backend)
        context.log.info(f"triplet backend: {parser.backend_name}")
        calibrator = load_calibrator(config.calibrator)
        triplets, findings = write_triplets(store, batch, parser, calibrator)
        written = [store.partition_path(name, batch) for name in ("triplets", "report_findings")]
        metadata: dict[str, dg.RawMetadataValue] = {
            "backend": parser.backend_name, "triplets": triplets.num_rows,
            "report_findings": findings.num_rows,
            "report_findings_indexed": sum(findings.column("indexed").to_pylist()),
            **table_metadata(triplets, rows=8, columns=["region", "finding", "existence", "evidence", "cue"]),
        }
        if triplets.num_rows:
            metadata |= {
                "by_existence": value_counts(triplets, "existence"),
                "by_finding": value_counts(triplets, "finding"),
            }
        sentences = pq.read_metadata(store.partition_path("sentences", batch)).num_rows
        return StepOutcome(written, metadata, {"sentences": sentences})

    return recorded_step(context, Path(catalog.data_dir), config, work)
