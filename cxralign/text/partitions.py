"""The text stage on one catalog partition (batch): read its table, compute, write the result.

The Dagster assets (one run per batch) and the ``cxralign sections|triplets --data`` commands
that ``dvc.yaml`` calls share these functions, so both write identical files.
"""

from __future__ import annotations

import pyarrow as pa

from cxralign.io.catalog import Catalog
from cxralign.text.calibration import Calibrator, report_findings_table
from cxralign.text.pipeline import TripletParser, sections_table, sentences_table, triplets_table
from cxralign.text.settings import TextLimits

REJECTED_SUFFIX = ".report_sections"


def rejected_partition(batch: str) -> str:
    """The ``rejected_inputs`` partition of the reports that ``batch``'s sectioning rejected
    (a partition of its own, so ingestion's rejections of the batch are never overwritten)."""
    return f"{batch}{REJECTED_SUFFIX}"


def write_sections(
    catalog: Catalog, batch: str, limits: TextLimits | None = None
) -> tuple[pa.Table, pa.Table]:
    """``reports`` → ``sections`` (+ rejected reports) of ``batch``; returns both tables."""
    sections, rejected = sections_table(catalog.read_table("reports", [batch]), limits)
    catalog.write_table("sections", sections, batch)
    catalog.write_table("rejected_inputs", rejected, rejected_partition(batch))
    return sections, rejected


def write_sentences(catalog: Catalog, batch: str, limits: TextLimits | None = None) -> pa.Table:
    """``sections`` → ``sentences`` of ``batch``."""
    sentences = sentences_table(catalog.read_table("sections", [batch]), limits)
    catalog.write_table("sentences", sentences, batch)
    return sentences


def write_triplets(
    catalog: Catalog, batch: str, parser: TripletParser, calibrator: Calibrator
) -> tuple[pa.Table, pa.Table]:
    """``sentences`` → ``triplets`` of ``batch``, parsed by ``parser``, and its
    ``report_findings`` (which positive findings ``calibrator`` indexes); returns both."""
    sentences = catalog.read_table("sentences", [batch])
    triplets = triplets_table(sentences, parser)
    findings = report_findings_table(sentences, triplets, calibrator)
    catalog.write_table("triplets", triplets, batch)
    catalog.write_table("report_findings", findings, batch)
    return triplets, findings
