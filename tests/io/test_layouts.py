"""Each layout reader on a small real tree: OpenI XML + PNG, CSV manifest, loose files, PNG."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cxralign.io.catalog import Catalog
from cxralign.io.ingest import IngestSummary
from cxralign.io.layouts import detect_layout
from cxralign.io.rejections import Flag, Reason

QUOTED = "Impression: no pneumothorax, \u201cclear\u201d lungs."  # cp1252 has the curly quotes
Runner = Callable[..., tuple[Catalog, IngestSummary]]


def _openi_tree(root: Path, shared_data: Path) -> Path:
    """Two real IU reports; the first one's images are the two shared NIH PNGs."""
    (root / "images").mkdir(parents=True)
    xml = (shared_data / "iu_xray_reports/1.xml").read_text(encoding="utf-8")
    (root / "1.xml").write_text(xml, encoding="utf-8")
    shutil.copy(shared_data / "iu_xray_reports/10.xml", root / "10.xml")
    pngs = sorted((shared_data / "png").glob("*.png"))
    for image_id, png in zip(["CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001"], pngs, strict=True):
        shutil.copy(png, root / "images" / f"{image_id}.png")
    return root


def test_openi_xml_with_png_images(
    run_ingest: Runner, tmp_path: Path, shared_data: Path
) -> None:
    source = _openi_tree(tmp_path / "openi", shared_data)
    assert detect_layout(source) == "openi"
    catalog, summary = run_ingest(source, tmp_path / "data", workers=1)
    assert (summary.layout, summary.images, summary.reports, summary.studies) == ("openi", 2, 2, 2)
    reports = {r["image_count"]: r for r in catalog.read_table("reports").to_pylist()}
    assert reports[2]["report_format"] == "openi_xml"
    assert reports[2]["report_text"].startswith("COMPARISON: None.")
    assert "FINDINGS: The cardiac silhouette" in reports[2]["report_text"]
    assert "CXR1_1_IM" not in reports[2]["report_text"]
    assert reports[2]["source_labels"] == ["normal"]
    assert Flag.REPORT_WITHOUT_IMAGES in reports[0]["quality_flags"]
    images = catalog.read_table("images").to_pylist()
    assert {r["source_format"] for r in images} == {"png"}
    assert len({r["study_id"] for r in images}) == 1


def test_png_images_are_staged(
    run_ingest: Runner, tmp_path: Path, shared_data: Path
) -> None:
    catalog, summary = run_ingest(shared_data / "png", tmp_path / "data", workers=1)
    assert (summary.layout, summary.images, summary.reports) == ("files", 2, 0)
    for row in catalog.read_table("images").to_pylist():
        assert row["source_format"] == "png" and row["photometric"] == "MONOCHROME2"
        assert row["bits_stored"] == 8
        assert (row["rows"], row["columns"], row["staged_scale"]) == (512, 512, 0.5)
        assert len(row["sha256"]) == 64


def test_csv_manifest_with_report_text_and_paths(
    run_ingest: Runner, tmp_path: Path, shared_data: Path
) -> None:
    root = tmp_path / "csv"
    (root / "img").mkdir(parents=True)
    shutil.copy(shared_data / "dicom/RG1_UNCR.dcm", root / "img/a.dcm")
    shutil.copy(shared_data / "png/00000001_000.png", root / "img/b.png")
    (root / "b.txt").write_bytes(QUOTED.encode("cp1252"))
    (root / "manifest.csv").write_text(
        "study_id,patient_id,image_path,report_path,report_text\n"
        "A1,P1,img/a.dcm,,Findings: normal heart.\n"
        "B2,P1,img/b.png,b.txt,\n"
        "C3,P2,img/missing.png,,\n",
        encoding="utf-8",
    )
    assert detect_layout(root) == "csv"
    catalog, summary = run_ingest(root, tmp_path / "data", workers=1)
    assert (summary.layout, summary.images, summary.reports) == ("csv", 2, 2)
    reports = {r["report_format"]: r for r in catalog.read_table("reports").to_pylist()}
    assert reports["csv_text"]["report_text"] == "Findings: normal heart."
    assert reports["csv_file"]["report_text"] == QUOTED
    assert Flag.REPORT_ENCODING_FALLBACK in reports["csv_file"]["quality_flags"]
    assert summary.rejected == {Reason.REPORT_MISSING: 1, Reason.MISSING_FILE: 1}
    images = catalog.read_table("images").to_pylist()
    assert len({r["patient_id"] for r in images}) == 1  # both studies of P1
    # The same manifest given as a file path.
    _, again = run_ingest(root / "manifest.csv", tmp_path / "data2", workers=1)
    assert again.images == 2


def test_loose_dicom_files_use_header_study_keys(
    run_ingest: Runner, tmp_path: Path, shared_data: Path
) -> None:
    catalog, summary = run_ingest(shared_data / "dicom", tmp_path / "data", workers=1)
    assert summary.layout == "files"
    # RG1 UNCR and J2KR share StudyInstanceUID; both SIIM files are one instance (duplicate).
    assert summary.rejected == {Reason.NON_CHEST_BODY_PART: 1, Reason.DUPLICATE_IMAGE: 1}
    images = catalog.read_table("images").to_pylist()
    assert len(images) == 3 and len({r["study_id"] for r in images}) == 2


def test_monochrome1_staged_inverted_through_ingest(
    run_ingest: Runner, tmp_path: Path, shared_data: Path
) -> None:
    staged = []
    for name in ("siim_pneumothorax_sample.dcm", "siim_sample_fake_monochrome1.dcm"):
        source = tmp_path / name
        source.mkdir()
        shutil.copy(shared_data / "dicom" / name, source / name)
        catalog, _ = run_ingest(source, tmp_path / "data", partition=source.stem, workers=1)
        row = catalog.read_table("images", [source.stem]).to_pylist()[0]
        staged.append(np.load(catalog.root / row["staged_path"])[row["staged_index"]])
    assert abs(staged[0].astype(int) + staged[1].astype(int) - 255).max() <= 1
