"""The factory every stage's ``checks.py`` uses: a great-expectations suite as a Dagster asset
check between stages.

A blocking check that fails stops the assets downstream of the checked one in the same run, so
a bad batch cannot reach training. Each failure is named in the check's description and
metadata, and every validation is kept as a Data Docs page (``<data>/reports/quality/``)
linked from the check's metadata.

A check on a partitioned asset is partitioned the same way and validates the partition the run
materialised (one batch), never the whole table: an old bad batch cannot fail a new good one.
"""

import warnings

import dagster as dg

from cxralign.docstrings import paragraphs
from cxralign.quality import SUITES, DataDocsSite, QualityReport, validate_table
from cxralign.quality.tables import gated_tables, suite_for
from cxralign_pipeline.lib.resources import CatalogResource


def _run_partitions(context: dg.AssetCheckExecutionContext) -> list[str] | None:
    """The partitions this run materialised (``None``: the asset is not partitioned)."""
    if context.has_partition_key:
        return [context.partition_key]
    if context.has_partition_key_range:
        return list(context.partition_keys)
    return None


def _promise(table: str) -> str:
    """The first paragraph of the suite's docstring: what the check promises, for the UI."""
    return paragraphs(SUITES[table].__doc__)[0]


def _summary(reports: dict[str, QualityReport], site: DataDocsSite) -> dg.AssetCheckResult:
    """One check result for the table(s) validated: failures named, Data Docs pages linked."""
    several = len(reports) > 1
    failures = [
        f"{label}: {failure.describe()}" if several else failure.describe()
        for label, report in reports.items()
        for failure in report.failures
    ]
    pages = {label: str(report.docs_page) for label, report in reports.items() if report.docs_page}
    metadata: dict[str, dg.RawMetadataValue] = {
        "validated": dg.MetadataValue.json(list(reports)),
        "rows": sum(report.rows for report in reports.values()),
        "expectations": sum(report.evaluated for report in reports.values()),
        "failed": dg.MetadataValue.json(failures),
        "data_docs_index": dg.MetadataValue.path(str(site.index)),
        # the results inline: a file:// link does not open from the UI, which is served over http
        "data_docs_summary": dg.MetadataValue.md(site.markdown_summary()),
    }
    if len(pages) == 1:
        page = next(iter(pages.values()))
        metadata["data_docs"] = dg.MetadataValue.path(page)
    elif pages:
        metadata["data_docs"] = dg.MetadataValue.json(pages)
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(failures) if failures else None,
        metadata=metadata,
    )


def expectations_check(
    asset: dg.AssetsDefinition, table: str, blocking: bool = True
) -> dg.AssetChecksDefinition:
    """An asset check on ``asset`` that validates ``table`` (as ``cxralign.quality.tables``
    shapes it) with its GX suite, per partition when the asset is partitioned."""
    partitions_def = asset.partitions_def
    with warnings.catch_warnings():
        # Partitioned asset checks are a preview feature of Dagster 1.13; they are what lets a
        # check validate (and block on) exactly the batch a run produced.
        warnings.simplefilter("ignore", dg.PreviewWarning)

        @dg.asset_check(
            asset=asset,
            name=f"{table}_expectations",
            blocking=blocking,
            partitions_def=partitions_def,
            description=f"great-expectations suite `{table}`"
            f"{' (blocking)' if blocking else ''}: {_promise(table)}",
        )
        def _check(
            context: dg.AssetCheckExecutionContext, catalog: CatalogResource
        ) -> dg.AssetCheckResult:
            site = DataDocsSite.for_data_dir(catalog.data_dir)
            partitions = _run_partitions(context)
            try:
                tables = gated_tables(table, catalog.data_dir, partitions)
            except FileNotFoundError as missing:
                return dg.AssetCheckResult(
                    passed=False, severity=dg.AssetCheckSeverity.ERROR,
                    description=f"nothing to validate: {missing}",
                )
            reports = {
                label: validate_table(table, shaped, suite_for(table, shaped), docs=site, batch=label)
                for label, shaped in tables.items()
            }
            return _summary(reports, site)

    return _check
