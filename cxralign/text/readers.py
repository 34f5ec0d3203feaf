"""Report inputs for the text commands: a directory of OpenI XML files, a directory tree of
MIMIC-CXR ``.txt`` reports, or a CSV with ``study_id,text`` -> the ``reports`` table that
:func:`cxralign.text.pipeline.sections_table` reads.

Files are read as bytes so that :mod:`cxralign.text.decoding` decides the encoding (a CSV too:
a UTF-16 export is read as UTF-16, not as cp1252); the study id is the file stem (``CXR12.xml``
-> ``CXR12``, ``s50414267.txt`` -> ``s50414267``). ``source_label`` names each input in a
rejection row without an input path: the study id of a file, ``row N`` of a CSV (its data rows
counted from 1), since a CSV row may lack a study id.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pyarrow as pa

from cxralign.text.decoding import decode_bytes


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
            "source_label": pa.array([p.stem for p in paths], pa.string()),
        }
    )


def _read_csv(path: Path) -> pa.Table:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long reports in one cell
    text, _flags = decode_bytes(path.read_bytes())
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"study_id", "text"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{path.name} lacks column(s) {sorted(missing)} (need study_id,text)")
    rows = [((row["study_id"] or "").strip(), row["text"] or "") for row in reader]
    return pa.table(
        {
            "study_id": pa.array([r[0] for r in rows], pa.string()),
            "report_text": pa.array([r[1] for r in rows], pa.string()),
            "report_format": pa.array(["csv_text"] * len(rows), pa.string()),
            "source_label": pa.array([f"row {n}" for n in range(1, len(rows) + 1)], pa.string()),
        }
    )
