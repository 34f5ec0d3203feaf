"""The table store: partitions as Parquet files, DuckDB views over all of them."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cxralign.io.atomic import atomic_path
from cxralign.io.catalog import Catalog


def test_partitions_are_unioned_in_the_duckdb_view(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.write_table("images", pa.table({"image_id": ["a", "b"], "rows": [10, 20]}), "batch1")
    catalog.write_table("images", pa.table({"image_id": ["c"], "rows": [30], "extra": [1]}), "batch2")

    assert catalog.partitions("images") == ["batch1", "batch2"]
    counted = catalog.query("SELECT count(*) AS n, sum(rows) AS total FROM images").to_pylist()
    assert counted == [{"n": 3, "total": 60}]
    assert catalog.read_table("images").num_rows == 3
    assert catalog.read_table("images", ["batch2"]).column("extra").to_pylist() == [1]


def test_rewriting_a_partition_replaces_it(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.write_table("reports", pa.table({"study_id": ["x", "y"]}), "b")
    catalog.write_table("reports", pa.table({"study_id": ["z"]}), "b")
    assert catalog.query("SELECT study_id FROM reports").column("study_id").to_pylist() == ["z"]


def test_a_failed_write_leaves_the_previous_file_untouched(tmp_path):
    target = tmp_path / "table.parquet"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


@pytest.mark.parametrize("bad", ["drop table x", "images;", ""])
def test_table_names_are_identifiers(tmp_path, bad):
    with pytest.raises(ValueError):
        Catalog(tmp_path).write_table(bad, pa.table({"a": [1]}))


def test_reading_a_missing_table_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="images"):
        Catalog(tmp_path).read_table("images")
