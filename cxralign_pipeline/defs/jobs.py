"""Jobs: one batch's partition chain, and one pre-training run (recipe × seed partition).

Both carry run-retry tags: with ``run_retries`` enabled in ``dagster.yaml`` a run whose worker
crashed is retried from the failed step; failures inside a step are retried by the assets' own
``RetryPolicy`` (``cxralign_pipeline.lib.steps.TRANSIENT_RETRY``).
"""

import dagster as dg

RUN_RETRY_TAGS = {"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE"}

RETRAIN_GROUPS = ("train", "eval", "generate")
"""Groups that read every batch: never part of a batch's run."""

BATCH_SELECTION = (
    dg.AssetSelection.assets("dicom_images").downstream()
    - dg.AssetSelection.groups(*RETRAIN_GROUPS)
)
"""The assets partitioned by ``batches``: ingestion and every per-batch stage after it (a new
stage folder downstream of ``dicom_images`` joins without being listed here)."""

process_batch_job = dg.define_asset_job(
    "process_batch",
    selection=BATCH_SELECTION,
    tags=RUN_RETRY_TAGS,
    description="Ingest one incoming batch (partition) and carry it through text, anatomy boxes "
    "and region-sentence pairs; other batches are not read.",
)

retrain_job = dg.define_asset_job(
    "retrain",
    selection=dg.AssetSelection.groups("train"),
    tags=RUN_RETRY_TAGS,
    description="Pre-train one recipe × seed (the run's partition) on every processed batch; "
    "downstream_evaluation follows when no run is left in progress.",
)
