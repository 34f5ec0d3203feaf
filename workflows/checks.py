"""Great-expectations suites as Dagster asset checks between stages.

A blocking check that fails stops the assets downstream of the checked one in the same run, so
a bad batch cannot reach training. Each failure is named in the check's metadata.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import pyarrow as pa

from assets import anatomy, ingestion, pairs, text
from assets.resources import CatalogResource
from cxralign.io.catalog import Catalog
from cxralign.quality import SUITES, validate_table
from cxralign.quality.views import (
    boxes_geometry,
    pairs_references,
    sections_coverage,
    triplets_with_evidence,
)


def _whole_table(name: str) -> Callable[[Catalog], pa.Table]:
    return lambda catalog: catalog.read_table(name)


def expectations_check(
    asset: dg.AssetsDefinition,
    table: str,
    load: Callable[[Catalog], pa.Table] | None = None,
    blocking: bool = True,
) -> dg.AssetChecksDefinition:
    """An asset check on ``asset`` that validates catalog table ``table`` with its GX suite."""
    read = load or _whole_table(table)
    suite = SUITES[table]

    @dg.asset_check(
        asset=asset,
        name=f"{table}_expectations",
        blocking=blocking,
        description=f"great-expectations suite `{table}`: {suite.__doc__}",
    )
    def _check(catalog: CatalogResource) -> dg.AssetCheckResult:
        report = validate_table(table, read(catalog.catalog), suite())
        return dg.AssetCheckResult(
            passed=report.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None if report.success else "; ".join(f.describe() for f in report.failures),
            metadata={
                "rows": report.rows,
                "expectations": report.evaluated,
                "failed": dg.MetadataValue.json([f.describe() for f in report.failures]),
            },
        )

    return _check


def _sections_coverage(catalog: Catalog) -> pa.Table:
    return sections_coverage(catalog.read_table("reports"), catalog.read_table("sections"))


def _triplets_with_evidence(catalog: Catalog) -> pa.Table:
    return triplets_with_evidence(catalog.read_table("triplets"), catalog.read_table("sentences"))


def _boxes_geometry(catalog: Catalog) -> pa.Table:
    return boxes_geometry(catalog.read_table("boxes"), catalog.read_table("images"))


def _pairs_references(catalog: Catalog) -> pa.Table:
    return pairs_references(
        catalog.read_table("pairs"), catalog.read_table("sentences"), catalog.read_table("boxes")
    )


ASSET_CHECKS = [
    expectations_check(ingestion.dicom_images, "images"),
    expectations_check(ingestion.dicom_images, "reports"),
    expectations_check(ingestion.dicom_images, "rejected_inputs", blocking=False),
    expectations_check(text.report_sections, "sections", _sections_coverage),
    expectations_check(text.report_triplets, "triplets", _triplets_with_evidence),
    expectations_check(anatomy.anatomy_boxes, "boxes", _boxes_geometry),
    expectations_check(pairs.region_sentence_pairs, "pairs", _pairs_references),
]
