"""Defaults for the embedded phantom dataset: one place for the CLI and the Dagster asset."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SynthesisSettings(BaseModel):
    """How big the embedded default batch is and which seed makes it.

    About 2,000 studies is enough to pre-train and evaluate a small model meaningfully on a
    laptop CPU in minutes; the seed makes the batch reproducible byte for byte.
    """

    studies: int = Field(default=2000, ge=1, description="Number of phantom studies to generate.")
    seed: int = Field(default=0, ge=0, description="Random seed; same seed and count, same bytes.")
    workers: int = Field(default=0, ge=0, description="Worker processes; 0 uses every core.")
