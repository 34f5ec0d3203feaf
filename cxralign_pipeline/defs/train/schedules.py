"""The re-training schedule: weekly by default, it requests one run per recipe × seed only when
batches changed since the last ``pretrained_model``, and otherwise says why not.

The cron expression comes from ``CXRALIGN_RETRAIN_CRON`` (read when the code location loads);
the default is Mondays 03:00 UTC.
"""

import os
from dataclasses import dataclass

import dagster as dg

from cxralign_pipeline.defs.jobs import retrain_job
from cxralign_pipeline.defs.pairs.assets import region_sentence_pairs
from cxralign_pipeline.lib.partitions import BATCHES, TRAINING_RUNS

RETRAIN_CRON_ENV = "CXRALIGN_RETRAIN_CRON"
DEFAULT_RETRAIN_CRON = "0 3 * * 1"
MODEL_KEY = dg.AssetKey("pretrained_model")
HISTORY_LIMIT = 10_000
DATA_VERSION_TAG = "dagster/data_version"


def retrain_cron() -> str:
    """The schedule's cron expression: ``$CXRALIGN_RETRAIN_CRON`` or weekly."""
    return os.environ.get(RETRAIN_CRON_ENV, "").strip() or DEFAULT_RETRAIN_CRON


@dataclass(frozen=True)
class TrainingBacklog:
    """Batches whose pairs changed since the last model (``fresh``), batches registered but
    never paired (``pending``), and when the last model was made (``None``: never)."""

    fresh: list[str]
    pending: list[str]
    model_timestamp: float | None

    def describe(self) -> str:
        since = "no model yet" if self.model_timestamp is None else "since the last pretrained_model"
        parts = [f"{len(self.fresh)} batch(es) processed {since}"]
        if self.fresh:
            parts[0] += f": {', '.join(self.fresh)}"
        if self.pending:
            parts.append(f"{len(self.pending)} registered batch(es) not yet processed: {', '.join(self.pending)}")
        return "; ".join(parts)


def _data_version(record: dg.EventLogRecord) -> str | None:
    materialization = record.asset_materialization
    return materialization.tags.get(DATA_VERSION_TAG) if materialization else None


def training_backlog(instance: dg.DagsterInstance) -> TrainingBacklog:
    """Which batches' pairs changed since the newest ``pretrained_model`` materialisation.

    A batch counts when its pairs were materialised since then with a data version other than
    the one it had when that model was trained: re-running an unchanged batch writes the same
    bytes, hence the same data version, and is no reason to re-train.
    """
    model = instance.get_latest_materialization_event(MODEL_KEY)
    since = model.timestamp if model is not None else None
    pairs = region_sentence_pairs.key
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=pairs, after_timestamp=since), limit=HISTORY_LIMIT,
    ).records
    fresh = set()
    for partition in {record.partition_key for record in records if record.partition_key}:
        latest = max((r for r in records if r.partition_key == partition), key=lambda r: r.timestamp)
        before = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=pairs, asset_partitions=[partition],
                                  before_timestamp=since), limit=1,
        ).records if since is not None else []
        if not before or _data_version(before[0]) != _data_version(latest):
            fresh.add(partition)
    paired = instance.get_materialized_partitions(pairs)
    pending = [p for p in instance.get_dynamic_partitions(BATCHES.name) if p not in paired]
    return TrainingBacklog(sorted(fresh), pending, since)


@dg.schedule(
    job=retrain_job,
    cron_schedule=retrain_cron(),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def retrain_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
    """Re-train every recipe × seed when batches changed since the last model; the evaluation
    follows on its own once the runs are done (its automation condition)."""
    backlog = training_backlog(context.instance)
    if not backlog.fresh:
        return dg.SkipReason(f"nothing to re-train on: {backlog.describe()}")
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
    tags = {"cxralign/reason": backlog.describe()[:200],
            "cxralign/new_batches": ",".join(backlog.fresh)[:200]}
    return [dg.RunRequest(run_key=f"retrain-{tick}-{key}", partition_key=key, tags=tags)
            for key in TRAINING_RUNS.get_partition_keys()]
