"""What ingestion refuses (a reject: one ``rejected_inputs`` row) versus what it keeps with a
warning (a quality flag on the kept row), as named codes.

The rule: reject when the input cannot be turned into a faithful chest radiograph (unreadable,
no pixels, not a chest, not grey-scale, implausible size); keep with a flag when it can, but a
consumer may want to filter (lateral view, missing body part, window estimated from the pixels).
Details are composed only from these constants and technical values (never header strings,
exception messages or paths), so a rejected row cannot carry PHI.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Final

import pyarrow as pa

STAGE: Final = "ingest"


class Reason:
    """Reject codes (``rejected_inputs.reason``)."""

    UNREADABLE_FILE: Final = "unreadable_file"  # not parseable as DICOM/PNG/JPEG
    TRUNCATED_FILE: Final = "truncated_file"  # the file ends inside an element or pixel stream
    MISSING_FILE: Final = "missing_file"  # the path does not exist (e.g. a dangling symlink)
    NOT_A_REGULAR_FILE: Final = "not_a_regular_file"  # a folder, FIFO or device named like an image
    MISSING_PIXEL_DATA: Final = "missing_pixel_data"
    UNDECODABLE_PIXELS: Final = "undecodable_pixels"  # no installed decoder, or corrupt stream
    NON_CHEST_BODY_PART: Final = "non_chest_body_part"
    NON_RADIOGRAPH_MODALITY: Final = "non_radiograph_modality"  # CT, MR, US, OT, SC, ...
    MULTI_VALUED_MODALITY: Final = "multi_valued_modality"  # e.g. CT\DX
    MULTI_VALUED_PHOTOMETRIC: Final = "multi_valued_photometric"
    NON_HUMAN_SUBJECT: Final = "non_human_subject"  # a veterinary species in the header
    BURNED_IN_ANNOTATION: Final = "burned_in_annotation"  # pixels may carry PHI text
    TOO_MANY_PIXELS: Final = "too_many_pixels"  # checked from the header, before decoding
    INVALID_FRAME_COUNT: Final = "invalid_frame_count"  # NumberOfFrames not a positive integer
    INVALID_HEADER_VALUE: Final = "invalid_header_value"  # Rows, Columns, bits not integers
    INVALID_RESCALE: Final = "invalid_rescale"  # RescaleSlope 0 / non-finite, or intercept
    INVALID_VOI_LUT: Final = "invalid_voi_lut"  # empty or malformed VOI LUT Sequence
    INVALID_MODALITY_LUT: Final = "invalid_modality_lut"  # empty or malformed Modality LUT
    BLANK_IMAGE: Final = "blank_image"  # constant or near-constant after the LUTs
    OUT_OF_MEMORY: Final = "out_of_memory"  # decoding exceeded the worker's memory bound
    UNSUPPORTED_PHOTOMETRIC: Final = "unsupported_photometric"  # DICOM colour (RGB, YBR, palette)
    UNSUPPORTED_SAMPLES_PER_PIXEL: Final = "unsupported_samples_per_pixel"
    UNSUPPORTED_BIT_DEPTH: Final = "unsupported_bit_depth"  # outside 8..16 bits stored
    MULTI_FRAME: Final = "multi_frame"
    ABSURD_DIMENSIONS: Final = "absurd_dimensions"
    DUPLICATE_IMAGE: Final = "duplicate_image"  # same image_id seen earlier in the batch
    REPORT_MISSING: Final = "report_missing"
    REPORT_UNREADABLE: Final = "report_unreadable"  # cannot be read or parsed
    REPORT_EMPTY: Final = "report_empty"  # read, but holds no text
    INTERNAL_ERROR: Final = "internal_error"  # a bug: the input is kept out, the run goes on


class Flag:
    """Warning codes (``images.quality_flags`` / ``reports.quality_flags``)."""

    BODY_PART_MISSING: Final = "body_part_missing"
    BODY_PART_UNRECOGNISED: Final = "body_part_unrecognised"
    MODALITY_MISSING: Final = "modality_missing"
    MODALITY_FROM_SOP_CLASS: Final = "modality_from_sop_class"  # Modality absent/odd, SOP class CR/DX
    BURNED_IN_ANNOTATION: Final = "burned_in_annotation"  # kept only when configured to flag
    HEADER_WARNINGS: Final = "header_warnings"  # pydicom warned (invalid VR values etc.)
    DUPLICATE_PIXELS: Final = "duplicate_pixels"  # same pixel SHA-256 as an earlier row
    VIEW_LATERAL: Final = "view_lateral"
    VIEW_UNKNOWN: Final = "view_unknown"
    VOI_ESTIMATED: Final = "voi_estimated"  # no window/VOI LUT: robust percentiles used
    PIXEL_SPACING_MISSING: Final = "pixel_spacing_missing"
    LOSSY_COMPRESSED: Final = "lossy_compressed"
    UPSAMPLED: Final = "upsampled"  # longest side smaller than the staged size
    COLOR_CONVERTED: Final = "color_converted"  # PNG/JPEG stored as RGB(A)/palette, made grey
    REPORT_ENCODING_FALLBACK: Final = "report_encoding_fallback"  # not UTF-8; cp1252/latin-1
    REPORT_BYTES_REPLACED: Final = "report_bytes_replaced"  # undecodable bytes replaced
    REPORT_PHI_SCRUBBED: Final = "report_phi_scrubbed"  # header names/IDs removed from the text
    REPORT_WITHOUT_IMAGES: Final = "report_without_images"


class Rejection(Exception):
    """Raised inside ingestion for an input that must be quarantined, never for a bug.

    ``detail`` must be PHI-free by construction: callers build it from fixed words and
    technical values (sizes, bit depths, transfer syntax names).
    """

    def __init__(self, reason: str, detail: str, identifying: frozenset[str] = frozenset()) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        # Header names/IDs of a readable-but-refused file: still needed to scrub its report.
        self.identifying = identifying


@dataclass(frozen=True)
class RejectedInput:
    """One ``rejected_inputs`` row."""

    source_path_hash: str
    reason: str
    detail: str
    stage: str = STAGE
    seen_at: datetime = field(default_factory=lambda: datetime.now(UTC))


REJECTED_SCHEMA: Final = pa.schema(
    [
        ("source_path_hash", pa.string()),
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("seen_at", pa.timestamp("us", tz="UTC")),
    ]
)


def rejected_table(rows: list[RejectedInput]) -> pa.Table:
    return pa.Table.from_pylist([asdict(row) for row in rows], schema=REJECTED_SCHEMA)
