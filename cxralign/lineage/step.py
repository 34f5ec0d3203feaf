"""Recording one materialisation, for any runner: a Dagster asset or a ``cxralign`` command.

The runner says what the step read (:class:`Upstream`: asset, partition, paths) and wrote; this
module hashes both, links each input to the record that produced those bytes, and writes the
:class:`~cxralign.lineage.records.LineageRecord`. So ``cxralign audit`` follows a model trained
by ``cxralign pretrain`` exactly as one trained by a Dagster run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cxralign.lineage.records import (
    InputRef,
    LineageRecord,
    code_version,
    data_version,
    hash_paths,
    producer_of,
    utc_now,
    write_record,
)


@dataclass(frozen=True)
class Upstream:
    """Files a step reads from one upstream asset (partition ``None``: unpartitioned)."""

    asset: str
    partition: str | None
    paths: Sequence[Path]


def hashed_inputs(data_dir: Path, upstreams: Sequence[Upstream]) -> tuple[InputRef, ...]:
    """Each upstream's files with their md5, linked to the record that wrote those bytes."""
    refs = []
    for upstream in upstreams:
        files = hash_paths(data_dir, upstream.paths)
        producer = producer_of(data_dir, upstream.asset, upstream.partition, files)
        refs.append(InputRef(
            asset=upstream.asset, partition=upstream.partition, files=files,
            data_version=producer.data_version if producer else None,
            run_id=producer.run_id if producer else None,
        ))
    return tuple(refs)


@dataclass(frozen=True)
class Materialisation:
    """What one run of a step did: read ``inputs`` (hashed before the work), wrote
    ``outputs`` under ``config``, as ``run_id``, from ``started`` on."""

    asset: str
    partition: str | None
    inputs: tuple[InputRef, ...]
    config: Mapping[str, object]
    run_id: str
    started: str
    outputs: Sequence[Path] = ()
    input_rows: Mapping[str, int] = field(default_factory=dict)
    rejected: Mapping[str, int] = field(default_factory=dict)


def record_materialisation(data_dir: Path, done: Materialisation) -> tuple[LineageRecord, Path]:
    """Hash what ``done`` wrote and write its lineage record; returns the record and its file."""
    outputs = hash_paths(data_dir, done.outputs)
    record = LineageRecord(
        asset=done.asset, partition=done.partition, outputs=outputs, inputs=done.inputs,
        code=code_version(), config=dict(done.config), run_id=done.run_id,
        started_at=done.started, finished_at=utc_now(), input_rows=dict(done.input_rows),
        rejected=dict(done.rejected), data_version=data_version(outputs),
    )
    return record, write_record(data_dir, record)
