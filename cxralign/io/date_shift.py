"""Keyed per-patient date shifting: absolute dates go, intervals between studies stay.

Dropping every date (what ingestion did before) loses the time between a patient's studies,
which follow-up and temporal models need. Shifting every date of one patient by the same secret
offset (as CTP's ``@incrementdate``, deid's ``JITTER`` and dicognito do) keeps those intervals
exact while the absolute dates, a HIPAA identifier, no longer match any record. The offset is a
keyed hash of the patient pseudonym, so it is stable across batches under one key and cannot be
recomputed without it. It is never zero, and bounded, so shifted dates stay plausible.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from pydicom.dataset import Dataset

from cxralign.io.deid import pseudonymize

MAX_SHIFT_DAYS: Final = 365
# The header dates of one image, in order of preference, for its ``study_date``.
DATE_KEYWORDS: Final = ("StudyDate", "SeriesDate", "AcquisitionDate")


def date_offset(patient_id: str, key: bytes) -> timedelta:
    """The patient's shift: a keyed value in [-MAX_SHIFT_DAYS, -1] or [1, MAX_SHIFT_DAYS] days."""
    draw = int(pseudonymize("date-shift", patient_id, key), 16) % (2 * MAX_SHIFT_DAYS)
    days = draw - MAX_SHIFT_DAYS  # -MAX .. MAX-1; move 0 .. MAX-1 up by one to skip zero
    return timedelta(days=days if days < 0 else days + 1)


def parse_dicom_date(value: object) -> date | None:
    """A DICOM DA value (``YYYYMMDD``; the retired ``YYYY.MM.DD`` too) as a date, else None."""
    text = str(value or "").strip().replace(".", "")
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def header_date(dataset: Dataset) -> date | None:
    """The first parseable of Study, Series and Acquisition Date in a DICOM header (the loader
    reads it from the data set it already has open)."""
    for keyword in DATE_KEYWORDS:
        parsed = parse_dicom_date(dataset.get(keyword))
        if parsed is not None:
            return parsed
    return None


def shift(value: date | None, offset: timedelta) -> date | None:
    """``value`` moved by ``offset`` (None stays None)."""
    return None if value is None else value + offset
