"""Lineage records: one JSON file per (asset, partition) materialisation, as plain data.

A record says what a pipeline step wrote (paths + DVC md5), what it read (upstream asset,
partition, paths + md5, and the data version the upstream step recorded), which code and config
made it, which orchestrator run it belonged to, when, and how many rows went in or were
rejected. Records live under ``<data>/lineage/<asset>/<partition>/`` and are never rewritten,
so the history of every output stays auditable. Nothing here knows about Dagster: an asset (or a
script) builds a ``LineageRecord`` and calls ``write_record``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cxralign.io.atomic import atomic_path
from cxralign.layout import lineage_dir
from cxralign.lineage.dvc import dvc_md5

UNPARTITIONED: Final = "_unpartitioned"
PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]
SCHEMA_VERSION: Final = 1


@dataclass(frozen=True)
class HashedPath:
    """A file or folder and its DVC md5 (``.dir`` suffix for folders). ``path`` is relative to
    the data directory when it lies inside it, so records stay valid when data moves."""

    path: str
    md5: str


@dataclass(frozen=True)
class InputRef:
    """What a step read from one upstream (asset, partition): the files with their md5 and the
    data version that upstream step recorded for them (``None`` when no record produced them)."""

    asset: str
    partition: str | None
    files: tuple[HashedPath, ...]
    data_version: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class CodeVersion:
    """The project's git commit and whether the working tree differed from it (``None`` for
    both outside a git checkout, e.g. an installed wheel)."""

    commit: str | None
    dirty: bool | None


@dataclass(frozen=True)
class LineageRecord:
    """One materialisation of one (asset, partition)."""

    asset: str
    partition: str | None
    outputs: tuple[HashedPath, ...]
    inputs: tuple[InputRef, ...]
    code: CodeVersion
    config: Mapping[str, Any]
    run_id: str
    started_at: str
    finished_at: str
    input_rows: Mapping[str, int] = field(default_factory=dict)
    rejected: Mapping[str, int] = field(default_factory=dict)
    data_version: str = ""
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> LineageRecord:
        raw = json.loads(text)
        raw["outputs"] = tuple(HashedPath(**item) for item in raw["outputs"])
        raw["inputs"] = tuple(
            InputRef(**{**item, "files": tuple(HashedPath(**f) for f in item["files"])})
            for item in raw["inputs"]
        )
        raw["code"] = CodeVersion(**raw["code"])
        return cls(**raw)

    def output_md5s(self) -> dict[str, str]:
        return {item.path: item.md5 for item in self.outputs}

    def input_md5s(self) -> dict[str, str]:
        return {f.path: f.md5 for ref in self.inputs for f in ref.files}

    def seconds(self) -> float:
        return (_parse_time(self.finished_at) - _parse_time(self.started_at)).total_seconds()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def relative_to_data(data_dir: Path, path: Path) -> str:
    """``path`` relative to the data directory when inside it, else absolute (POSIX)."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path(data_dir).resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def resolve_path(data_dir: Path, stored: str) -> Path:
    stored_path = Path(stored)
    return stored_path if stored_path.is_absolute() else Path(data_dir) / stored_path


def hash_paths(data_dir: Path, paths: Iterable[Path]) -> tuple[HashedPath, ...]:
    """DVC md5 of each existing path, sorted by path (missing paths are left out: a step that
    legitimately wrote nothing to one of its tables has nothing to version)."""
    hashed = {
        relative_to_data(data_dir, path): dvc_md5(path) for path in paths if Path(path).exists()
    }
    return tuple(HashedPath(path, md5) for path, md5 in sorted(hashed.items()))


def data_version(outputs: Sequence[HashedPath]) -> str:
    """One version string for a set of outputs: md5 over their sorted ``path md5`` lines, so it
    changes exactly when a path or its content changes."""
    lines = "\n".join(f"{item.path} {item.md5}" for item in sorted(outputs, key=lambda o: o.path))
    return hashlib.md5(lines.encode("utf-8"), usedforsecurity=False).hexdigest()


def code_version(root: Path = PROJECT_ROOT) -> CodeVersion:
    """The git commit of ``root`` and a dirty flag; never raises (no git, no checkout, or a
    broken repository all give ``CodeVersion(None, None)``)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30,
                check=False, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return CodeVersion(None, None)
    status = git("status", "--porcelain", "--untracked-files=no")
    return CodeVersion(commit.strip(), None if status is None else bool(status.strip()))


def record_dir(data_dir: Path, asset: str, partition: str | None) -> Path:
    return lineage_dir(data_dir) / asset / (partition or UNPARTITIONED)


def write_record(data_dir: Path, record: LineageRecord) -> Path:
    """Write ``record`` atomically as ``<finished time>-<run id>.json``; return its path."""
    stamp = _parse_time(record.finished_at).strftime("%Y%m%dT%H%M%S%fZ")
    target = record_dir(data_dir, record.asset, record.partition) / f"{stamp}-{record.run_id}.json"
    with atomic_path(target) as tmp:
        tmp.write_text(record.to_json(), encoding="utf-8")
    return target


def iter_records(data_dir: Path) -> Iterator[LineageRecord]:
    """Every record under ``<data>/lineage``, oldest first within each (asset, partition)."""
    root = lineage_dir(data_dir)
    for path in sorted(root.glob("*/*/*.json")):
        yield LineageRecord.from_json(path.read_text(encoding="utf-8"))


def records_for(data_dir: Path, asset: str, partition: str | None) -> list[LineageRecord]:
    """The records of one (asset, partition), oldest first."""
    directory = record_dir(data_dir, asset, partition)
    return [
        LineageRecord.from_json(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    ]


def latest_record(data_dir: Path, asset: str, partition: str | None) -> LineageRecord | None:
    found = records_for(data_dir, asset, partition)
    return found[-1] if found else None


def producer_of(data_dir: Path, asset: str, partition: str | None,
                files: Sequence[HashedPath]) -> LineageRecord | None:
    """The newest record of (asset, partition) whose outputs include ``files`` with the same
    md5s: the materialisation that wrote what a downstream step read."""
    wanted = {item.path: item.md5 for item in files}
    for record in reversed(records_for(data_dir, asset, partition)):
        outputs = record.output_md5s()
        if all(outputs.get(path) == md5 for path, md5 in wanted.items()):
            return record
    return None


def unchanged_since(data_dir: Path, previous: LineageRecord, inputs: Sequence[InputRef],
                    config: Mapping[str, Any]) -> str | None:
    """Why ``previous`` still stands for the same inputs and config, or ``None`` when the step
    must run: its inputs' md5s, its config and every output's current md5 must all match."""
    current_inputs = {f.path: f.md5 for ref in inputs for f in ref.files}
    if current_inputs != previous.input_md5s():
        return None
    if json.loads(json.dumps(dict(config), default=str)) != json.loads(
            json.dumps(dict(previous.config), default=str)):
        return None
    for item in previous.outputs:
        path = resolve_path(data_dir, item.path)
        if not path.exists() or dvc_md5(path) != item.md5:
            return None
    return (
        f"inputs, config and outputs unchanged since run {previous.run_id} "
        f"({previous.finished_at}); nothing recomputed"
    )
