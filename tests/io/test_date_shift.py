"""Keyed per-patient date shift: known answers, bounds, and intervals kept through ingestion of
real DICOM files whose dates the test sets."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from datetime import date, timedelta
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from cxralign.io.catalog import Catalog
from cxralign.io.date_shift import (
    MAX_SHIFT_DAYS,
    date_offset,
    header_date,
    parse_dicom_date,
    shift,
)
from cxralign.io.deid import pseudonymize
from cxralign.io.ingest import IngestSettings, ingest

KEY = b"test-key"  # tests/io/conftest.py sets the same value in CXRALIGN_DEID_KEY


def test_offset_known_answer_from_the_hmac() -> None:
    digest = hmac.new(b"k", b"date-shift:patient-1", hashlib.sha256).hexdigest()
    draw = int(digest[:16], 16) % (2 * MAX_SHIFT_DAYS)
    expected = draw - MAX_SHIFT_DAYS if draw < MAX_SHIFT_DAYS else draw - MAX_SHIFT_DAYS + 1
    assert date_offset("patient-1", b"k") == timedelta(days=expected)
    assert date_offset("patient-1", b"k") == timedelta(days=-276)  # pinned: keys must not drift


def test_offsets_are_bounded_nonzero_spread_and_keyed() -> None:
    days = [date_offset(f"patient-{i}", b"k").days for i in range(3000)]
    assert all(1 <= abs(d) <= MAX_SHIFT_DAYS for d in days)
    assert min(days) < -MAX_SHIFT_DAYS + 10 and max(days) > MAX_SHIFT_DAYS - 10
    assert sum(d > 0 for d in days) / len(days) == pytest.approx(0.5, abs=0.05)
    other = [date_offset(f"patient-{i}", b"k2").days for i in range(3000)]
    assert sum(a == b for a, b in zip(days, other, strict=True)) < 30


@pytest.mark.parametrize(
    ("value", "expected"),
    [("20040826", date(2004, 8, 26)), ("2004.08.26", date(2004, 8, 26)),
     (" 19950926 ", date(1995, 9, 26)), ("", None), ("2004", None), ("20041345", None),
     (None, None)],
)
def test_dicom_dates_parse(value: object, expected: date | None) -> None:
    assert parse_dicom_date(value) == expected


def test_header_date_prefers_study_then_series_then_acquisition(
    shared_data: Path
) -> None:
    dataset = pydicom.dcmread(shared_data / "dicom/RG1_UNCR.dcm")
    assert header_date(dataset) == date(2004, 8, 26)  # StudyDate; SeriesDate is 19950926
    del dataset.StudyDate
    assert header_date(dataset) == date(1995, 9, 26)
    del dataset.SeriesDate
    dataset.AcquisitionDate = "20010203"
    assert header_date(dataset) == date(2001, 2, 3)
    dataset.AcquisitionDate = "not a date"
    assert header_date(dataset) is None
    del dataset.AcquisitionDate
    assert header_date(dataset) is None
    assert shift(None, timedelta(days=3)) is None


# (patient, study, StudyDate, report): two studies of p1 and one of p2 on p1's first date.
STUDIES = [
    ("p10000001", "s50000001", "20100105", "Heart size normal. No effusion."),
    ("p10000001", "s50000002", "20110317",
     "Compared with 01/05/2010 and January 5, 2010 (on 3/14). No pneumothorax."),
    ("p10000002", "s50000003", "20100105", "Lungs clear."),
]


def _dated_mimic_tree(root: Path, source: Path) -> Path:
    """A MIMIC-layout tree of copies of a real radiograph with new UIDs and the STUDIES dates."""
    for patient, study, study_date, report in STUDIES:
        directory = root / "files" / patient[:3] / patient / study
        directory.mkdir(parents=True)
        dataset = pydicom.dcmread(source)
        dataset.StudyDate = study_date
        dataset.StudyInstanceUID = generate_uid()
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.save_as(directory / "image.dcm")
        (directory.parent / f"{study}.txt").write_text(f"FINDINGS: {report}\n")
    return root


def test_ingest_shifts_dates_per_patient_and_keeps_intervals(
    shared_data: Path, tmp_path: Path
) -> None:
    incoming = _dated_mimic_tree(tmp_path / "incoming", shared_data / "dicom/RG1_UNCR.dcm")
    shutil.copy(shared_data / "dicom/siim_pneumothorax_sample.dcm",
                incoming / "files/p10/p10000002/s50000003/second.dcm")
    catalog = Catalog(tmp_path / "data")
    ingest(incoming, catalog, IngestSettings(workers=1, staged_size=64))
    images = catalog.read_table("images").to_pylist()
    reports = {r["study_id"]: r for r in catalog.read_table("reports").to_pylist()}
    by_study = {
        study: [row for row in images if row["study_id"] == pseudonymize("study", study, KEY)]
        for _, study, _, _ in STUDIES
    }
    first, second = by_study["s50000001"][0], by_study["s50000002"][0]
    offset = date_offset(pseudonymize("patient", "p10000001", KEY), KEY)
    assert first["study_date"] == date(2010, 1, 5) + offset
    assert second["study_date"] - first["study_date"] == date(2011, 3, 17) - date(2010, 1, 5)
    # One study, two files (SIIM's own StudyDate differs): the image of each keeps its own.
    other = by_study["s50000003"]
    p2_offset = date_offset(pseudonymize("patient", "p10000002", KEY), KEY)
    assert {row["study_date"] for row in other} == {
        date(2010, 1, 5) + p2_offset, date(1901, 1, 1) + p2_offset
    }
    assert p2_offset != offset and 0 < abs(offset.days) <= MAX_SHIFT_DAYS
    for rows in by_study.values():
        assert reports[rows[0]["study_id"]]["study_date"] in {row["study_date"] for row in rows}
    text = reports[second["study_id"]]["report_text"]
    assert text == (f"FINDINGS: Compared with {first['study_date'].isoformat()} and "
                    f"{first['study_date'].isoformat()} (on [DATE]). No pneumothorax.")
    kinds = catalog.query("SELECT DISTINCT typeof(study_date) AS t FROM images")
    assert kinds.column("t").to_pylist() == ["DATE"]
