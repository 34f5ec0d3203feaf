"""The synthetic dataset end to end: studies in parallel, then the ground-truth tables.

Each study is a pure function of ``(seed, study index)``: its random generator is seeded from
that pair alone, so the files are byte-identical however the studies are spread over worker
processes. Workers write the DICOM file and report of their study and return its ground-truth
rows; the parent writes the tables in study order.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import pyarrow as pa

from cxralign.io.atomic import atomic_path, write_parquet_atomically
from cxralign.layout import GROUND_TRUTH_DIR
from cxralign.progress import Emit, Progress
from cxralign.synthetic.anatomy import sample_anatomy, sample_pose
from cxralign.synthetic.cohort import StudyIdentity, derive_uid, plan_cohort
from cxralign.synthetic.dicom_writer import ImageUIDs, sample_encoding, write_dicom
from cxralign.synthetic.geometry import Box
from cxralign.synthetic.lesions import cardiothoracic_ratio, place_lesions, sample_findings
from cxralign.synthetic.render import render
from cxralign.synthetic.reports import ClinicalContext, write_report
from cxralign.synthetic.settings import SynthesisSettings

UID_NAMESPACE: Final = "cxralign.synthetic"

_BOX = [("x1", pa.float64()), ("y1", pa.float64()), ("x2", pa.float64()), ("y2", pa.float64())]
SCHEMAS: Final[dict[str, pa.Schema]] = {
    "regions": pa.schema([("study_key", pa.string()), ("image_key", pa.string()),
                          ("region", pa.string()), *_BOX]),
    "findings": pa.schema([("study_key", pa.string()), ("image_key", pa.string()),
                           ("finding", pa.string()), ("existence", pa.string()),
                           ("region", pa.string()), *_BOX, ("severity", pa.string()),
                           ("size_mm", pa.float64()), ("device", pa.string())]),
    "sentences": pa.schema([("study_key", pa.string()), ("sentence_index", pa.int32()),
                            ("section", pa.string()), ("sentence", pa.string()),
                            ("finding", pa.string()), ("existence", pa.string()),
                            ("regions", pa.list_(pa.string()))]),
    "studies": pa.schema([("study_key", pa.string()), ("patient_key", pa.string()),
                          ("image_key", pa.string()), ("rows", pa.int32()), ("columns", pa.int32()),
                          ("modality", pa.string()), ("photometric", pa.string()),
                          ("bits_stored", pa.int32()), ("transfer_syntax", pa.string()),
                          ("view_position", pa.string()), ("is_normal", pa.bool_()),
                          ("pixel_spacing_mm", pa.float64()), ("voi", pa.string()),
                          ("rescaled", pa.bool_()), ("dicom_path", pa.string()),
                          ("report_path", pa.string())]),
}

Row = dict[str, Any]
T = TypeVar("T")
_DEFAULTS: Final = SynthesisSettings()
"""The seed and worker count used when a caller gives none (the CLI and Dagster defaults)."""


@dataclass(frozen=True)
class SynthesisSummary:
    """What :func:`synthesize` wrote, for printing and as Dagster metadata (JSON-friendly)."""

    out_dir: Path
    studies: int
    images: int
    patients: int
    normal_studies: int
    seconds: float
    bytes_written: int
    findings: dict[str, int]
    """Studies in which each finding is present or uncertain."""
    transfer_syntaxes: dict[str, int]
    photometrics: dict[str, int]
    modalities: dict[str, int]
    bits_stored: dict[str, int]
    view_positions: dict[str, int]
    voi: dict[str, int]


@dataclass
class _StudyRows:
    """Ground-truth rows of one study, returned by a worker."""

    study: Row
    regions: list[Row] = field(default_factory=list)
    findings: list[Row] = field(default_factory=list)
    sentences: list[Row] = field(default_factory=list)
    bytes_written: int = 0


def synthesize(out_dir: Path, studies: int, seed: int = _DEFAULTS.seed,
               workers: int = _DEFAULTS.workers, progress: Emit | None = None,
               max_side: int = _DEFAULTS.max_side) -> SynthesisSummary:
    """Write ``studies`` phantom studies and their ground truth under ``out_dir``.

    ``workers`` is the number of processes (0: all available cores); it changes only speed.
    Existing files of the same names are replaced atomically. ``progress`` receives a
    throttled rate/ETA line (default: the ``cxralign`` logger).
    """
    if studies < 1:
        raise ValueError(f"studies must be positive, got {studies}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    cohort = plan_cohort(seed, studies)
    meter = Progress(studies, "synthesis (studies)", emit=progress)
    results = []
    for rows in _run(seed, out_dir, cohort, workers or _available_cores(), max_side):
        results.append(rows)
        meter.advance()
    table_bytes = sum(_write_table(out_dir, name, results) for name in SCHEMAS)
    readme = out_dir / "README.md"
    with atomic_path(readme) as tmp:
        tmp.write_text(_README.format(studies=studies, seed=seed), encoding="utf-8")
    studies_rows = [r.study for r in results]
    return SynthesisSummary(
        out_dir=out_dir,
        studies=studies,
        images=len(results),
        patients=len({identity.patient.number for identity in cohort}),
        normal_studies=sum(row["is_normal"] for row in studies_rows),
        seconds=round(time.perf_counter() - started, 3),
        bytes_written=sum(r.bytes_written for r in results) + table_bytes + readme.stat().st_size,
        findings=_count(
            {(row["study_key"], row["finding"]) for r in results for row in r.findings
             if row["existence"] != "absent"},
            key=lambda pair: pair[1],
        ),
        transfer_syntaxes=_count(studies_rows, key=lambda row: _TS_NAMES[row["transfer_syntax"]]),
        photometrics=_count(studies_rows, key=lambda row: row["photometric"]),
        modalities=_count(studies_rows, key=lambda row: row["modality"]),
        bits_stored=_count(studies_rows, key=lambda row: str(row["bits_stored"])),
        view_positions=_count(studies_rows, key=lambda row: row["view_position"]),
        voi=_count(studies_rows, key=lambda row: row["voi"]),
    )


def _available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run(
    seed: int, out_dir: Path, cohort: list[StudyIdentity], workers: int, max_side: int,
) -> Iterator[_StudyRows]:
    jobs = [(seed, out_dir, identity, max_side) for identity in cohort]
    if workers == 1 or len(jobs) == 1:
        yield from map(_build_study, jobs)
        return
    # "spawn": forking a process that may hold threads (Dagster, torch) is unsafe.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(_build_study, jobs, chunksize=max(1, len(jobs) // (workers * 8)))


def _build_study(job: tuple[int, Path, StudyIdentity, int]) -> _StudyRows:
    """Sample, render and write one study; return its ground-truth rows."""
    seed, out_dir, identity, max_side = job
    rng = np.random.default_rng([seed, 0, identity.index])
    plan = sample_findings(rng)
    anatomy = sample_anatomy(rng, cardiothoracic_ratio(rng, plan))
    pose = sample_pose(rng, max_side)
    lesions = place_lesions(rng, plan, anatomy, pose)
    portable = any(lesion.device for lesion in lesions)
    view = "AP" if rng.random() < (0.85 if portable else 0.3) else "PA"
    image = render(rng, anatomy, lesions, pose)
    context = ClinicalContext(identity.patient.sex, view, has_prior=identity.visit > 0)
    report = write_report(rng, lesions, context)
    encoding = sample_encoding(rng)
    uids = ImageUIDs(*(derive_uid(UID_NAMESPACE, seed, identity.index, kind)
                       for kind in ("study", "series", "instance")))

    study_dir = identity.folder / identity.key
    dicom_path = study_dir / f"{uids.instance}.dcm"
    report_path = identity.folder / f"{identity.key}.txt"
    write_dicom(out_dir / dicom_path, rng, image, encoding, identity, view, pose, uids)
    with atomic_path(out_dir / report_path) as tmp:
        tmp.write_text(report.text, encoding="utf-8")

    keys = {"study_key": identity.key, "image_key": uids.instance}
    rows = _StudyRows(study={
        **keys, "patient_key": identity.patient.key, "rows": pose.rows, "columns": pose.cols,
        "modality": encoding.modality, "photometric": encoding.photometric,
        "bits_stored": encoding.bits_stored, "transfer_syntax": str(encoding.transfer_syntax),
        "view_position": view, "is_normal": not lesions, "pixel_spacing_mm": pose.pixel_spacing,
        "voi": encoding.voi, "rescaled": encoding.rescale is not None,
        "dicom_path": str(dicom_path), "report_path": str(report_path),
    })
    rows.regions = [{**keys, "region": name, **_box(box)}
                    for name, box in anatomy.region_boxes(pose).items()]
    rows.findings = [
        {**keys, "finding": lesion.finding, "existence": lesion.existence, "region": lesion.region,
         **_box(pose.box(lesion.extent)), "severity": lesion.severity, "size_mm": lesion.size_mm,
         "device": lesion.device}
        for lesion in lesions
    ]
    negated = dict.fromkeys(
        (statement.finding, region)
        for sentence in report.sentences for statement in sentence.statements
        if statement.existence == "absent" for region in statement.regions
    )
    rows.findings += [
        {**keys, "finding": finding, "existence": "absent", "region": region,
         **dict.fromkeys(("x1", "y1", "x2", "y2", "severity", "size_mm", "device"))}
        for finding, region in negated
    ]
    rows.sentences = [
        {"study_key": identity.key, "sentence_index": index, "section": sentence.section,
         "sentence": sentence.text, "finding": statement.finding,
         "existence": statement.existence, "regions": list(statement.regions)}
        for index, sentence in enumerate(report.sentences) for statement in sentence.statements
    ]
    rows.bytes_written = sum((out_dir / path).stat().st_size for path in (dicom_path, report_path))
    return rows


def _box(box: Box) -> Row:
    return {"x1": box.x1, "y1": box.y1, "x2": box.x2, "y2": box.y2}


def _write_table(out_dir: Path, name: str, results: list[_StudyRows]) -> int:
    rows = [r.study for r in results] if name == "studies" else [
        row for r in results for row in getattr(r, name)
    ]
    target = out_dir / GROUND_TRUTH_DIR / f"{name}.parquet"
    write_parquet_atomically(pa.Table.from_pylist(rows, schema=SCHEMAS[name]), target)
    return target.stat().st_size


def _count(items: Iterable[T], key: Callable[[T], str]) -> dict[str, int]:
    return dict(sorted(Counter(key(item) for item in items).items()))


_TS_NAMES: Final = {
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}

_README: Final = """\
# Synthetic chest radiographs (cxralign embedded default)

**Everything here is synthetic.** Phantom radiographs drawn from geometry, reports written from
templates, fake patient identities. No real patient data. Generated by
`cxralign.synthetic.synthesize(studies={studies}, seed={seed})`; the same arguments give
byte-identical files.

## Layout (MIMIC-CXR)
- `files/pXX/pXXXXXXXX/sXXXXXXXX/<SOPInstanceUID>.dcm`: one frontal image per study (PA or AP).
- `files/pXX/pXXXXXXXX/sXXXXXXXX.txt`: the free-text report of that study.

The DICOM files vary as real archives do: CR/DX, MONOCHROME1/MONOCHROME2, BitsStored 10-16,
Explicit VR Little Endian / JPEG 2000 Lossless / RLE Lossless, optional rescale, window or VOI
LUT, and PHI-like tags (names, dates, IDs, institution) that de-identification must remove.

## Ground truth (`ground_truth/*.parquet`)
Keys: `study_key` is the study folder name (`s5...`), `image_key` the SOPInstanceUID,
`patient_key` the patient folder name (`p1...`). Boxes `x1, y1, x2, y2` are in pixels of the
original DICOM image, x = column, y = row, patient right on image left.

- `regions`: study_key, image_key, region, box. All 29 Chest ImaGenome regions for every image.
- `findings`: study_key, image_key, finding, existence (`present` | `uncertain` | `absent`),
  region (one of the 29, or `unspecified`), box of the drawn lesion (null when absent; for a
  support device, its tip), severity, size_mm (nodule/mass diameter; endotracheal tube tip height
  above the carina), device. Absent rows are the findings the report negates.
- `sentences`: study_key, sentence_index, section (`findings` | `impression`; text under no
  heading counts as findings), sentence (exact text as in the report), finding, existence,
  regions (list). One row per (sentence, finding) the report states. Regions are what the
  sentence's words say, so they may differ from the lesion's `findings` region: edema is drawn
  in the lungs, but a sentence calling it "perihilar" states the hilar structures of that side
  (the Chest ImaGenome convention); "the lungs are clear/free of X" locates X absent in the
  right and left lung, and only "clear" also states opacity absent there.
- `studies`: study_key, patient_key, image_key, rows, columns, modality, photometric,
  bits_stored, transfer_syntax (UID), view_position, is_normal, pixel_spacing_mm, voi
  (`window` | `lut` | `none`), rescaled, dicom_path, report_path (relative to this folder).
"""
