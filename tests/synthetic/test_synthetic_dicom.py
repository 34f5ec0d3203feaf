"""The DICOM files: they decode, they vary like a real archive, they carry PHI to remove."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from cxralign.synthetic.settings import SynthesisSettings

PHI_TAGS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "StudyDate",
    "StudyTime", "AccessionNumber", "InstitutionName", "InstitutionAddress",
    "ReferringPhysicianName", "OperatorsName", "StationName", "DeviceSerialNumber", "StudyID",
    "StudyDescription", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
)


def read(dataset, row: dict) -> pydicom.Dataset:
    return pydicom.dcmread(dataset.root / row["dicom_path"])


def test_layout_is_mimic_cxr(dataset) -> None:
    assert len(dataset.studies) == dataset.summary.studies
    assert (dataset.root / "README.md").read_text().lstrip().startswith("# Synthetic")
    for row in dataset.studies:
        patient, study = row["patient_key"], row["study_key"]
        assert re.fullmatch(r"p1\d{7}", patient) and re.fullmatch(r"s5\d{7}", study)
        folder = f"files/{patient[:3]}/{patient}"
        assert row["dicom_path"] == f"{folder}/{study}/{row['image_key']}.dcm"
        assert row["report_path"] == f"{folder}/{study}.txt"
        assert (dataset.root / row["report_path"]).is_file()
    dicoms = list(dataset.root.glob("files/p1?/p*/s*/*.dcm"))
    assert len(dicoms) == dataset.summary.studies
    per_patient = Counter(row["patient_key"] for row in dataset.studies)
    assert len({row["study_key"] for row in dataset.studies}) == dataset.summary.studies
    assert max(per_patient.values()) >= 2 and dataset.summary.patients == len(per_patient)


def test_every_file_decodes_and_matches_the_studies_table(dataset) -> None:
    for row in dataset.studies:
        ds = read(dataset, row)
        pixels = ds.pixel_array
        assert pixels.shape == (row["rows"], row["columns"]) == (ds.Rows, ds.Columns)
        assert pixels.dtype == np.uint16 and int(pixels.max()) < 2 ** ds.BitsStored
        assert int(pixels.max()) > int(pixels.min())
        assert (ds.BitsAllocated, ds.HighBit, ds.PixelRepresentation) == (16, ds.BitsStored - 1, 0)
        assert ds.file_meta.TransferSyntaxUID == row["transfer_syntax"]
        assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID == row["image_key"]
        assert ds.SOPInstanceUID.startswith("2.25.") and len(ds.SOPInstanceUID) <= 64
        assert ds.PhotometricInterpretation == row["photometric"]
        assert ds.Modality == row["modality"] and ds.ViewPosition == row["view_position"]
        shown = apply_voi_lut(apply_modality_lut(pixels, ds), ds)
        assert np.isfinite(shown).all() and float(shown.std()) > 0


def test_archive_variety(dataset) -> None:
    rows = dataset.studies
    assert {r["photometric"] for r in rows} == {"MONOCHROME1", "MONOCHROME2"}
    assert len({r["bits_stored"] for r in rows}) >= 3
    assert {r["transfer_syntax"] for r in rows} == {
        "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5"}
    assert {r["modality"] for r in rows} == {"CR", "DX"}
    assert {r["view_position"] for r in rows} == {"PA", "AP"}
    assert {r["voi"] for r in rows} == {"window", "lut", "none"}
    assert {r["rescaled"] for r in rows} == {True, False}
    assert len({(r["rows"], r["columns"]) for r in rows}) > dataset.summary.studies // 2
    side = SynthesisSettings().max_side  # each image draws 60-100 % of it
    assert all(0.6 * side - 1 <= max(r["rows"], r["columns"]) <= side for r in rows)
    assert any(r["rows"] != r["columns"] for r in rows)
    summary = dataset.summary
    assert sum(summary.photometrics.values()) == summary.studies
    assert sum(summary.transfer_syntaxes.values()) == summary.studies


def test_value_attributes_are_what_the_table_says(dataset) -> None:
    for row in dataset.studies:
        ds = read(dataset, row)
        assert ("RescaleSlope" in ds) == row["rescaled"]
        assert ("WindowCenter" in ds) == (row["voi"] == "window")
        assert ("VOILUTSequence" in ds) == (row["voi"] == "lut")
        assert "ImagerPixelSpacing" in ds or "PixelSpacing" in ds


def test_phi_like_tags_are_populated(dataset) -> None:
    names = set()
    for row in dataset.studies:
        ds = read(dataset, row)
        for tag in PHI_TAGS:
            assert str(ds.get(tag, "")).strip(), f"{tag} empty in {row['dicom_path']}"
        assert "^" in str(ds.PatientName)
        names.add(str(ds.PatientName))
    assert len(names) > 1


def test_lungs_display_darker_than_the_abdomen(dataset) -> None:
    """Checks the photometric convention and the boxes together: air is dark once displayed."""
    for row in dataset.studies:
        ds = read(dataset, row)
        values = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            values = -values
        boxes = dataset.boxes(row["image_key"])

        def centre_mean(region: str) -> float:
            x1, y1, x2, y2 = boxes[region]
            w, h = x2 - x1, y2 - y1
            rows = slice(int(y1 + h / 4), int(y2 - h / 4))
            cols = slice(int(x1 + w / 4), int(x2 - w / 4))
            return float(values[rows, cols].mean())

        lungs = min(centre_mean("right mid lung zone"), centre_mean("left mid lung zone"))
        assert lungs < centre_mean("abdomen"), row["study_key"]
