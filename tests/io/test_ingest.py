"""End-to-end ingestion of a MIMIC-layout tree built from the shared real DICOM files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from cxralign.io.catalog import Catalog
from cxralign.io.deid import ANNEX_E_KEYWORDS
from cxralign.io.ingest import IngestSummary
from cxralign.io.rejections import Flag, Reason
from cxralign.io.staging import StagedImages, open_staged

Runner = Callable[..., tuple[Catalog, IngestSummary]]


def test_mimic_tree_is_ingested_with_rejections(
    run_ingest: Runner, mimic_tree: Path, tmp_path: Path
) -> None:
    catalog, summary = run_ingest(mimic_tree, tmp_path / "data", workers=1)
    assert (summary.layout, summary.images, summary.reports, summary.studies) == ("mimic", 3, 3, 3)
    rejected_reasons = dict(summary.rejected)
    assert rejected_reasons.pop(Reason.NON_CHEST_BODY_PART) == 1
    assert rejected_reasons == {Reason.TRUNCATED_FILE: 1}
    rejected = catalog.read_table("rejected_inputs").to_pylist()
    assert {row["stage"] for row in rejected} == {"ingest"}
    assert all(row["detail"] and row["seen_at"] for row in rejected)

    images = catalog.read_table("images").to_pylist()
    by_sha: dict[str, list[dict]] = {}
    for row in images:
        by_sha.setdefault(row["sha256"], []).append(row)
    rg1 = next(rows for rows in by_sha.values() if len(rows) == 2)  # UNCR and J2KR
    first, second = (open_staged(catalog.root, r["staged_path"], r["staged_index"]) for r in rg1)
    np.testing.assert_array_equal(first, second)
    # A patient's studies share one pseudonym and one split.
    assert len({(r["patient_id"], r["split"]) for r in rg1}) == 1
    assert all(Flag.PIXEL_SPACING_MISSING in r["quality_flags"] for r in rg1)

    reports = catalog.read_table("reports").to_pylist()
    assert {r["report_format"] for r in reports} == {"mimic_txt"}
    assert all("CompressedSamples" not in r["report_text"] for r in reports)
    assert any(Flag.REPORT_PHI_SCRUBBED in r["quality_flags"] for r in reports)


def test_two_workers_equal_one(
    run_ingest: Runner, mimic_tree: Path, tmp_path: Path
) -> None:
    one, _ = run_ingest(mimic_tree, tmp_path / "one", workers=1)
    two, summary = run_ingest(mimic_tree, tmp_path / "two", workers=2)
    assert summary.workers == 2
    for table in ("images", "reports"):
        assert one.read_table(table).equals(two.read_table(table))
    drop_time = ["source_path_hash", "stage", "reason", "detail"]
    assert one.read_table("rejected_inputs").select(drop_time).equals(
        two.read_table("rejected_inputs").select(drop_time)
    )
    shards = sorted((one.root / "staged/arrays/default").glob("*/shard-*.npy"))
    assert shards
    for shard in shards:
        twin = two.root / shard.relative_to(one.root)
        np.testing.assert_array_equal(np.load(shard), np.load(twin))


def test_staged_images_reads_back_what_was_staged(
    run_ingest: Runner, mimic_tree: Path, tmp_path: Path
) -> None:
    catalog, summary = run_ingest(mimic_tree, tmp_path / "data", workers=1, staged_size=128)
    staged = StagedImages.from_catalog(catalog)
    assert len(staged) == summary.images
    rows = catalog.read_table("images").to_pylist()
    for i, row in enumerate(rows):
        image = staged[i]
        assert image.shape == (128, 128) and image.dtype == np.uint8
        expected = open_staged(catalog.root, row["staged_path"], row["staged_index"])
        np.testing.assert_array_equal(image, expected)
        assert image.any()


def test_reingesting_a_partition_replaces_it(
    run_ingest: Runner, mimic_tree: Path, tmp_path: Path
) -> None:
    catalog, first = run_ingest(mimic_tree, tmp_path / "data", workers=1)
    _, second = run_ingest(mimic_tree, tmp_path / "data", workers=1)
    count = catalog.query("select count(*) as n from images")["n"][0].as_py()
    assert first.images == second.images == count
    referenced = {r["staged_path"] for r in catalog.read_table("images").to_pylist()}
    shards = (catalog.root / "staged/arrays").rglob("*.npy")
    on_disk = {p.relative_to(catalog.root).as_posix() for p in shards}
    assert on_disk == referenced


def _profile_values(dataset: Dataset) -> set[str]:
    values: set[str] = set()
    for element in dataset.iterall():
        if element.VR == "SQ" or not (element.keyword in ANNEX_E_KEYWORDS or element.VR == "PN"):
            continue
        items = element.value if element.VM > 1 else [element.value]
        for item in items:
            text = str(item).strip()
            values.add(text)
            values.update(text.split("^"))
    # Shorter values ("F", "CR", "62") occur by chance in any byte string.
    return {v for v in values if len(v) >= 4}


def test_no_phi_in_any_output(
    run_ingest: Runner,
    mimic_tree: Path,
    tmp_path: Path,
    shared_data: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every Annex E value of the inputs (>= 4 chars) and every source path key is absent from
    every byte of every output file, file name, decoded table cell, log record and stream."""
    phi: set[str] = set()
    for path in (shared_data / "dicom").glob("*.dcm"):
        phi |= _profile_values(pydicom.dcmread(path, stop_before_pixels=True))
    # Source paths are identifiers too.
    phi |= {"p10000032", "p11000011", "s50414267", "s50414268", "s51111111", "RG1_UNCR"}
    phi.add("cut_short")
    assert {"CompressedSamples^RG1", "9RG1", "19400305", "THORAVISION", "92.00.003"} <= phi

    with caplog.at_level(logging.DEBUG):
        run_ingest(mimic_tree, tmp_path / "data", workers=2)
        run_ingest(mimic_tree, tmp_path / "data1", workers=1)
    messages = [record.getMessage() for record in caplog.records]
    captured = capsys.readouterr()
    blobs = [("log", "\n".join(messages).encode()), ("stdout", captured.out.encode()),
             ("stderr", captured.err.encode())]
    for out in (tmp_path / "data", tmp_path / "data1"):
        for path in out.rglob("*"):
            if path.is_file():
                blobs.append((path.relative_to(out).as_posix(), path.read_bytes()))
                blobs.append(("name", path.name.encode()))
        for table in ("images", "reports", "rejected_inputs"):
            decoded = Catalog(out).read_table(table).to_pylist()
            blobs.append((f"decoded {table}", repr(decoded).encode()))
    leaks = [
        (where, value)
        for where, blob in blobs
        for value in phi
        if value.lower().encode() in blob.lower()
    ]
    assert not leaks


def test_reingesting_changed_inputs_never_leaves_tables_pointing_at_new_pixels(
    run_ingest: Runner, mimic_tree: Path, tmp_path: Path
) -> None:
    catalog, _ = run_ingest(mimic_tree, tmp_path / "data", workers=1)
    before = set(catalog.read_table("images").column("staged_path").to_pylist())
    extra = next(mimic_tree.glob("files/*/*/*/*.dcm"))
    (extra.parent / "copy-of-first.dcm").write_bytes(extra.read_bytes())

    catalog, _ = run_ingest(mimic_tree, tmp_path / "data", workers=1)
    after = set(catalog.read_table("images").column("staged_path").to_pylist())
    assert before.isdisjoint(after), "changed inputs must be staged under a new generation"
    on_disk = {p.relative_to(catalog.root).as_posix() for p in catalog.staged_dir.glob("arrays/*/*/*.npy")}
    assert on_disk == after, "the old generation is removed once the new tables are in place"
