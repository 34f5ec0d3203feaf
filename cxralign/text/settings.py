"""Settings of the triplet stage: one place for the CLI default and the Dagster asset config."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TextSettings(BaseModel):
    """Which triplet backend parses the sentences, and which calibrated second stage decides the
    report findings among the positive ones.

    ``auto`` uses stanza's radiology NER when its models are installed (``STANZA_RESOURCES_DIR``)
    and the offline rule backend otherwise; the asset's metadata says which one ran. The
    calibrator is a JSON file ``cxralign fit-text-calibrator`` wrote (another group's coding
    convention); empty selects the model shipped with cxralign (fitted on the IU dev half).
    """

    backend: str = Field(
        default="auto", pattern="^(auto|rules|stanza)$",
        description="Triplet backend: auto, rules or stanza.",
    )
    calibrator: str = Field(
        default="", description="Calibrated second stage JSON (fit-text-calibrator); empty: "
        "the shipped model.",
    )


class TextLimits(BaseModel):
    """Bounds that keep the text stage linear in its input: a report longer than
    ``max_report_chars`` is rejected (``report_too_long``) before it is parsed, and a sentence
    longer than ``max_sentence_chars`` (a run-on "sentence" without full stops) is cut into
    pieces of at most that length at the last clause mark or space, since rule matching within
    one sentence grows faster than its length. Real reports stay far below both: the longest
    IU report has 1,222 characters of findings+impression and its longest sentence 262.
    """

    max_report_chars: int = Field(default=100_000, gt=0, description="Longest report accepted.")
    max_sentence_chars: int = Field(default=1_000, gt=0, description="Longest sentence piece.")
