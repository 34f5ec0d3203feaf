"""The audit trail of an output: which materialisations, in which order, produced it.

Starting from the lineage records whose outputs are the target (a model directory, any path
under ``data/``, or a catalog table name), each record's inputs are followed to the record that
wrote exactly those bytes (same path, same md5), back to the incoming data. The chain is printed
upstream first, with hashes, code version, config, run id, times and row counts per step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cxralign.layout import lineage_dir
from cxralign.lineage.records import (
    LineageRecord,
    iter_records,
    latest_record,
    producer_of,
    relative_to_data,
)


@dataclass(frozen=True)
class AuditStep:
    """One materialisation in the chain and the steps (indices into the chain) it read from."""

    record: LineageRecord
    upstream: tuple[int, ...]


def _covers(output: str, target: str) -> bool:
    """An output path that is the target, contains it, or lies inside it."""
    return output == target or target.startswith(output + "/") or output.startswith(target + "/")


def target_records(data_dir: Path, target: str) -> list[LineageRecord]:
    """The newest record per (asset, partition) whose outputs are ``target``: a path (file or
    folder, absolute or relative to the data directory) or a table name (``staged/<table>/``)."""
    data_dir = Path(data_dir)
    candidate = Path(target)
    if candidate.exists():
        prefix = relative_to_data(data_dir, candidate)
    elif "/" in target:  # a path as the records store it (relative to the data directory)
        prefix = target.rstrip("/")
    else:
        prefix = f"staged/{target}"
    newest: dict[tuple[str, str | None], LineageRecord] = {}
    for record in iter_records(data_dir):
        if any(_covers(o.path, prefix) for o in record.outputs):
            newest[(record.asset, record.partition)] = record  # iter_records is oldest first
    return sorted(newest.values(), key=lambda r: (r.asset, r.partition or ""))


def audit_chain(data_dir: Path, target: str) -> list[AuditStep]:
    """Every materialisation that led to ``target``, upstream first (a topological order)."""
    data_dir = Path(data_dir)
    start = target_records(data_dir, target)
    if not start:
        raise LookupError(f"no lineage record under {lineage_dir(data_dir)} produced {target!r}")

    def key(record: LineageRecord) -> tuple[str, str | None, str]:
        return (record.asset, record.partition, record.run_id)

    found: dict[tuple[str, str | None, str], LineageRecord] = {}
    edges: dict[tuple[str, str | None, str], list[tuple[str, str | None, str]]] = {}
    stack = list(start)
    while stack:
        record = stack.pop()
        if key(record) in found:
            continue
        found[key(record)] = record
        parents = []
        for ref in record.inputs:
            parent = producer_of(data_dir, ref.asset, ref.partition, ref.files)
            if parent is None and not ref.files:
                parent = latest_record(data_dir, ref.asset, ref.partition)
            if parent is not None:
                parents.append(key(parent))
                stack.append(parent)
        edges[key(record)] = parents

    order: list[tuple[str, str | None, str]] = []
    visiting: set[tuple[str, str | None, str]] = set()

    def visit(node: tuple[str, str | None, str]) -> None:
        if node in order or node in visiting:
            return
        visiting.add(node)
        for parent in sorted(edges[node], key=lambda k: (found[k].finished_at, k[0])):
            visit(parent)
        order.append(node)

    for node in sorted(found, key=lambda k: (found[k].finished_at, k[0])):
        visit(node)
    index = {node: position for position, node in enumerate(order)}
    return [AuditStep(found[node], tuple(index[p] for p in edges[node])) for node in order]


def _code(record: LineageRecord) -> str:
    if record.code.commit is None:
        return "unknown (not a git checkout)"
    return record.code.commit[:12] + (" (dirty working tree)" if record.code.dirty else "")


def _counts(values: dict[str, int] | object) -> str:
    items = dict(values)  # type: ignore[call-overload]
    return ", ".join(f"{k}={v}" for k, v in sorted(items.items())) or "-"


def _config(record: LineageRecord) -> str:
    return json.dumps(dict(record.config), sort_keys=True) if record.config else "{}"


def _inputs(record: LineageRecord) -> Iterable[str]:
    for ref in record.inputs:
        where = f"{ref.asset}[{ref.partition}]" if ref.partition else ref.asset
        version = f"data version {ref.data_version}" if ref.data_version else "no recorded producer"
        yield f"{where} ({version}, run {ref.run_id or '-'})"
        for item in ref.files:
            yield f"    {item.path}  md5 {item.md5}"


def format_text(steps: list[AuditStep]) -> str:
    """The chain as plain text for a terminal."""
    lines = []
    for number, step in enumerate(steps, start=1):
        r = step.record
        title = f"[{number}] {r.asset}" + (f"  partition={r.partition}" if r.partition else "")
        reads = ", ".join(f"[{i + 1}]" for i in step.upstream) or "-"
        lines += [
            title,
            f"    run        {r.run_id}",
            f"    time       {r.started_at} -> {r.finished_at} ({r.seconds():.1f} s)",
            f"    code       {_code(r)}",
            f"    config     {_config(r)}",
            f"    rows in    {_counts(r.input_rows)}; rejected {_counts(r.rejected)}",
            f"    reads      {reads}",
            "    inputs",
            *(f"      {line}" for line in _inputs(r)),
            f"    outputs    (data version {r.data_version})",
            *(f"      {o.path}  md5 {o.md5}" for o in r.outputs),
            "",
        ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(steps: list[AuditStep], target: str) -> str:
    """The chain as Markdown for a paper appendix: a summary table, then one section per step."""
    lines = [
        f"# Provenance of `{target}`",
        "",
        "| # | asset | partition | run | code | finished (UTC) | rows in | rejected | reads |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for number, step in enumerate(steps, start=1):
        r = step.record
        reads = ", ".join(str(i + 1) for i in step.upstream) or "-"
        lines.append(
            f"| {number} | `{r.asset}` | {r.partition or '-'} | `{r.run_id[:8]}` | `{_cell(_code(r))}` "
            f"| {r.finished_at} | {_cell(_counts(r.input_rows))} | {_cell(_counts(r.rejected))} | {reads} |"
        )
    for number, step in enumerate(steps, start=1):
        r = step.record
        lines += [
            "",
            f"## {number}. `{r.asset}`" + (f" (partition `{r.partition}`)" if r.partition else ""),
            "",
            f"- Dagster run: `{r.run_id}`; {r.started_at} to {r.finished_at} ({r.seconds():.1f} s)",
            f"- Code: `{_code(r)}`",
            f"- Config: `{_config(r)}`",
            f"- Data version: `{r.data_version}`",
            "",
            "| role | path | DVC md5 |",
            "|---|---|---|",
            *(f"| input ({ref.asset}) | `{f.path}` | `{f.md5}` |" for ref in r.inputs for f in ref.files),
            *(f"| output | `{o.path}` | `{o.md5}` |" for o in r.outputs),
        ]
    return "\n".join(lines) + "\n"
