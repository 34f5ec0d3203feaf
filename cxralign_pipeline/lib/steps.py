"""The one wrapper every asset's work runs through: lineage record, DVC commit, data version.

What a step read is not declared here: it is the asset's own ``deps``. For each upstream asset
the step takes the lineage record of the partition(s) it reads (the same batch; every recorded
partition when this asset is not partitioned like its upstream) and links its inputs to exactly
the files, md5s and data version that upstream wrote. A step that reads fewer partitions than
that, chosen by its run config (the report generator reads one encoder of all recipe × seed
models), names them in ``reads``. What a step reads beyond its deps (an incoming batch folder;
a model only some configurations read) is passed as ``sources`` and hashed, linked to the
record that wrote those bytes where there is one (:func:`writer_partition` finds its
partition).

Whether a step needs to run is Dagster's business, not this module's: every materialisation
returns a ``DataVersion`` derived from the md5s of what it wrote, and each asset carries its
stage's ``code_version``. Re-running a step on unchanged inputs writes identical bytes, so its
data version is unchanged and nothing downstream becomes stale; the UI's staleness ("code
version changed", "upstream data changed") and the sensor/schedule decide what to launch. A
step never fakes a materialisation it did not compute.

After the work, when the data directory is the project's ``data/``, the step's DVC stage (the
asset group's name; see :func:`dvc_stage`) is committed to ``dvc.lock``.
"""

import fcntl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import yaml
from pydantic import BaseModel

from cxralign.layout import lineage_dir
from cxralign.lineage.dvc import commit_stages
from cxralign.lineage.records import (
    UNPARTITIONED,
    InputRef,
    latest_record,
    relative_to_data,
    utc_now,
)
from cxralign.lineage.step import Materialisation, Upstream, hashed_inputs, record_materialisation
from cxralign_pipeline.lib.partitions import EMBEDDED_BATCH_PREFIX

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.asset_graph import AssetGraph

TRANSIENT_RETRY = dg.RetryPolicy(
    max_retries=2, delay=1.0, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Retry a step on a transient error (I/O, a busy file, an interrupted worker) after ~1 then
~2 s; longer outages are for run retries (``dagster.yaml``). Errors the step's work raises about
the data itself are turned into ``dg.Failure(allow_retries=False)`` and not retried (Dagster
still retries an invalid config, which fails inside the step, before giving up)."""

PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, FileNotFoundError, TypeError)


@dataclass
class StepOutcome:
    """What the work of a step returns: the paths it wrote (files or folders), Dagster metadata,
    and row counts read / rejected for the lineage record."""

    outputs: Sequence[Path]
    metadata: dict[str, Any] = field(default_factory=dict)
    input_rows: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)


def _partition(context: dg.AssetExecutionContext) -> str | None:
    """The asset's own partition (an unpartitioned asset in a partitioned run has none)."""
    partitioned = context.assets_def.partitions_def is not None
    return context.partition_key if partitioned and context.has_partition_key else None


def _config_values(config: BaseModel | Mapping[str, object] | None) -> dict[str, object]:
    if config is None:
        return {}
    if isinstance(config, BaseModel):
        return config.model_dump(mode="json")
    return dict(config)


def recorded_partitions(data_dir: Path, asset: str) -> list[str | None]:
    """The partitions of ``asset`` that have a lineage record (``None``: unpartitioned)."""
    root = lineage_dir(data_dir) / asset
    if not root.is_dir():
        return []
    return sorted((None if p.name == UNPARTITIONED else p.name for p in root.iterdir() if p.is_dir()),
                  key=lambda name: name or "")


def writer_partition(data_dir: Path, asset: str, path: Path) -> str | None:
    """The recorded partition of ``asset`` whose newest record wrote ``path`` (``None``: no
    record did, e.g. a model trained outside the pipeline)."""
    wanted = relative_to_data(data_dir, path)
    return next((partition for partition in recorded_partitions(data_dir, asset)
                 if (record := latest_record(data_dir, asset, partition)) is not None
                 and wanted in record.output_md5s()), None)


def upstream_inputs(context: dg.AssetExecutionContext, data_dir: Path,
                    reads: Mapping[str, Sequence[str | None]] | None = None,
                    ) -> tuple[InputRef, ...]:
    """What this step reads, from its declared ``deps``: each upstream partition's newest
    lineage record (files, md5s, data version, run). An upstream named in ``reads``
    contributes the partitions listed there (none: it is read as a hashed source instead); one
    partitioned like this asset, the same partition; one partitioned otherwise (all batches
    into one model), every recorded partition; an unpartitioned one, its single record."""
    graph = code_location_graph()
    mine = context.assets_def.partitions_def
    partition = _partition(context)
    reads = reads or {}
    refs = []
    for key in sorted(context.assets_def.asset_deps[context.asset_key], key=lambda k: k.to_user_string()):
        asset = key.to_user_string()
        theirs = graph.get(key).partitions_def
        if asset in reads:
            partitions: list[str | None] = list(reads[asset])
        elif theirs is None:
            partitions = [None]
        elif theirs == mine:
            partitions = [partition]
        else:
            partitions = recorded_partitions(data_dir, asset)
        for upstream_partition in partitions:
            record = latest_record(data_dir, asset, upstream_partition)
            if record is not None:
                refs.append(InputRef(asset=asset, partition=upstream_partition, files=record.outputs,
                                     data_version=record.data_version, run_id=record.run_id))
    return tuple(refs)


def dvc_repo_root(data_dir: Path) -> Path | None:
    """The DVC project whose ``dvc.yaml`` describes ``data_dir`` (the project's own ``data/``);
    ``None`` for any other data directory (tests, scratch copies), which DVC does not track."""
    root = Path(data_dir).resolve().parent
    return root if (root / "dvc.yaml").is_file() and Path(data_dir).resolve() == root / "data" else None


@cache
def code_location_graph() -> "AssetGraph":
    """The whole asset graph of the code location (a run's own job graph holds only the
    assets it selected, so it cannot say whether an asset of the same group comes later)."""
    from cxralign_pipeline.definitions import defs

    return defs.resolve_asset_graph()


def dvc_stage(context: dg.AssetExecutionContext, root: Path) -> str | None:
    """The DVC stage of ``root/dvc.yaml`` this step completes, or ``None``. The stage is the
    asset's group, committed by the group's last asset (earlier ones would leave its outputs
    half-written); an earlier asset commits only a stage named after itself (the anatomy
    detector). Only the embedded phantom batch is in ``dvc.yaml`` (and the unpartitioned
    stages); a recipe × seed partition names its matrix item (``train@asg-0``)."""
    graph = code_location_graph()
    node = graph.get(context.asset_key)
    last = not any(graph.get(child).group_name == node.group_name for child in node.child_keys)
    stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")).get("stages", {})
    name = node.group_name if last else context.asset_key.to_user_string()
    partition = _partition(context)
    if name not in stages:
        return None
    if partition is None:
        return name
    if isinstance(context.partition_key, dg.MultiPartitionKey):
        return f"{name}@{'-'.join(context.partition_key.keys_by_dimension.values())}"
    return name if partition.startswith(EMBEDDED_BATCH_PREFIX) else None


def commit_dvc_stage(root: Path, stage: str) -> str:
    """Commit ``stage`` to ``dvc.lock`` under an exclusive file lock (parallel steps of one run
    would otherwise race for DVC's own lock); return what happened, for metadata."""
    lock_path = root / ".dvc" / "tmp" / "cxralign-commit.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            reason = commit_stages(root, [stage])
        except RuntimeError as error:  # DVC's own message; the data itself was written fine
            return f"commit failed: {error}"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return f"not committed: {reason}" if reason else f"committed {stage}"


def recorded_step(
    context: dg.AssetExecutionContext,
    data_dir: Path,
    config: BaseModel | Mapping[str, object] | None,
    work: Callable[[], StepOutcome],
    sources: Sequence[Upstream] = (),
    reads: Mapping[str, Sequence[str | None]] | None = None,
) -> dg.MaterializeResult:
    """Run ``work``; record its lineage (inputs from the asset's deps, ``reads`` naming the
    partitions of an upstream the step reads where that is not all of them, plus the hashed
    ``sources``), commit its DVC stage, and return metadata with the data version."""
    data_dir = Path(data_dir)
    asset = context.asset_key.to_user_string()
    partition = _partition(context)
    started = utc_now()
    inputs = upstream_inputs(context, data_dir, reads)
    inputs += hashed_inputs(data_dir, sources)

    try:
        outcome = work()
    except PERMANENT_ERRORS as error:
        raise dg.Failure(
            description=f"{asset}[{partition or '-'}] cannot be built from its inputs: {error}",
            allow_retries=False,
        ) from error

    record, record_path = record_materialisation(data_dir, Materialisation(
        asset=asset, partition=partition, inputs=inputs, config=_config_values(config),
        run_id=context.run.run_id, started=started, outputs=outcome.outputs,
        input_rows=outcome.input_rows, rejected=outcome.rejected,
    ))
    metadata: dict[str, dg.RawMetadataValue] = {
        **outcome.metadata,
        "dvc_md5": dg.MetadataValue.json(record.output_md5s()),
        "lineage_record": dg.MetadataValue.path(str(record_path)),
    }
    root = dvc_repo_root(data_dir)
    stage = dvc_stage(context, root) if root is not None else None
    if stage is not None:
        dvc_status = commit_dvc_stage(root, stage)
        log = context.log.warning if dvc_status.startswith("commit failed") else context.log.info
        log(f"dvc: {dvc_status}")
        metadata["dvc_commit"] = dvc_status
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(record.data_version))
