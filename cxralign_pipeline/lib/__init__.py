"""Dagster helpers the stage folders share: partitions, the catalog resource, the versioned
step (lineage + DVC), metadata builders and the great-expectations check factory."""
