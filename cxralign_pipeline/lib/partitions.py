"""The batch partitioning shared by the per-batch assets, the sensor and the schedule."""

import dagster as dg

BATCHES = dg.DynamicPartitionsDefinition(name="batches")
"""One partition per folder ``data/incoming/<batch>/``."""

EMBEDDED_BATCH_PREFIX = "synthetic"
"""Name prefix of the generated phantom batch: the partition ``dvc.yaml`` describes."""
