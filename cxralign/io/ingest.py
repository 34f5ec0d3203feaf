"""``ingest``: incoming studies -> de-identified ``images``/``reports``/``rejected_inputs`` tables
and staged pixel shards, for one partition (batch).

Work is split into chunks of at most ``shard_size`` images. Chunking depends only on the
inputs, never on the worker count, so any ``workers`` value produces identical output. Each
chunk is one task of a process pool: the worker decodes, stages and writes its own shard and
returns only metadata rows, and at most ``workers * chunks_in_flight_per_worker`` chunks are
outstanding, so memory is bounded by the chunk size, not by the batch size. Tables are written
through the Catalog (atomic per file) only after every shard exists.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, cast

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field

from cxralign.io.acceptance import BURNED_IN_POLICIES
from cxralign.io.catalog import Catalog
from cxralign.io.date_shift import date_offset, shift
from cxralign.io.deid import pseudonymize
from cxralign.io.dicom import load_dicom
from cxralign.io.layouts import ReportSource, Study, discover, is_raster, relative_source
from cxralign.io.locking import generation_in_use
from cxralign.io.phi_text import scrub_report
from cxralign.io.preprocess import MAX_PIXELS, LoadedImage
from cxralign.io.raster import load_raster
from cxralign.io.rejections import Flag, Reason, RejectedInput, Rejection, rejected_table
from cxralign.io.reports import ReportText, inline_report, read_openi_report, read_text_report
from cxralign.io.secret_key import KEY_ENV_VAR, resolve_key
from cxralign.io.splits import SPLITS, assign_split
from cxralign.io.staging import generation_dir, remove_stale_shards, shard_path, write_shard
from cxralign.io.workers import worker_pool
from cxralign.progress import Progress, emitter

logger = logging.getLogger(__name__)

# Enough chunks to keep a pool busy and balanced on small batches; large batches are capped by
# shard_size instead. A constant (not the worker count) so output never depends on workers.
TARGET_CHUNKS: Final = 32

IMAGES_SCHEMA: Final = pa.schema(
    [
        ("image_id", pa.string()),
        ("study_id", pa.string()),
        ("patient_id", pa.string()),
        ("source_path_hash", pa.string()),
        ("source_format", pa.string()),
        ("modality", pa.string()),
        ("view_position", pa.string()),
        ("photometric", pa.string()),
        ("bits_stored", pa.int32()),
        ("rows", pa.int32()),
        ("columns", pa.int32()),
        ("pixel_spacing", pa.list_(pa.float64())),
        ("sha256", pa.string()),
        ("staged_path", pa.string()),
        ("staged_index", pa.int32()),
        ("staged_scale", pa.float64()),
        ("split", pa.string()),
        ("quality_flags", pa.list_(pa.string())),
        ("study_date", pa.date32()),
    ]
)
REPORTS_SCHEMA: Final = pa.schema(
    [
        ("study_id", pa.string()),
        ("patient_id", pa.string()),
        ("report_text", pa.string()),
        ("report_format", pa.string()),
        ("source_path_hash", pa.string()),
        ("image_count", pa.int32()),
        ("source_labels", pa.list_(pa.string())),
        ("quality_flags", pa.list_(pa.string())),
        ("study_date", pa.date32()),
    ]
)


class IngestSettings(BaseModel):
    """Ingestion configuration: the single source of truth for its defaults.

    Plain field types only: the Dagster asset config subclasses this model.
    """

    staged_size: int = Field(
        default=256,
        description="Side S of the staged S x S uint8 arrays (the CLI's --image-size); the "
        "longest image side is resampled to S and the image is anchored top-left (scale = S / "
        "max(rows, columns)). Not a model's input side: pre-training resamples the staged "
        "square to its recipe's image_size.",
    )
    workers: int = Field(
        default=0,
        description="Worker processes; 0 uses every available core, 1 runs in-process.",
    )
    shard_size: int = Field(
        default=256,
        description="Most images per chunk of work and per staged .npy shard.",
    )
    chunks_in_flight_per_worker: int = Field(
        default=2,
        description="Chunks submitted but not finished, per worker: bounds parent memory.",
    )
    layout: str = Field(
        default="auto",
        description="Input layout: auto, mimic, openi, csv or files (every DICOM/PNG/JPEG).",
    )
    min_side: int = Field(
        default=64, description="Images with a side shorter than this are rejected."
    )
    max_side: int = Field(
        default=8192, description="Images with a side longer than this are rejected."
    )
    max_pixels: int = Field(
        default=MAX_PIXELS,
        description="Images with more pixels than this (read from the header, before "
        "decoding) are rejected.",
    )
    burned_in_annotation: str = Field(
        default="reject",
        description="DICOM files with BurnedInAnnotation YES, whose pixels may show PHI: "
        "'reject' them, or keep them with a 'flag'.",
    )
    worker_memory_mb: int = Field(
        default=4096,
        description="Address-space cap per worker process (0: none); a file that needs more "
        "is rejected as out_of_memory. Not applied when workers is 1 (in-process).",
    )
    decoding_plugin: str = Field(
        default="",
        description="Force one pydicom pixel decoding plugin (gdcm, pylibjpeg, pillow); empty "
        "picks the measured-fastest installed plugin per transfer syntax.",
    )
    validate_fraction: float = Field(
        default=0.1, description="Share of patients assigned to the validate split."
    )
    test_fraction: float = Field(
        default=0.1, description="Share of patients assigned to the test split."
    )
    deid_key_env: str = Field(
        default=KEY_ENV_VAR,
        description="Name of the environment variable holding the pseudonymisation key (the "
        "key itself never goes into config); unset uses the key file <data>/.secrets/deid.key, "
        "created on first use.",
    )

    def validated(self) -> IngestSettings:
        """Raise ValueError on settings no ingestion can run with; return self."""
        problems = [
            message
            for failed, message in (
                (self.staged_size < 16, "staged_size must be at least 16"),
                (self.workers < 0, "workers must be >= 0"),
                (self.shard_size < 1, "shard_size must be >= 1"),
                (self.chunks_in_flight_per_worker < 1, "chunks_in_flight_per_worker must be >= 1"),
                (not 1 <= self.min_side <= self.max_side, "need 1 <= min_side <= max_side"),
                (self.max_pixels < self.min_side**2, "max_pixels must be >= min_side**2"),
                (self.burned_in_annotation not in BURNED_IN_POLICIES,
                 f"burned_in_annotation must be one of {BURNED_IN_POLICIES}"),
                (self.worker_memory_mb < 0, "worker_memory_mb must be >= 0"),
                (
                    not (0 <= self.validate_fraction and 0 <= self.test_fraction
                         and self.validate_fraction + self.test_fraction <= 1),
                    "split fractions must be >= 0 and sum to at most 1",
                ),
            )
            if failed
        ]
        if problems:
            raise ValueError("invalid ingest settings: " + "; ".join(problems))
        return self


@dataclass(frozen=True)
class IngestSummary:
    """What one ``ingest`` call did; ``as_metadata`` gives Dagster-ready plain values."""

    partition: str
    layout: str
    images: int
    studies: int
    reports: int
    rejected: dict[str, int]
    quality_flags: dict[str, int]
    splits: dict[str, int]
    shards: int
    workers: int
    staged_size: int
    seconds: float
    images_per_second: float

    def as_metadata(self) -> dict[str, object]:
        return {
            "partition": self.partition,
            "layout": self.layout,
            "images": self.images,
            "studies": self.studies,
            "reports": self.reports,
            "rejected_total": sum(self.rejected.values()),
            "rejected_by_reason": dict(self.rejected),
            "quality_flags": dict(self.quality_flags),
            "splits": dict(self.splits),
            "shards": self.shards,
            "workers": self.workers,
            "staged_size": self.staged_size,
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.images_per_second, 2),
        }


@dataclass(frozen=True)
class _Item:
    """One image to stage; keys are raw source identifiers (pseudonymised in the worker)."""

    path: Path
    relative: str
    study_key: str | None
    patient_key: str | None


@dataclass(frozen=True)
class _Chunk:
    shard: int
    items: tuple[_Item, ...]
    catalog_root: Path
    partition: str
    generation: str
    key: bytes
    staged_size: int
    min_side: int
    max_side: int
    decoding_plugin: str
    max_pixels: int
    burned_in_annotation: str
    validate_fraction: float
    test_fraction: float


@dataclass
class _ChunkResult:
    shard: int
    images: list[dict[str, object]] = field(default_factory=list)
    rejected: list[RejectedInput] = field(default_factory=list)
    # study_id -> header names/IDs, kept in memory only, to scrub that study's report.
    identifying: dict[str, set[str]] = field(default_factory=dict)


def ingest(
    input_dir: Path,
    catalog: Catalog,
    settings: IngestSettings,
    partition: str = "default",
    progress: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Ingest every study under ``input_dir`` (a folder, or a CSV manifest) into ``partition``."""
    started = time.perf_counter()
    settings.validated()
    say = emitter(progress)
    input_dir = Path(input_dir)
    if not input_dir.exists():
        raise FileNotFoundError("the input folder or manifest does not exist")
    catalog.partition_path("images", partition)  # validates the partition name up front
    key = resolve_key(catalog.root, settings.deid_key_env)
    base = input_dir.parent if input_dir.is_file() else input_dir

    layout, studies = discover(input_dir, settings.layout)
    items = [
        _Item(path, _relative(path, base), study.key, study.patient_key)
        for study in studies
        for path in study.images
    ]
    say(f"{layout} layout: {len(studies)} studies, {len(items)} image files")
    generation = _generation(items, settings)
    chunks = _chunks(items, settings, catalog.root, partition, generation, key)
    workers = _worker_count(settings.workers, len(chunks))
    with contextlib.ExitStack() as stack:
        with catalog.locked():  # a cleanup running now finishes first, later ones see the mark
            stack.enter_context(
                generation_in_use(generation_dir(catalog.root, partition, generation))
            )
        results = _run(chunks, workers, settings, len(items), say)

        image_rows, rejected, identifying = _merge(results)
        report_rows, report_rejects = _report_rows(studies, base, key, identifying, image_rows)
        rejected.extend(report_rejects)

        shards = {str(row["staged_path"]) for row in image_rows}
        with catalog.locked():  # the three tables and the cleanup are one commit
            for name, rows, schema in (("images", image_rows, IMAGES_SCHEMA),
                                       ("reports", report_rows, REPORTS_SCHEMA)):
                catalog.write_table(name, pa.Table.from_pylist(rows, schema=schema), partition)
            catalog.write_table("rejected_inputs", rejected_table(rejected), partition)
            remove_stale_shards(catalog.root, partition, shards, generation)

    seconds = time.perf_counter() - started
    summary = IngestSummary(
        partition=partition,
        layout=layout,
        images=len(image_rows),
        studies=len({r["study_id"] for r in image_rows} | {r["study_id"] for r in report_rows}),
        reports=len(report_rows),
        rejected=dict(sorted(Counter(r.reason for r in rejected).items())),
        quality_flags=dict(sorted(Counter(
            flag for row in [*image_rows, *report_rows] for flag in row["quality_flags"]
        ).items())),
        splits={s: sum(1 for r in image_rows if r["split"] == s) for s in SPLITS},
        shards=len(shards),
        workers=workers,
        staged_size=settings.staged_size,
        seconds=seconds,
        images_per_second=len(image_rows) / seconds if seconds > 0 else 0.0,
    )
    logger.info(
        "ingested partition %s: %d images, %d reports, %d rejected in %.1f s",
        partition, summary.images, summary.reports, len(rejected), seconds,
    )
    return summary


def _relative(path: Path, base: Path) -> str:
    return relative_source(path, base)


def _generation(items: list[_Item], settings: IngestSettings) -> str:
    """A digest of what determines the shards' bytes: the input files and the settings (not
    how many processes do the work)."""
    execution_only = {"workers", "chunks_in_flight_per_worker"}
    digest = hashlib.sha256(settings.model_dump_json(exclude=execution_only).encode())
    for item in items:
        try:
            stat = item.path.stat()
            state = f"{stat.st_size}\0{stat.st_mtime_ns}"
        except OSError:  # rejected later, with a reason, by the worker that tries to read it
            state = "unreadable"
        digest.update(f"{item.relative}\0{state}\n".encode())
    return digest.hexdigest()[:12]


def _chunks(
    items: list[_Item],
    settings: IngestSettings,
    root: Path,
    partition: str,
    generation: str,
    key: bytes,
) -> list[_Chunk]:
    size = min(settings.shard_size, max(1, math.ceil(len(items) / TARGET_CHUNKS)))
    return [
        _Chunk(
            shard=number,
            items=tuple(items[start : start + size]),
            catalog_root=Path(root),
            partition=partition,
            generation=generation,
            key=key,
            staged_size=settings.staged_size,
            min_side=settings.min_side,
            max_side=settings.max_side,
            decoding_plugin=settings.decoding_plugin,
            max_pixels=settings.max_pixels,
            burned_in_annotation=settings.burned_in_annotation,
            validate_fraction=settings.validate_fraction,
            test_fraction=settings.test_fraction,
        )
        for number, start in enumerate(range(0, len(items), size))
    ]


def _worker_count(requested: int, chunks: int) -> int:
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(requested or available or 1, chunks))


def _run(
    chunks: list[_Chunk],
    workers: int,
    settings: IngestSettings,
    total: int,
    say: Callable[[str], None],
) -> list[_ChunkResult]:
    """Stage every chunk, in-process for one worker, else in a bounded process pool."""
    results: list[_ChunkResult] = []
    meter = Progress(total, "staging image files", emit=say)

    def collect(result: _ChunkResult, chunk: _Chunk) -> None:
        results.append(result)
        meter.advance(len(chunk.items))

    if workers <= 1:
        for chunk in chunks:
            collect(_stage_chunk(chunk), chunk)
        return results

    pending: dict[Future[_ChunkResult], _Chunk] = {}
    queue: Iterator[_Chunk] = iter(chunks)
    with worker_pool(workers, settings.worker_memory_mb, __name__) as pool:
        for chunk in _take(queue, workers * settings.chunks_in_flight_per_worker):
            pending[pool.submit(_stage_chunk, chunk)] = chunk
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                collect(future.result(), pending.pop(future))
                for chunk in _take(queue, 1):
                    pending[pool.submit(_stage_chunk, chunk)] = chunk
    return sorted(results, key=lambda result: result.shard)


def _take(iterator: Iterator[_Chunk], count: int) -> Iterable[_Chunk]:
    for _ in range(count):
        chunk = next(iterator, None)
        if chunk is None:
            return
        yield chunk


def _stage_chunk(chunk: _Chunk) -> _ChunkResult:
    """Worker: decode and stage a chunk's images, write its shard, return metadata rows only."""
    result = _ChunkResult(chunk.shard)
    arrays = np.zeros((len(chunk.items), chunk.staged_size, chunk.staged_size), dtype=np.uint8)
    relative_shard = shard_path(chunk.partition, chunk.generation, chunk.shard)
    for item in chunk.items:
        path_hash = pseudonymize("path", item.relative, chunk.key)
        try:
            loaded = _load(item.path, chunk)
        except Rejection as rejection:
            result.rejected.append(RejectedInput(path_hash, rejection.reason, rejection.detail))
            if item.study_key is not None:
                study_id = pseudonymize("study", item.study_key, chunk.key)
                result.identifying.setdefault(study_id, set()).update(rejection.identifying)
            continue
        except Exception as error:  # noqa: BLE001 - a bug must not stop the batch
            name = type(error).__name__
            logger.error("internal error staging source %s: %s", path_hash, name)
            result.rejected.append(
                RejectedInput(path_hash, Reason.INTERNAL_ERROR, f"unexpected {name} while staging")
            )
            continue
        index = len(result.images)
        arrays[index] = loaded.staged
        row = _image_row(item, loaded, path_hash, chunk)
        row.update(staged_path=relative_shard, staged_index=index)
        result.images.append(row)
        result.identifying.setdefault(str(row["study_id"]), set()).update(loaded.identifying)
    if result.images:
        write_shard(chunk.catalog_root, relative_shard, arrays[: len(result.images)])
    return result


def _load(path: Path, chunk: _Chunk) -> LoadedImage:
    if is_raster(path):
        return load_raster(
            path, chunk.staged_size, chunk.min_side, chunk.max_side, max_pixels=chunk.max_pixels
        )
    return load_dicom(
        path, chunk.staged_size, chunk.min_side, chunk.max_side, chunk.decoding_plugin,
        max_pixels=chunk.max_pixels, burned_in=chunk.burned_in_annotation,
    )


def _image_row(item: _Item, image: LoadedImage, path_hash: str, chunk: _Chunk) -> dict[str, object]:
    """The allow-listed ``images`` row; raw keys are pseudonymised here and go no further."""
    study_key = item.study_key or image.source_study_uid or Path(item.relative).stem
    patient_key = item.patient_key or image.source_patient_id or study_key
    patient_id = pseudonymize("patient", patient_key, chunk.key)
    return {
        "image_id": pseudonymize("image", image.source_instance_uid or item.relative, chunk.key),
        "study_id": pseudonymize("study", study_key, chunk.key),
        "patient_id": patient_id,
        "source_path_hash": path_hash,
        "source_format": image.source_format,
        "modality": image.modality,
        "view_position": image.view_position,
        "photometric": image.photometric,
        "bits_stored": image.bits_stored,
        "rows": image.rows,
        "columns": image.columns,
        "pixel_spacing": list(image.pixel_spacing) if image.pixel_spacing else None,
        "sha256": image.sha256,
        "staged_scale": image.scale,
        "split": assign_split(patient_id, chunk.validate_fraction, chunk.test_fraction),
        "quality_flags": list(image.flags),
        "study_date": shift(image.source_date, date_offset(patient_id, chunk.key)),
    }


def _merge(
    results: list[_ChunkResult],
) -> tuple[list[dict[str, object]], list[RejectedInput], dict[str, set[str]]]:
    """Concatenate chunk results in shard order; later copies of an image_id are rejected, and
    later files with the same decoded pixels (SHA-256) as an earlier one are flagged."""
    images: list[dict[str, object]] = []
    rejected: list[RejectedInput] = []
    identifying: dict[str, set[str]] = {}
    seen: set[object] = set()
    pixels_seen: set[object] = set()
    for result in results:
        rejected.extend(result.rejected)
        for study_id, values in result.identifying.items():
            identifying.setdefault(study_id, set()).update(values)
        for row in result.images:
            if row["image_id"] in seen:
                rejected.append(
                    RejectedInput(
                        str(row["source_path_hash"]),
                        Reason.DUPLICATE_IMAGE,
                        "the same image instance was already ingested from another file",
                    )
                )
                continue
            seen.add(row["image_id"])
            if row["sha256"] in pixels_seen:
                row["quality_flags"] = [*cast(list[str], row["quality_flags"]),
                                        Flag.DUPLICATE_PIXELS]
            pixels_seen.add(row["sha256"])
            images.append(row)
    return images, rejected, identifying


def _report_rows(
    studies: list[Study],
    base: Path,
    key: bytes,
    identifying: dict[str, set[str]],
    image_rows: list[dict[str, object]],
) -> tuple[list[dict[str, object]], list[RejectedInput]]:
    """Read, scrub and describe each study's report; quarantine missing or unreadable ones."""
    image_counts = Counter(str(row["study_id"]) for row in image_rows)
    # Each study's image patient and date (dated rows last, so they win): the report's dates
    # shift by the same patient offset as its images' study_date.
    imaged = {
        row["study_id"]: (str(row["patient_id"]), row["study_date"])
        for row in sorted(image_rows, key=lambda row: row["study_date"] is not None)
    }
    rows: list[dict[str, object]] = []
    rejected: list[RejectedInput] = []
    for study in studies:
        if study.key is None or not (study.expects_report or study.report):
            continue
        study_id = pseudonymize("study", study.key, key)
        origin = _relative(study.report.path, base) if study.report and study.report.path else (
            f"{study.key}#report"
        )
        path_hash = pseudonymize("path", origin, key)
        try:
            report = _read_report(study.report)
        except Rejection as rejection:
            rejected.append(RejectedInput(path_hash, rejection.reason, rejection.detail))
            continue
        patient_id = pseudonymize("patient", study.patient_key or study.key, key)
        image_patient, study_date = imaged.get(study_id, (patient_id, None))
        scrubbed = scrub_report(
            report.text, identifying.get(study_id, ()), date_offset(image_patient, key)
        )
        flags = list(report.flags)
        if scrubbed.count:
            flags.append(Flag.REPORT_PHI_SCRUBBED)
        if not image_counts[study_id]:
            flags.append(Flag.REPORT_WITHOUT_IMAGES)
        rows.append(
            {
                "study_id": study_id,
                "patient_id": patient_id,
                "report_text": scrubbed.text,
                "report_format": study.report.format if study.report else None,
                "source_path_hash": path_hash,
                "image_count": image_counts[study_id],
                "source_labels": list(report.labels),
                "quality_flags": flags,
                "study_date": study_date,
            }
        )
    return rows, rejected


def _read_report(source: ReportSource | None) -> ReportText:
    if source is None:
        raise Rejection(Reason.REPORT_MISSING, "the study has no report")
    if source.format == "openi_xml" and source.path is not None:
        return read_openi_report(source.path)
    if source.path is not None:
        if not source.path.is_file():
            raise Rejection(Reason.REPORT_MISSING, "the study's report file does not exist")
        return read_text_report(source.path)
    return inline_report(source.text or "")
