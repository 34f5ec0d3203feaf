"""The report scrubber on constructed cases, and on the real IU reports (which must survive)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cxralign.io.phi_text import scrub_report
from cxralign.io.rejections import Rejection
from cxralign.io.reports import read_openi_report

HEADER = {"LEE^MARK", "LEE", "MARK", "DOE^JANE", "DOE", "JANE", "12345678", "A55512"}
BACK_10 = timedelta(days=-10)


def scrubbed(text: str, offset: timedelta | None = BACK_10) -> str:
    return scrub_report(text, HEADER, offset).text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Header name parts: whole words, any case, however short; never inside a word.
        ("Patient Mark Lee, markedly marked LEEWAY; Jane Doe's mother Doe.",
         "Patient [NAME] [NAME], markedly marked LEEWAY; [NAME] [NAME]'s mother [NAME]."),
        ("Marked cardiomegaly. Remarkable for lee-side.", "Marked cardiomegaly. Remarkable for [NAME]-side."),
        # Clinicians the header does not name.
        ("Discussed with Dr. Sarah O'Connor and Mr. Smith; Ms. J. Roe agreed.",
         "Discussed with Dr. [NAME] and Mr. [NAME]; Ms. [NAME] agreed."),
        ("Findings called to Paul Newman at the bedside.",
         "Findings called to [NAME] at the bedside."),
        ("Robert Brown, MD; signed by: Gray, Anne.", "[NAME], MD; signed by: [NAME]."),
        # Dates with a year are shifted by the offset; partial ones become [DATE].
        ("Prior 03/14/2012, 3/14/12, 2012-03-14 and 20120314.",
         "Prior 2012-03-04, 2012-03-04, 2012-03-04 and 2012-03-04."),
        ("Since March 14, 2012, 14th of March 2012 and Sept. 3rd, 2011.",
         "Since 2012-03-04, 2012-03-04 and 2011-08-24."),
        ("Compared with March 2012, with Mar 14 and 14 March, and on 3/14.",
         "Compared with [DATE], with [DATE] and [DATE], and on [DATE]."),
        ("Dated 13/45/2012.", "Dated [DATE]."),
        # Times, phones, IDs, emails, addresses.
        ("Called at 10:30 a.m., 3 pm and 1430 hours.", "Called at [TIME], [TIME] and [TIME]."),
        ("Phone (317) 555-0123, 317.555.0124 ext. 12, 555-0125, pager 4-1234.",
         "Phone [PHONE], [PHONE], [PHONE], pager [PHONE]."),
        ("MRN: 98765432, accession number ACC2291, case # 77-1234, SSN 123-45-6789, 12345678.",
         "MRN: [ID], accession number [ID], case # [ID], SSN [ID], [ID]."),
        ("Mail jane.doe@example.org.", "Mail [EMAIL]."),
        ("Lives at 1234 West Maple Street, Indianapolis, IN 46202 and PO Box 77.",
         "Lives at [ADDRESS] and [ADDRESS]."),
    ],
)
def test_constructed_phi_is_replaced_by_typed_placeholders(text: str, expected: str) -> None:
    assert scrubbed(text) == expected


def test_without_an_offset_every_date_is_a_placeholder() -> None:
    assert scrubbed("Prior 03/14/2012 and March 14, 2012.", None) == "Prior [DATE] and [DATE]."


def test_counts_by_kind() -> None:
    result = scrub_report("Dr. Lee called 317-555-0123 on 1/2/2010.", HEADER)
    assert result.replaced == {"NAME": 1, "PHONE": 1, "DATE": 1} and result.count == 3


@pytest.mark.parametrize(
    "text",
    [
        "Mild cardiomegaly. T12 and L1 compression deformities; C5-6 degenerative change.",
        "A 2.5 cm nodule in the right upper lobe, 5 mm, upper 1/3 of the lung, grade 2/4.",
        "May represent atelectasis. Small effusion may be present; Dr has no name here.",
        "Heart size is normal, ratio 1:2. AP and PA views. Pt is stable. No PTX.",
        "Findings discussed with ICU team and with Emergency Department staff at the bedside.",
    ],
)
def test_medical_text_is_untouched(text: str) -> None:
    assert scrubbed(text) == text


def test_real_iu_reports_keep_their_medical_text(shared_data: Path) -> None:
    """The IU reports were de-identified by their publisher ("XXXX"). The scrubber may only touch
    the names it recognises around those masks; every other report comes back unchanged."""
    texts = []
    for path in sorted((shared_data / "iu_xray_reports").glob("*.xml"))[:600]:
        try:
            texts.append(read_openi_report(path).text)
        except Rejection:  # a few IU reports have no text at all
            continue
    changed = [(t, r) for t in texts if (r := scrub_report(t)).text != t]
    assert len(texts) > 590 and len(changed) <= 3
    assert all(set(r.replaced) == {"NAME"} and "XXXX" in t for t, r in changed)
