"""Run a suite on an Arrow table with an in-memory great-expectations context."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pyarrow as pa
from great_expectations.expectations import Expectation

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402  (analytics must be off before import)


@dataclass(frozen=True)
class FailedExpectation:
    """One failed expectation, named so a person knows what to fix."""

    expectation: str
    column: str | None
    unexpected_count: int | None
    examples: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        count = f": {self.unexpected_count} unexpected" if self.unexpected_count else ""
        shown = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{self.expectation}{where}{count}{shown}"


@dataclass(frozen=True)
class QualityReport:
    """The outcome of one suite on one table."""

    table: str
    rows: int
    evaluated: int
    failures: list[FailedExpectation]

    @property
    def success(self) -> bool:
        return not self.failures


def validate_table(name: str, table: pa.Table, expectations: list[Expectation]) -> QualityReport:
    """Validate ``table`` against ``expectations`` and name every failure."""
    context = gx.get_context(mode="ephemeral")
    batch_definition = (
        context.data_sources.add_pandas(name=f"{name}_source")
        .add_dataframe_asset(name=name)
        .add_batch_definition_whole_dataframe("whole_table")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite", expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_validation", data=batch_definition, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": table.to_pandas()}, result_format="SUMMARY")
    failures = [
        FailedExpectation(
            expectation=outcome.expectation_config.type,
            column=outcome.expectation_config.kwargs.get("column"),
            unexpected_count=outcome.result.get("unexpected_count"),
            examples=[str(value) for value in outcome.result.get("partial_unexpected_list", [])[:3]],
        )
        for outcome in result.results
        if not outcome.success
    ]
    return QualityReport(table=name, rows=table.num_rows, evaluated=len(result.results), failures=failures)
