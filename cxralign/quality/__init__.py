"""Data-quality gates: a great-expectations 1.x suite per stage table, run on Arrow tables.

The Dagster asset checks in ``workflows/checks.py`` call :func:`validate_table`; so can a
notebook or a script, without Dagster.
"""

from cxralign.quality.suites import SUITES
from cxralign.quality.validate import QualityReport, validate_table

__all__ = ["SUITES", "QualityReport", "validate_table"]
