"""Finding studies in an input folder: MIMIC-CXR tree, OpenI XML, CSV manifest, or loose files.

A layout reader only lists files and keys; it opens no image. The keys it returns (``p10000032``,
``s50414267``, XML stems, manifest ids) are source identifiers: they are pseudonymised by the
caller and never written anywhere.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cxralign.io.reports import openi_image_ids
from cxralign.layout import GROUND_TRUTH_DIR

IMAGE_SUFFIXES: Final = frozenset({".dcm", ".dicom", ".dic", ".png", ".jpg", ".jpeg"})
RASTER_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg"})
MANIFEST_NAME: Final = "manifest.csv"
# Folders that sit beside studies but are not studies (the synthetic generator's answers).
IGNORED_DIRS: Final = frozenset({GROUND_TRUTH_DIR})
_MIMIC_GROUP = re.compile(r"p\d\d")
_MIMIC_PATIENT = re.compile(r"p\d+")
_MIMIC_STUDY = re.compile(r"s\d+")


@dataclass(frozen=True)
class ReportSource:
    """Where a study's report is: a file, or text inline in a manifest."""

    format: str  # mimic_txt | openi_xml | csv_file | csv_text
    path: Path | None = None
    text: str | None = None


@dataclass(frozen=True)
class Study:
    """One study's files. ``key``/``patient_key`` None (loose files only) means: derive them per
    image from its header (StudyInstanceUID, PatientID) or its file stem."""

    key: str | None
    patient_key: str | None
    images: tuple[Path, ...]
    report: ReportSource | None = None
    expects_report: bool = False


def discover(input_path: Path, layout: str = "auto") -> tuple[str, list[Study]]:
    """Detect (or use the named) layout and list its studies in a deterministic order."""
    readers = {"csv": _csv_studies, "mimic": _mimic_studies, "openi": _openi_studies,
               "files": _loose_studies}
    if layout != "auto":
        if layout not in readers:
            raise InputLayoutError(f"unknown layout {layout!r}; expected auto or {sorted(readers)}")
        return layout, readers[layout](input_path)
    return (chosen := detect_layout(input_path)), readers[chosen](input_path)


def detect_layout(input_path: Path) -> str:
    if input_path.is_file() or (input_path / MANIFEST_NAME).is_file():
        return "csv"
    if _mimic_root(input_path) is not None:
        return "mimic"
    if any(_is_openi_xml(path) for path in sorted(input_path.rglob("*.xml"))[:5]):
        return "openi"
    return "files"


def relative_source(path: Path, base: Path) -> str:
    """How an input is named before hashing: its POSIX path relative to the input folder."""
    return Path(os.path.relpath(path, base)).as_posix()


def is_raster(path: Path) -> bool:
    return path.suffix.lower() in RASTER_SUFFIXES


def _mimic_root(input_path: Path) -> Path | None:
    for root in (input_path / "files", input_path):
        if root.is_dir() and next(_mimic_study_dirs(root), None) is not None:
            return root
    return None


def _mimic_study_dirs(root: Path) -> Iterator[Path]:
    for group in sorted(p for p in root.iterdir() if p.is_dir() and _MIMIC_GROUP.fullmatch(p.name)):
        for patient in sorted(p for p in group.iterdir() if _MIMIC_PATIENT.fullmatch(p.name)):
            if patient.is_dir():
                yield from sorted(
                    p for p in patient.iterdir() if p.is_dir() and _MIMIC_STUDY.fullmatch(p.name)
                )


def _mimic_studies(input_path: Path) -> list[Study]:
    """``files/pXX/pXXXXXXXX/sXXXXXXXX/*.dcm|jpg`` with the report at ``sXXXXXXXX.txt``."""
    root = _mimic_root(input_path)
    if root is None:
        return []
    studies = []
    for study_dir in _mimic_study_dirs(root):
        studies.append(
            Study(
                key=study_dir.name,
                patient_key=study_dir.parent.name,
                images=_image_files(study_dir, recursive=False),
                report=ReportSource("mimic_txt", path=study_dir.with_suffix(".txt")),
                expects_report=True,
            )
        )
    return studies


def _is_openi_xml(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return b"<eCitation" in handle.read(4096)
    except OSError:
        return False


def _openi_studies(input_path: Path) -> list[Study]:
    """One XML per study; images ``<parentImage id>.png|dcm|jpg`` anywhere under the input."""
    by_stem: dict[str, Path] = {}
    for image in _image_files(input_path, recursive=True):
        by_stem.setdefault(image.stem, image)
    studies = []
    for xml in sorted(input_path.rglob("*.xml")):
        if not _is_openi_xml(xml):
            continue
        images = tuple(by_stem[i] for i in openi_image_ids(xml) if i in by_stem)
        studies.append(
            Study(key=xml.stem, patient_key=xml.stem, images=images,
                  report=ReportSource("openi_xml", path=xml), expects_report=True)
        )
    return studies


class InputLayoutError(ValueError):
    """The input cannot be read as the layout it claims (a manifest without its columns, an
    unknown layout name): the user's input to fix, not a bug."""


def _csv_studies(input_path: Path) -> list[Study]:
    """A manifest: ``study_id, image_path`` and ``report_path`` or ``report_text`` (optional
    ``patient_id``), one row per image; paths are relative to the CSV file."""
    manifest = input_path if input_path.is_file() else input_path / MANIFEST_NAME
    base = manifest.parent
    images: dict[str, list[Path]] = {}
    patients: dict[str, str] = {}
    reports: dict[str, ReportSource] = {}
    with manifest.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"study_id", "image_path"} - set(reader.fieldnames or ())
        if missing:
            raise InputLayoutError(
                f"manifest {manifest.name} lacks required column(s) {sorted(missing)}; a manifest "
                "has columns study_id, image_path and report_path or report_text (optional "
                "patient_id), paths relative to the CSV file")
        for row in reader:
            key = (row.get("study_id") or "").strip()
            if not key:
                continue
            paths = images.setdefault(key, [])
            if (image := (row.get("image_path") or "").strip()):
                paths.append(base / image)
            patients.setdefault(key, (row.get("patient_id") or "").strip() or key)
            if key not in reports:
                if (report_path := (row.get("report_path") or "").strip()):
                    reports[key] = ReportSource("csv_file", path=base / report_path)
                elif (report_text := (row.get("report_text") or "").strip()):
                    reports[key] = ReportSource("csv_text", text=report_text)
    expects_report = bool({"report_path", "report_text"} & set(reader.fieldnames or ()))
    return [
        Study(key=key, patient_key=patients[key], images=tuple(paths), report=reports.get(key),
              expects_report=expects_report)
        for key, paths in images.items()
    ]


def _loose_studies(input_path: Path) -> list[Study]:
    """Every DICOM/PNG/JPEG file; each image's study comes from its own header or stem."""
    return [Study(key=None, patient_key=None, images=(image,)) for image in
            _image_files(input_path, recursive=True)]


def _image_files(directory: Path, recursive: bool) -> tuple[Path, ...]:
    """Image files by suffix, plus suffix-less files that carry the DICOM ``DICM`` magic.

    Anything named like an image that is not a folder is listed, even when it is not a
    readable regular file (a dangling symlink, a FIFO): the loader rejects it with a reason,
    so every path seen here ends in exactly one output table.
    """
    candidates = directory.rglob("*") if recursive else directory.iterdir()
    found = []
    for path in candidates:
        parts = path.relative_to(directory).parts
        if any(part in IGNORED_DIRS or part.startswith(".") for part in parts):
            continue
        suffix = path.suffix.lower()
        if path.is_dir():
            continue
        dangling = path.is_symlink() and not path.exists()
        if suffix in IMAGE_SUFFIXES or (not suffix and (dangling or _has_dicom_magic(path))):
            found.append(path)
    return tuple(sorted(found))


def _has_dicom_magic(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False
