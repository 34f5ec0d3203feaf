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


def test_boxes_suite_catches_swapped_lungs_missing_regions_and_escaping_boxes():
    from cxralign.quality.views import boxes_geometry
    from cxralign.vocabulary import REGIONS

    # A 512 x 256 original staged at scale 0.5 is a 256-pixel square.
    images = pa.table({"image_id": ["img"], "rows": [512], "columns": [256], "staged_scale": [0.5]})

    def box(region: str, x1: float = 10.0, x2: float = 50.0) -> dict:
        return {"image_id": "img", "region": region, "x1": x1, "y1": 10.0, "x2": x2, "y2": 50.0,
                "score": 0.9, "source": "atlas"}

    good = [box(r, 60.0, 120.0) if r == "left lung" else box(r) for r in REGIONS]
    report = validate_table("boxes", boxes_geometry(pa.Table.from_pylist(good), images), SUITES["boxes"]())
    assert report.success, [f.describe() for f in report.failures]

    # Lungs on top of each other (so not right-of-left), the spine leaving the image, no abdomen.
    bad = [box(r, x2=300.0) if r == "spine" else box(r) for r in REGIONS if r != "abdomen"]
    report = validate_table("boxes", boxes_geometry(pa.Table.from_pylist(bad), images), SUITES["boxes"]())
    assert {(f.expectation, f.column) for f in report.failures} == {
        ("expect_column_values_to_be_in_set", "inside_image"),
        ("expect_column_values_to_be_between", "regions_in_image"),
        ("expect_column_values_to_be_in_set", "lungs_in_place"),
    }
