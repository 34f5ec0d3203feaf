"""Which command writes each catalog table, so a command missing its input says what to run.

Catalog-mode commands read tables an earlier command wrote (``triplets`` reads ``sections``,
``pairs`` reads ``triplets``, ``sentences``, ``images`` and ``boxes``, ...). Before any work they
call :func:`require_partition_tables` (one partition) or :func:`require_tables` (every
partition, for training); a missing table becomes a :class:`~cxralign.errors.UsageError` with
the exact command line that writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from cxralign.errors import UsageError
from cxralign.io.catalog import Catalog

INGEST: Final = "cxralign ingest INPUT --out {data} --partition {partition}"
WRITTEN_BY: Final[dict[str, str]] = {
    "images": INGEST,
    "reports": INGEST,
    "sections": "cxralign sections --data {data} --partition {partition}",
    "sentences": "cxralign triplets --data {data} --partition {partition}",
    "triplets": "cxralign triplets --data {data} --partition {partition}",
    "report_findings": "cxralign triplets --data {data} --partition {partition}",
    "boxes": "cxralign anatomy boxes --data {data} --partition {partition}",
    "pairs": "cxralign pairs --data {data} --partition {partition}",
    "study_tags": "cxralign pairs --data {data} --partition {partition}",
}
"""Table -> the command line that writes one partition of it."""


def _command(table: str, data: Path, partition: str) -> str:
    return WRITTEN_BY[table].format(data=data, partition=partition)


def valid_partition(catalog: Catalog, partition: str) -> str:
    """``partition`` when it can name a file of the catalog; else a usage error."""
    try:
        catalog.partition_path("images", partition)
    except ValueError as error:
        raise UsageError(f"{error}; a partition name is one word without '/' or a leading "
                         "'.'") from error
    return partition


def require_partition_tables(catalog: Catalog, partition: str, tables: Sequence[str]) -> None:
    """Every table of ``tables`` has ``partition`` in ``catalog``; else a usage error that names
    the partitions ingested (for a mistyped name) or the command to run first."""
    valid_partition(catalog, partition)
    data = catalog.root
    if not catalog.root.is_dir() or not catalog.has_table("images"):
        raise UsageError(f"{data} holds no ingested images; run `{_command('images', data, partition)}` "
                         "first (or give --data the catalog you ingested into)")
    ingested = catalog.partitions("images")
    if partition not in ingested:
        raise UsageError(f"unknown partition {partition!r} in {data} (ingested: "
                         f"{', '.join(ingested)}); give --partition one of those, or ingest it "
                         f"with `{_command('images', data, partition)}`")
    for table in tables:
        if partition not in catalog.partitions(table):
            raise UsageError(f"partition {partition!r} of {data} has no {table} table yet; run "
                             f"`{_command(table, data, partition)}` first")


def require_tables(catalog: Catalog, tables: Sequence[str]) -> None:
    """Every table of ``tables`` has every partition that ``tables[0]`` has (training reads
    them all together); else a usage error naming the command to run first."""
    data = catalog.root
    partitions = catalog.partitions(tables[0])
    if not partitions:
        raise UsageError(f"{data} has no {tables[0]} table; run "
                         f"`{_command(tables[0], data, 'P')}` first for each partition P")
    for table in tables[1:]:
        for partition in partitions:
            if partition not in catalog.partitions(table):
                raise UsageError(f"partition {partition!r} of {data} has no {table} table yet; "
                                 f"run `{_command(table, data, partition)}` first")
