"""Lineage: where every file under ``data/`` came from (DVC hashes, run records, audits)."""
