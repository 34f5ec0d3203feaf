"""The re-training schedule: weekly by default, it requests re-training and re-evaluation only
when batches were processed since the last ``pretrained_model``, and otherwise says why not.

The cron expression comes from ``CXRALIGN_RETRAIN_CRON`` (read when the code location loads);
the default is Mondays 03:00 UTC.
"""

import os
from dataclasses import dataclass

import dagster as dg

from cxralign_pipeline.defs.jobs import retrain_job
from cxralign_pipeline.defs.pairs.assets import region_sentence_pairs
from cxralign_pipeline.lib.partitions import BATCHES

RETRAIN_CRON_ENV = "CXRALIGN_RETRAIN_CRON"
DEFAULT_RETRAIN_CRON = "0 3 * * 1"
MODEL_KEY = dg.AssetKey("pretrained_model")
HISTORY_LIMIT = 10_000


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


def training_backlog(instance: dg.DagsterInstance) -> TrainingBacklog:
    """What changed in the event log since the newest ``pretrained_model`` materialisation.

    A pairs materialisation counts only when it recomputed the partition (``skipped`` false in
    its metadata): an unchanged batch is no reason to re-train.
    """
    model = instance.get_latest_materialization_event(MODEL_KEY)
    since = model.timestamp if model is not None else None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=region_sentence_pairs.key, after_timestamp=since),
        limit=HISTORY_LIMIT,
    ).records
    fresh = set()
    for record in records:
        materialization = record.asset_materialization
        skipped = materialization.metadata.get("skipped") if materialization else None
        if record.partition_key and not (skipped is not None and skipped.value is True):
            fresh.add(record.partition_key)
    paired = instance.get_materialized_partitions(region_sentence_pairs.key)
    pending = [p for p in instance.get_dynamic_partitions(BATCHES.name) if p not in paired]
    return TrainingBacklog(sorted(fresh), pending, since)


@dg.schedule(
    job=retrain_job,
    cron_schedule=retrain_cron(),
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def retrain_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Re-train and re-evaluate when new batches were processed since the last model."""
    backlog = training_backlog(context.instance)
    if not backlog.fresh:
        return dg.SkipReason(f"nothing to re-train on: {backlog.describe()}")
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
    return dg.RunRequest(
        run_key=f"retrain-{tick}",
        tags={"cxralign/reason": backlog.describe()[:200], "cxralign/new_batches": ",".join(backlog.fresh)[:200]},
    )
