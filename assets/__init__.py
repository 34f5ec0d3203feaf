"""Dagster software-defined assets: one module per pipeline stage, each a thin wrapper that
calls the ``cxralign`` library and records metadata."""
