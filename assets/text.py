"""Report text stage: raw reports → sections → sentences → ⟨region, finding, existence⟩ triplets.

Each asset processes every ingested batch (catalog partition) and writes the same partition of
its own table, so a batch's text can be traced back to the batch it came from.
"""

import dagster as dg
import pyarrow as pa

from assets.ingestion import dicom_images
from assets.metadata import table_preview, value_counts
from assets.resources import CatalogResource
from cxralign.text.pipeline import load_parser, sections_table, sentences_table, triplets_table
from cxralign.text.settings import TextSettings


class ReportTripletsConfig(TextSettings, dg.Config):
    """Triplet parsing settings (defaults in ``cxralign.text.settings.TextSettings``)."""


@dg.asset(group_name="text", deps=[dicom_images], kinds={"python", "parquet"})
def report_sections(catalog: CatalogResource) -> dg.MaterializeResult:
    """Findings, impression, indication, comparison, history and technique of every report.

    Reports with no usable text become ``rejected_inputs`` rows (stage ``report_sections``).
    """
    store = catalog.catalog
    studies = rejected = without_headings = 0
    for batch in store.partitions("reports"):
        sections, rejects = sections_table(store.read_table("reports", [batch]))
        store.write_table("sections", sections, batch)
        store.write_table("rejected_inputs", rejects, f"{batch}.report_sections")
        studies += sections.num_rows
        rejected += rejects.num_rows
        without_headings += sections.column("has_headings").to_pylist().count(False)
    metadata: dict[str, dg.RawMetadataValue] = {
        "studies": studies, "rejected": rejected, "without_headings": without_headings,
    }
    if studies:
        metadata["preview"] = table_preview(
            store.read_table("sections"), columns=["study_id", "findings", "impression"]
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name="text", deps=[report_sections], kinds={"python", "parquet"})
def report_sentences(catalog: CatalogResource) -> dg.MaterializeResult:
    """One row per sentence of the findings and impression, with character offsets."""
    store = catalog.catalog
    sentences = 0
    for batch in store.partitions("sections"):
        table = sentences_table(store.read_table("sections", [batch]))
        store.write_table("sentences", table, batch)
        sentences += table.num_rows
    metadata: dict[str, dg.RawMetadataValue] = {"sentences": sentences}
    if sentences:
        metadata["preview"] = table_preview(store.read_table("sentences"), columns=["study_id", "sentence_index", "section", "text"])
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name="text", deps=[report_sentences], kinds={"python", "parquet"})
def report_triplets(
    context: dg.AssetExecutionContext, config: ReportTripletsConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    """⟨anatomical region, finding, existence⟩ triplets with their evidence span and cue."""
    store = catalog.catalog
    parser = load_parser(config.backend)
    context.log.info(f"triplet backend: {parser.backend_name}")
    tables = []
    for batch in store.partitions("sentences"):
        table = triplets_table(store.read_table("sentences", [batch]), parser)
        store.write_table("triplets", table, batch)
        tables.append(table)
    triplets = pa.concat_tables(tables) if tables else None
    metadata: dict[str, dg.RawMetadataValue] = {
        "backend": parser.backend_name,
        "triplets": triplets.num_rows if triplets is not None else 0,
    }
    if triplets is not None and triplets.num_rows:
        metadata |= {
            "by_existence": value_counts(triplets, "existence"),
            "by_finding": value_counts(triplets, "finding"),
            "preview": table_preview(triplets, rows=8, columns=["region", "finding", "existence", "evidence", "cue"]),
        }
    return dg.MaterializeResult(metadata=metadata)
