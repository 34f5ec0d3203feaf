"""Defaults for the embedded phantom dataset: one place for the CLI and the Dagster asset."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SynthesisSettings(BaseModel):
    """How big the embedded default batch is and which seed makes it.

    600 studies (about 490 training images) are what ``make demo`` runs in minutes on two cores
    and still learn in 150 steps; ``make demo-full`` and the benchmarks use 2,000, where 700
    steps at 96 px do not overfit. The seed makes the batch reproducible byte for byte.
    """

    studies: int = Field(default=600, ge=1, description="Number of phantom studies to generate.")
    seed: int = Field(default=0, ge=0, description="Random seed; same seed and count, same bytes.")
    workers: int = Field(default=0, ge=0, description="Worker processes; 0 uses every core.")
    max_side: int = Field(
        default=512, ge=64,
        description="Longest detector side in pixels (each image draws 60-100 % of it). Twice "
        "the side ingestion stages by default: rendering and decoding 1,280-pixel phantoms "
        "cost most of a first run and add nothing the model sees.",
    )
