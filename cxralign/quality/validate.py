"""Run a suite on an Arrow table with great-expectations, optionally keeping the result in a
Data Docs site (``cxralign.quality.docs``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import great_expectations as gx
import pyarrow as pa
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import AbstractDataContext
from great_expectations.expectations import Expectation

from cxralign.quality.docs import SITE_NAME, DataDocsSite, context_config

RESULT_FORMAT = "SUMMARY"  # counts plus the first unexpected values: enough to name a failure


@dataclass(frozen=True)
class FailedExpectation:
    """One failed expectation, named so a person knows what to fix."""

    expectation: str
    column: str | None
    unexpected_count: int | None
    examples: list[str] = field(default_factory=list)
    observed: str | None = None

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        count = f": {self.unexpected_count} unexpected" if self.unexpected_count else ""
        seen = f": observed {self.observed}" if self.observed is not None and not count else ""
        shown = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{self.expectation}{where}{count}{seen}{shown}"


@dataclass(frozen=True)
class QualityReport:
    """The outcome of one suite on one table (``docs_page``: its Data Docs page, if kept)."""

    table: str
    rows: int
    evaluated: int
    failures: list[FailedExpectation]
    docs_page: Path | None = None

    @property
    def success(self) -> bool:
        return not self.failures


def validate_table(
    name: str,
    table: pa.Table,
    expectations: list[Expectation],
    docs: DataDocsSite | None = None,
    batch: str | None = None,
) -> QualityReport:
    """Validate ``table`` against ``expectations`` and name every failure.

    With ``docs``, the result is stored in that site and rendered as a page (through a GX
    checkpoint with an ``UpdateDataDocsAction``); ``batch`` (e.g. the partition validated)
    becomes the result's run name, which the site's index shows.
    """
    context = docs.context() if docs else gx.get_context(mode="ephemeral", project_config=context_config())
    definition = _validation_definition(context, name, expectations)
    parameters = {"dataframe": table.to_pandas()}
    # The run name is a folder of the results store, which refuses path separators.
    run_id = RunIdentifier(run_name=(batch or "all").replace("/", "_").replace("\\", "_"))
    if docs is None:
        result = definition.run(batch_parameters=parameters, result_format=RESULT_FORMAT, run_id=run_id)
        page: Path | None = None
    else:
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"{name}_checkpoint",
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[SITE_NAME])],
            result_format=RESULT_FORMAT,
        ))
        with docs.locked():
            checked = checkpoint.run(batch_parameters=parameters, run_id=run_id)
            docs.make_self_contained()
        key, result = next(iter(checked.run_results.items()))
        page = _page_of(context, key)
    return QualityReport(
        table=name, rows=table.num_rows, evaluated=len(result.results),
        failures=[_failure(outcome) for outcome in result.results if not outcome.success],
        docs_page=page,
    )


def _validation_definition(
    context: AbstractDataContext, name: str, expectations: list[Expectation]
) -> gx.ValidationDefinition:
    batch_definition = (
        context.data_sources.add_pandas(name="cxralign")
        .add_dataframe_asset(name=name)
        .add_batch_definition_whole_dataframe("whole_table")
    )
    # GX binds an expectation to the suite it joins: copies keep the caller's list reusable.
    suite = context.suites.add(
        gx.ExpectationSuite(name=name, expectations=[copy.copy(e) for e in expectations])
    )
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_validation", data=batch_definition, suite=suite)
    )


def _failure(outcome) -> FailedExpectation:
    result = outcome.result or {}
    raised = (outcome.exception_info or {}).get("exception_message")
    observed = result.get("observed_value", raised)
    return FailedExpectation(
        expectation=outcome.expectation_config.type,
        column=outcome.expectation_config.kwargs.get("column"),
        unexpected_count=result.get("unexpected_count"),
        examples=[str(value) for value in result.get("partial_unexpected_list", [])[:3]],
        observed=None if observed is None else str(observed),
    )


def _page_of(context: AbstractDataContext, key) -> Path | None:
    """The HTML page Data Docs rendered for validation result ``key``."""
    for site in context.get_docs_sites_urls(resource_identifier=key, site_names=[SITE_NAME]):
        url = site.get("site_url")
        if url and url.startswith("file://"):
            return Path(unquote(urlparse(url).path))
    return None
