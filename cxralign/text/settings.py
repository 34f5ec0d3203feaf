"""Settings of the triplet stage: one place for the CLI default and the Dagster asset config."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TextSettings(BaseModel):
    """Which triplet backend parses the sentences.

    ``auto`` uses stanza's radiology NER when its models are installed (``STANZA_RESOURCES_DIR``)
    and the offline rule backend otherwise; the asset's metadata says which one ran.
    """

    backend: str = Field(
        default="auto", pattern="^(auto|rules|stanza)$",
        description="Triplet backend: auto, rules or stanza.",
    )
