"""Pseudonyms, the Annex E list, report scrubbing and report decoding."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.datadict import tag_for_keyword

from cxralign.io.deid import (
    ANNEX_E_KEYWORDS,
    REPORT_SCRUB_KEYWORDS,
    identifying_values,
    pseudonymize,
)
from cxralign.io.phi_text import scrub_report
from cxralign.io.rejections import Flag, Reason, Rejection
from cxralign.io.reports import decode_text, read_text_report

REPEATING_GROUP_KEYWORDS = {"CurveData", "OverlayData", "OverlayComments"}


def test_annex_e_keywords_are_dicom_keywords() -> None:
    unknown = {k for k in ANNEX_E_KEYWORDS if tag_for_keyword(k) is None}
    assert unknown == REPEATING_GROUP_KEYWORDS
    assert REPORT_SCRUB_KEYWORDS <= ANNEX_E_KEYWORDS
    assert {"PatientName", "PatientID", "StudyDate", "InstitutionName", "StationName",
            "DeviceSerialNumber", "AccessionNumber", "SOPInstanceUID"} <= ANNEX_E_KEYWORDS


def test_pseudonyms_are_keyed_stable_and_namespaced() -> None:
    value = pseudonymize("study", "s50414267", b"k1")
    assert value == pseudonymize("study", "s50414267", b"k1")
    assert len(value) == 16 and int(value, 16) >= 0
    assert value != pseudonymize("study", "s50414267", b"k2")
    assert value != pseudonymize("patient", "s50414267", b"k1")


def test_header_names_and_ids_are_scrubbed_from_report(shared_data: Path) -> None:
    header = pydicom.dcmread(shared_data / "dicom/RG1_UNCR.dcm", stop_before_pixels=True)
    values = identifying_values(header)
    assert {"CompressedSamples^RG1", "CompressedSamples", "RG1", "9RG1", "THORAVISION"} <= values
    scrubbed = scrub_report("Pt compressedsamples (9RG1) at Thoravision; THORAX normal.", values)
    assert scrubbed.text == "Pt [NAME] ([ID]) at [NAME]; THORAX normal." and scrubbed.count == 3


def test_report_decoding_falls_back_and_flags() -> None:
    assert decode_text("naïve".encode()).flags == ()
    fallback = decode_text("naïve".encode("cp1252"))
    assert fallback.text == "naïve" and fallback.flags == (Flag.REPORT_ENCODING_FALLBACK,)
    replaced = decode_text(b"bad \x81 byte")
    assert "\ufffd" in replaced.text and Flag.REPORT_BYTES_REPLACED in replaced.flags


def test_empty_report_is_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "s1.txt"
    empty.write_text("  \n")
    with pytest.raises(Rejection) as caught:
        read_text_report(empty)
    assert caught.value.reason == Reason.REPORT_EMPTY
