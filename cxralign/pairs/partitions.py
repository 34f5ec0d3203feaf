"""Region–sentence pairs of one catalog partition (batch): shared by the Dagster asset and the
``cxralign pairs`` command that ``dvc.yaml`` calls, so both write identical files."""

from __future__ import annotations

import pyarrow as pa

from cxralign.io.catalog import Catalog
from cxralign.pairs.alignment import pairs_table
from cxralign.pairs.tags import study_tags_table


def write_pairs(catalog: Catalog, batch: str) -> tuple[pa.Table, pa.Table]:
    """``triplets`` + ``sentences`` + ``images`` + ``boxes`` of ``batch`` → its ``pairs`` and
    ``study_tags``; returns both tables."""
    triplets = catalog.read_table("triplets", [batch])
    pairs = pairs_table(
        triplets, catalog.read_table("sentences", [batch]),
        catalog.read_table("images", [batch]), catalog.read_table("boxes", [batch]),
    )
    tags = study_tags_table(triplets)
    catalog.write_table("pairs", pairs, batch)
    catalog.write_table("study_tags", tags, batch)
    return pairs, tags
