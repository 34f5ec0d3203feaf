"""Sections of MIMIC-CXR style text, OpenI XML and CSV text; encodings; rejections."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cxralign.text.pipeline import sections_table
from cxralign.text.sections import Reason, SectionRejection, parse_report

MIMIC = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with cough

 TECHNIQUE:  Chest PA and lateral

 COMPARISON:  ___

 FINDINGS:

 The lungs are clear.  No pleural effusion.

 IMPRESSION:

 No acute cardiopulmonary process.
"""


def test_mimic_headings_split_into_sections():
    sections = parse_report(MIMIC, "mimic_txt")
    assert sections.findings == "The lungs are clear.  No pleural effusion."
    assert sections.impression == "No acute cardiopulmonary process."
    assert sections.indication == "___F with cough"
    assert sections.comparison == "___"
    assert sections.technique == "CHEST (PA AND LAT)\nChest PA and lateral"
    assert sections.has_headings


def test_headings_in_odd_case_without_colons_and_inline():
    text = "Findings\nHeart size normal. Lungs clear.\nimpression\nNormal chest. history: cough"
    sections = parse_report(text, "txt")
    assert sections.findings == "Heart size normal. Lungs clear."
    assert sections.impression == "Normal chest."
    assert sections.history == "cough"


def test_wet_read_is_dropped_and_text_under_final_report_is_findings():
    text = "WET READ: ___ 4:51 PM\n  ? left lower lobe opacity\n\nFINAL REPORT\n Lungs clear.\n IMPRESSION: Normal."
    sections = parse_report(text, "mimic_txt")
    assert sections.findings == "Lungs clear."
    assert sections.impression == "Normal."
    assert "opacity" not in (sections.findings or "")


def test_report_without_headings_is_all_findings():
    sections = parse_report("Heart is enlarged. No effusion.", "csv_text")
    assert sections.findings == "Heart is enlarged. No effusion."
    assert sections.impression is None
    assert not sections.has_headings


@pytest.mark.parametrize("blank", ["\n\n", "\n \n "])
def test_paragraph_after_a_one_line_heading_is_the_findings(blank):
    text = (f"                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT){blank}"
            "Blunting of both costophrenic angles. Lungs otherwise clear.\n")
    sections = parse_report(text, "mimic_txt")
    assert sections.technique == "CHEST (PA AND LAT)"
    assert sections.findings == "Blunting of both costophrenic angles. Lungs otherwise clear."
    assert sections.has_headings  # EXAMINATION is a heading, though the findings had none
    text = "INDICATION:  cough\n\nCOMPARISON:  None.\n\nHeart normal.\n\nNo effusion."
    sections = parse_report(text, "mimic_txt")
    assert (sections.indication, sections.comparison) == ("cough", "None.")
    assert sections.findings == "Heart normal.\n\nNo effusion."


def test_only_reports_without_findings_or_impression_take_a_paragraph_as_findings():
    text = "COMPARISON:  None.\n\nPortable film.\n\nIMPRESSION:  Normal."
    sections = parse_report(text, "mimic_txt")
    assert sections.comparison == "None.\n\nPortable film."
    assert sections.findings is None and sections.impression == "Normal."
    wrapped = "HISTORY:  cough and\nfever\n\nlimited study"  # several lines: not a one-line heading
    with pytest.raises(SectionRejection):
        parse_report(wrapped, "mimic_txt")


def test_openi_xml_sections(shared_data):
    xml = (shared_data / "iu_xray_reports" / "1.xml").read_bytes()
    sections = parse_report(xml, "openi_xml")
    assert sections.findings.startswith("The cardiac silhouette and mediastinum size")
    assert sections.impression == "Normal chest x-XXXX."
    assert sections.indication == "Positive TB test"
    assert sections.comparison == "None."


def test_latin1_and_cp1252_bytes_decode_and_stray_bytes_are_replaced():
    latin1 = "FINDINGS: Nodule 5 µm, café.\nIMPRESSION: Normal.".encode("latin-1")
    # NFKC (issue 13) folds the micro sign into the Greek mu it is a compatibility form of
    assert parse_report(latin1, "txt").findings == "Nodule 5 \u03bcm, café."
    cp1252 = "FINDINGS: \u201cclear\u201d lungs.".encode("cp1252")
    assert parse_report(cp1252, "txt").findings == "\u201cclear\u201d lungs."
    stray = b"FINDINGS: clear \x81\x8d lungs."  # undefined in cp1252, invalid UTF-8
    assert parse_report(stray, "txt").findings == "clear \ufffd\ufffd lungs."


@pytest.mark.parametrize(
    ("data", "report_format", "reason"),
    [
        ("   \n ", "txt", Reason.EMPTY),
        ("<eCitation><Abstract>", "openi_xml", Reason.UNREADABLE),
        ("INDICATION: cough\nCOMPARISON: none", "mimic_txt", Reason.NO_FINDINGS),
    ],
)
def test_unusable_reports_are_rejected_with_a_reason(data, report_format, reason):
    with pytest.raises(SectionRejection) as caught:
        parse_report(data, report_format)
    assert caught.value.reason == reason
    assert "cough" not in caught.value.detail  # details never quote the report


def test_sections_table_keeps_good_rows_and_rejects_bad_ones():
    reports = pa.table(
        {
            "study_id": ["s1", "s2"],
            "report_text": ["FINDINGS: Lungs clear.", ""],
            "report_format": ["mimic_txt", "mimic_txt"],
        }
    )
    sections, rejected = sections_table(reports)
    assert sections.column("study_id").to_pylist() == ["s1"]
    assert sections.column("source_format").to_pylist() == ["mimic_txt"]
    assert rejected.to_pylist()[0] | {"seen_at": None} == {
        "source_path_hash": "s2", "stage": "report_sections", "reason": Reason.EMPTY,
        "detail": "report text is empty", "seen_at": None,
    }
