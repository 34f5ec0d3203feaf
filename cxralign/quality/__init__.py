"""Data-quality gates: a great-expectations 1.x suite per stage table, run on Arrow tables.

The Dagster asset checks in ``workflows/checks.py`` call :func:`validate_table` with the data
directory's :class:`DataDocsSite`, so every result is also an HTML page; a notebook or a script
can call it too, without Dagster.
"""

from cxralign.quality.docs import DataDocsSite
from cxralign.quality.suites import SUITES
from cxralign.quality.validate import QualityReport, validate_table

__all__ = ["SUITES", "DataDocsSite", "QualityReport", "validate_table"]
