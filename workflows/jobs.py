"""Jobs: one batch's partition chain, and re-training + re-evaluation on every partition.

Both carry run-retry tags: with ``run_retries`` enabled in ``dagster.yaml`` a run whose worker
crashed is retried from the failed step; failures inside a step are retried by the assets' own
``RetryPolicy`` (``assets.lineage.TRANSIENT_RETRY``).
"""

import dagster as dg

from assets.anatomy import anatomy_boxes
from assets.ingestion import dicom_images
from assets.pairs import region_sentence_pairs
from assets.text import report_sections, report_sentences, report_triplets

RUN_RETRY_TAGS = {"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE"}

BATCH_ASSETS = (
    dicom_images, report_sections, report_sentences, report_triplets, anatomy_boxes,
    region_sentence_pairs,
)
"""The assets partitioned by ``batches``: everything one incoming batch flows through."""

RETRAIN_GROUPS = ("training", "evaluation")

process_batch_job = dg.define_asset_job(
    "process_batch",
    selection=dg.AssetSelection.assets(*BATCH_ASSETS),  # partitioned by BATCHES (inferred)
    tags=RUN_RETRY_TAGS,
    description="Ingest one incoming batch (partition) and carry it through text, anatomy boxes "
    "and region-sentence pairs; other batches are not read.",
)

retrain_job = dg.define_asset_job(
    "retrain",
    selection=dg.AssetSelection.groups(*RETRAIN_GROUPS),
    tags=RUN_RETRY_TAGS,
    description="Pre-train on every processed batch and evaluate the new models.",
)

JOBS = [process_batch_job, retrain_job]
