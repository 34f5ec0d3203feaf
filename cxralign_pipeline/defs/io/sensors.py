"""The incoming-batch sensor: each new folder ``data/incoming/<batch>/`` becomes a ``batches``
partition and one ``process_batch`` run for that partition only.

A run key per batch makes the request idempotent: a batch is processed once (a failed run is
retried by run retries, not re-requested), and batches registered by ``incoming_studies`` but not
yet ingested are picked up too. Folders whose name starts with a dot are in-flight copies (copy
to ``.name`` then rename) and are ignored until renamed.
"""

import dagster as dg

from cxralign_pipeline.defs.io.assets import dicom_images, incoming_batches
from cxralign_pipeline.defs.jobs import process_batch_job
from cxralign_pipeline.lib.partitions import BATCHES
from cxralign_pipeline.lib.resources import CatalogResource

SENSOR_INTERVAL_SECONDS = 60


def batch_run_key(batch: str) -> str:
    return f"batch-{batch}"


@dg.sensor(
    job=process_batch_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def incoming_batch_sensor(
    context: dg.SensorEvaluationContext, catalog: CatalogResource
) -> dg.SensorResult | dg.SkipReason:
    """Register new batch folders as partitions and request a run for each unprocessed one."""
    folders = [folder.name for folder in incoming_batches(catalog.incoming_dir)]
    known = set(context.instance.get_dynamic_partitions(BATCHES.name))
    new = [name for name in folders if name not in known]
    ingested = context.instance.get_materialized_partitions(dicom_images.key)
    waiting = [name for name in folders if name not in ingested]
    if not waiting:
        return dg.SkipReason(
            f"no new batch in {catalog.incoming_dir} ({len(folders)} folders, all ingested)"
        )
    context.log.info(f"new batches: {new}; requesting runs for {waiting}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=name, run_key=batch_run_key(name), tags={"cxralign/batch": name})
            for name in waiting
        ],
        dynamic_partitions_requests=[BATCHES.build_add_request(new)] if new else [],
    )
