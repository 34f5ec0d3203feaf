"""The one wrapper every asset's work runs through: versions, skips, lineage, DVC.

``versioned_step`` hashes what the step reads, and when the (asset, partition)'s last lineage
record saw the same input md5s and config and its outputs still hash the same, it skips the work
and returns the old ``DataVersion`` (so nothing downstream becomes stale). Otherwise it runs the
work, hashes what was written (DVC md5), writes a lineage record, commits the matching DVC
stages when the data directory is the project's, and returns metadata plus a ``DataVersion``
derived from the output md5s.
"""

import fcntl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import BaseModel

from cxralign.lineage.dvc import commit_stages
from cxralign.lineage.records import latest_record, unchanged_since, utc_now
from cxralign.lineage.step import Materialisation, Upstream, hashed_inputs, record_materialisation
from cxralign_pipeline.lib.partitions import EMBEDDED_BATCH_PREFIX

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


def dvc_repo_root(data_dir: Path) -> Path | None:
    """The DVC project whose ``dvc.yaml`` describes ``data_dir`` (the project's own ``data/``);
    ``None`` for any other data directory (tests, scratch copies), which DVC does not track."""
    root = Path(data_dir).resolve().parent
    return root if (root / "dvc.yaml").is_file() and Path(data_dir).resolve() == root / "data" else None


def dvc_stages_for(batch: str | None, *stages: str) -> tuple[str, ...]:
    """The DVC stages to commit after a step on ``batch``: ``dvc.yaml`` describes the embedded
    phantom batch (and the unpartitioned stages), so other batches commit nothing."""
    return stages if batch is None or batch.startswith(EMBEDDED_BATCH_PREFIX) else ()


def commit_dvc_stages(data_dir: Path, stages: Sequence[str]) -> str:
    """Commit ``stages`` to ``dvc.lock`` under an exclusive file lock (parallel steps of one run
    would otherwise race for DVC's own lock); return what happened, for metadata."""
    root = dvc_repo_root(data_dir)
    if root is None:
        return f"not committed: {data_dir} is not the data/ folder of a DVC project"
    lock_path = root / ".dvc" / "tmp" / "cxralign-commit.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            reason = commit_stages(root, stages)
        except RuntimeError as error:  # DVC's own message; the data itself was written fine
            return f"commit failed: {error}"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return f"not committed: {reason}" if reason else f"committed {', '.join(stages)}"


def versioned_step(
    context: dg.AssetExecutionContext,
    data_dir: Path,
    upstreams: Sequence[Upstream],
    config: BaseModel | Mapping[str, object] | None,
    work: Callable[[], StepOutcome],
    dvc_stages: Sequence[str] = (),
    skip_unchanged: bool = True,
) -> dg.MaterializeResult:
    """Run ``work`` unless its inputs, config and outputs are unchanged; record lineage.

    ``skip_unchanged=False`` for steps whose work is not a function of their recorded inputs
    (``incoming_studies`` looks at the folder listing and registers partitions).
    """
    data_dir = Path(data_dir)
    asset = context.asset_key.to_user_string()
    partition = _partition(context)
    started = utc_now()
    inputs = hashed_inputs(data_dir, upstreams)
    values = _config_values(config)

    previous = latest_record(data_dir, asset, partition) if skip_unchanged else None
    reason = unchanged_since(data_dir, previous, inputs, values) if previous else None
    if previous is not None and reason is not None:
        context.log.info(f"{asset}[{partition or '-'}]: {reason}")
        return dg.MaterializeResult(
            metadata={
                "skipped": True,
                "skip_reason": reason,
                "produced_by_run": previous.run_id,
                "dvc_md5": dg.MetadataValue.json(previous.output_md5s()),
                "data_version": previous.data_version,
            },
            data_version=dg.DataVersion(previous.data_version),
        )

    try:
        outcome = work()
    except PERMANENT_ERRORS as error:
        raise dg.Failure(
            description=f"{asset}[{partition or '-'}] cannot be built from its inputs: {error}",
            allow_retries=False,
        ) from error

    record, record_path = record_materialisation(data_dir, Materialisation(
        asset=asset, partition=partition, inputs=inputs, config=values,
        run_id=context.run.run_id, started=started, outputs=outcome.outputs,
        input_rows=outcome.input_rows, rejected=outcome.rejected,
    ))
    version = record.data_version
    metadata: dict[str, dg.RawMetadataValue] = {
        "skipped": False,
        **outcome.metadata,
        "dvc_md5": dg.MetadataValue.json(record.output_md5s()),
        "data_version": version,
        "lineage_record": dg.MetadataValue.path(str(record_path)),
    }
    if dvc_stages:
        dvc_status = commit_dvc_stages(data_dir, dvc_stages)
        log = context.log.warning if dvc_status.startswith("commit failed") else context.log.info
        log(f"dvc: {dvc_status}")
        metadata["dvc_commit"] = dvc_status
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(version))
