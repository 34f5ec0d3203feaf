"""Report inputs for the text commands: a directory of OpenI XML files, a directory tree of
MIMIC-CXR ``.txt`` reports, or a CSV with ``study_id,text`` -> the ``reports`` table that
:func:`cxralign.text.pipeline.sections_table` reads.

Files are read as bytes so that :mod:`cxralign.text.decoding` decides the encoding; the study id
is the file stem (``CXR12.xml`` -> ``CXR12``, ``s50414267.txt`` -> ``s50414267``).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pyarrow as pa


def read_reports(source: Path) -> pa.Table:
    """The reports under ``source`` as ``study_id, report_text, report_format``."""
    source = Path(source)
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise ValueError(f"{source} is a file but not a .csv (study_id,text)")
        return _read_csv(source)
    if not source.is_dir():
        raise FileNotFoundError(f"no such input: {source}")
    xml_files = sorted(source.glob("*.xml"))
    if xml_files:
        return _table(xml_files, "openi_xml")
    return _table(sorted(source.rglob("*.txt")), "mimic_txt")


def _table(paths: list[Path], report_format: str) -> pa.Table:
    return pa.table(
        {
            "study_id": pa.array([p.stem for p in paths], pa.string()),
            "report_text": pa.array([p.read_bytes() for p in paths], pa.binary()),
            "report_format": pa.array([report_format] * len(paths), pa.string()),
        }
    )


def _read_csv(path: Path) -> pa.Table:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long reports in one cell
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        missing = {"study_id", "text"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path.name} lacks column(s) {sorted(missing)} (need study_id,text)")
        rows = [(row["study_id"], row["text"] or "") for row in reader]
    return pa.table(
        {
            "study_id": pa.array([r[0] for r in rows], pa.string()),
            "report_text": pa.array([r[1] for r in rows], pa.string()),
            "report_format": pa.array(["csv_text"] * len(rows), pa.string()),
        }
    )
