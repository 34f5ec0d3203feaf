"""The partitionings shared by assets, checks, jobs, the sensor and the schedule."""

import dagster as dg

from cxralign.train.settings import PretrainSettings

BATCHES = dg.DynamicPartitionsDefinition(name="batches")
"""One partition per folder ``data/incoming/<batch>/``."""

EMBEDDED_BATCH_PREFIX = "synthetic"
"""Name prefix of the generated phantom batch: the partition ``dvc.yaml`` describes."""

_RUNS = PretrainSettings()
TRAINING_RUNS = dg.MultiPartitionsDefinition({
    "recipe": dg.StaticPartitionsDefinition(_RUNS.recipes()),
    "seed": dg.StaticPartitionsDefinition([str(seed) for seed in _RUNS.seeds]),
})
"""One pre-training run per recipe × seed (the settings' defaults: the primary recipe and its
baselines, each seed), so the UI shows one model per row and a failed seed hides no other.
Keys read ``asg|0`` (``cxralign.train.lineage.run_partition``)."""
