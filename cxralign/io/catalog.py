"""The table store: Parquet files under ``<data>/staged/`` exposed as DuckDB views.

Each table is a folder of Parquet files, one per partition (a batch of incoming studies), so a
new batch adds a file and never rewrites old ones. ``<data>/catalog.duckdb`` holds one view per
table over all its partitions; the views are what people query (``duckdb data/catalog.duckdb``)
and what later stages read.

Writers of one catalog are serialised by a cross-process file lock (``locking``): every
``write_table`` takes it, and a stage that commits several tables together holds ``locked()``
around them, so concurrent runs (two CLI processes, Dagster runs of different partitions)
never interleave a commit or open ``catalog.duckdb`` for writing at the same time.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cxralign.io.atomic import write_parquet_atomically
from cxralign.io.locking import catalog_lock
from cxralign.layout import catalog_database, staged_dir

DEFAULT_PARTITION = "default"


def _quote_identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"table name must be alphanumeric with underscores, got {name!r}")
    return f'"{name}"'


@dataclass(frozen=True)
class Catalog:
    """A data directory holding ``staged/<table>/<partition>.parquet`` and ``catalog.duckdb``."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def staged_dir(self) -> Path:
        return staged_dir(self.root)

    @property
    def database_path(self) -> Path:
        return catalog_database(self.root)

    def table_dir(self, name: str) -> Path:
        _quote_identifier(name)
        return self.staged_dir / name

    def partition_path(self, name: str, partition: str = DEFAULT_PARTITION) -> Path:
        if not partition or "/" in partition or partition.startswith("."):
            raise ValueError(f"invalid partition name {partition!r}")
        return self.table_dir(name) / f"{partition}.parquet"

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The catalog's writer lock (re-entrant): hold it around a multi-table commit."""
        return catalog_lock(self.root)

    def write_table(self, name: str, table: pa.Table, partition: str = DEFAULT_PARTITION) -> Path:
        """Atomically (re)write one partition of ``name`` and refresh its view, under the lock."""
        path = self.partition_path(name, partition)
        with self.locked():
            write_parquet_atomically(table, path)
            self._refresh_view(name)
        return path

    def partitions(self, name: str) -> list[str]:
        directory = self.table_dir(name)
        return sorted(p.stem for p in directory.glob("*.parquet")) if directory.is_dir() else []

    def has_table(self, name: str) -> bool:
        return bool(self.partitions(name))

    def read_table(self, name: str, partitions: list[str] | None = None) -> pa.Table:
        """All partitions of a table (or the named ones), as one Arrow table."""
        chosen = self.partitions(name) if partitions is None else partitions
        if not chosen:
            raise FileNotFoundError(f"table {name!r} has no partitions under {self.table_dir(name)}")
        paths = [str(self.partition_path(name, p)) for p in chosen]
        return pa.concat_tables(
            [pq.read_table(p) for p in paths], promote_options="permissive"
        )

    def query(self, sql: str) -> pa.Table:
        """Run read-only SQL against the catalog's views."""
        # Under the lock: DuckDB refuses a reader while another process has the file open
        # for writing (a view refresh).
        with self.locked(), duckdb.connect(str(self.database_path), read_only=True) as con:
            return con.sql(sql).to_arrow_table()

    def _refresh_view(self, name: str) -> None:
        pattern = str(self.table_dir(name).resolve() / "*.parquet").replace("'", "''")
        self.root.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(self.database_path)) as con:
            con.sql(
                f"CREATE OR REPLACE VIEW {_quote_identifier(name)} AS "
                f"SELECT * FROM read_parquet('{pattern}', union_by_name = true)"
            )
