"""Great-expectations suites name what is wrong with a bad table."""

from __future__ import annotations

import pyarrow as pa

from cxralign.quality import SUITES, validate_table


def images_table(**overrides) -> pa.Table:
    columns = {
        "image_id": ["a", "b"],
        "study_id": ["s1", "s2"],
        "photometric": ["MONOCHROME1", "MONOCHROME2"],
        "bits_stored": [12, 15],
        "rows": [1024, 2048],
        "columns": [1024, 1800],
        "split": ["train", "test"],
        "sha256": ["0" * 64, "f" * 64],
    }
    return pa.table(columns | overrides)


def test_a_good_images_table_passes():
    report = validate_table("images", images_table(), SUITES["images"]())
    assert report.success, [f.describe() for f in report.failures]
    assert report.evaluated == len(SUITES["images"]())


def test_failures_name_the_expectation_the_column_and_examples():
    bad = images_table(image_id=["a", "a"], photometric=["RGB", "MONOCHROME2"])
    report = validate_table("images", bad, SUITES["images"]())
    described = {f.expectation: f for f in report.failures}
    assert not report.success
    assert set(described) == {"expect_column_values_to_be_unique", "expect_column_values_to_be_in_set"}
    assert described["expect_column_values_to_be_in_set"].column == "photometric"
    assert "RGB" in described["expect_column_values_to_be_in_set"].describe()
