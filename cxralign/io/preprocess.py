"""Geometry and intensity steps shared by every image format: resample, window, stage.

Geometry contract (later stages map boxes back with it): the longest side is resampled to
``size`` and the result is placed at the TOP-LEFT of a black ``size x size`` square, so for every
image ``staged = original * scale`` with the single factor ``scale = size / max(rows, columns)``,
in continuous pixel coordinates (pixel edges at integers; pixel ``i`` covers ``[i, i+1)``). To
make that exact rather than approximate, the content is ``floor(rows * scale)`` by
``floor(columns * scale)`` pixels resampled from the source box ``[0, extent / scale)``, which
drops at most one staged pixel's worth of the short side's far edge.

Intensity order: the image is resampled in stored-value units *first* and windowed after. The
modality rescale is affine, so it commutes with resampling exactly; the VOI window is linear
inside the window, so the two orders differ only where a resampling kernel straddles the window
edges (a fraction of one grey level in practice). It turns per-pixel float work on millions of
source pixels into work on ``size**2`` pixels.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Final

import numpy as np
from PIL import Image

from cxralign.io.rejections import Reason, Rejection

# Box-reduce by an integer factor first, then filter the last <= 3x properly: the documented
# Pillow setting whose result is indistinguishable from a full convolution resample.
REDUCING_GAP: Final = 3.0
LOW_PERCENTILE: Final = 0.5
HIGH_PERCENTILE: Final = 99.5
# Blank-image bounds. Stored values must span more than 1/1024 of their bit range (and at
# least 2 levels); the displayed image must span at least 2 of its 255 grey levels. Both are
# robust spans (0.5th..99.5th percentile), so a few burned-in marker pixels on a blank plate
# do not make it an image.
MIN_STORED_SPAN_FRACTION: Final = 1 / 1024
MIN_STORED_SPAN: Final = 2.0
MIN_DISPLAY_SPAN: Final = 2 / 255
# 40 megapixels: twice the largest flat-panel chest detector (43 x 43 cm at 100 um is 18.5 MP).
MAX_PIXELS: Final = 40_000_000


def staged_scale(rows: int, columns: int, size: int) -> float:
    """The one factor mapping source pixel coordinates to staged ones."""
    return size / max(rows, columns)


def resample(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resample a 2-D array so its longest side is ``size``; float32, stored-value units."""
    rows, columns = pixels.shape
    scale = staged_scale(rows, columns, size)
    out_rows = max(1, math.floor(rows * scale + 1e-9))
    out_columns = max(1, math.floor(columns * scale + 1e-9))
    source_box = (0.0, 0.0, min(columns, out_columns / scale), min(rows, out_rows / scale))
    image = _float_image(pixels)
    resized = image.resize(
        (out_columns, out_rows),
        Image.Resampling.BILINEAR,
        box=source_box,
        reducing_gap=REDUCING_GAP if scale < 1 else None,
    )
    return np.asarray(resized, dtype=np.float32)


def _float_image(pixels: np.ndarray) -> Image.Image:
    """A Pillow 32-bit float image of the stored values.

    Integer arrays go through Pillow's own conversion, which is about 3x faster than numpy's
    ``astype(float32)`` followed by ``Image.fromarray`` on a multi-megapixel radiograph.
    """
    if pixels.dtype in (np.uint8, np.uint16, np.int16, np.int32):
        return Image.fromarray(np.ascontiguousarray(pixels)).convert("F")
    return Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32))


def window_linear(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 LINEAR VOI function, onto [0, 1]."""
    out = (values - (center - 0.5)) / max(width - 1.0, 1e-6) + 0.5
    return np.clip(out, 0.0, 1.0, out=out)


def window_linear_exact(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.3.2 LINEAR_EXACT VOI function, onto [0, 1]."""
    out = (values - center) / max(width, 1e-6) + 0.5
    return np.clip(out, 0.0, 1.0, out=out)


def window_sigmoid(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.3.1 SIGMOID VOI function, onto (0, 1)."""
    return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / max(width, 1e-6)))


VOI_FUNCTIONS: Final = {
    "LINEAR": window_linear,
    "LINEAR_EXACT": window_linear_exact,
    "SIGMOID": window_sigmoid,
}


def window_percentiles(values: np.ndarray) -> np.ndarray:
    """Robust min/max window (0.5th..99.5th percentile) for images without a usable VOI."""
    low, high = np.percentile(values, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if high <= low:
        return np.zeros_like(values)
    out = (values - low) / (high - low)
    return np.clip(out, 0.0, 1.0, out=out)


def window_range(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map a fixed value range (e.g. 0..255 of an 8-bit PNG) onto [0, 1]."""
    out = (values - low) / max(high - low, 1e-6)
    return np.clip(out, 0.0, 1.0, out=out)


def to_staged(unit: np.ndarray, size: int, invert: bool = False) -> np.ndarray:
    """Quantise a [0, 1] image to uint8 and pad it right/bottom to ``size x size`` with 0.

    ``invert`` turns MONOCHROME1 (high value = dark) into the MONOCHROME2 convention every
    staged array follows; padding stays 0 (black) either way.
    """
    if invert:
        unit = 1.0 - unit
    staged = np.zeros((size, size), dtype=np.uint8)
    rows, columns = unit.shape
    staged[:rows, :columns] = np.rint(unit * 255.0)
    return staged


def pixel_sha256(pixels: np.ndarray) -> str:
    """SHA-256 of the decoded stored values (before any LUT), in C order, without a copy.

    Lossless encodings of the same image (uncompressed, JPEG 2000 reversible, RLE) hash alike.
    """
    return hashlib.sha256(memoryview(np.ascontiguousarray(pixels)).cast("B")).hexdigest()


@dataclass(frozen=True)
class LoadedImage:
    """One decoded, staged image and the allow-listed facts about it.

    The ``source_*`` identifiers are raw (UIDs, patient ID, the unshifted study date) and exist only so the worker
    can pseudonymise them; ``identifying`` holds header names/IDs for scrubbing the report.
    Neither is ever written anywhere.
    """

    staged: np.ndarray
    sha256: str
    source_format: str
    photometric: str
    bits_stored: int
    rows: int
    columns: int
    scale: float
    modality: str | None = None
    view_position: str | None = None
    pixel_spacing: tuple[float, float] | None = None
    flags: tuple[str, ...] = ()
    source_instance_uid: str | None = None
    source_study_uid: str | None = None
    source_patient_id: str | None = None
    source_date: date | None = None
    identifying: frozenset[str] = field(default_factory=frozenset)


def robust_span(values: np.ndarray) -> float:
    low, high = np.percentile(values, [LOW_PERCENTILE, HIGH_PERCENTILE])
    return float(high - low)


def check_not_blank(stored: np.ndarray, unit: np.ndarray, bits: int) -> None:
    """Reject an image that is constant or nearly so, in stored values or after the LUTs.

    Both are needed: percentile windowing would stretch a flat plate's noise to full contrast,
    and a valid window can map every stored value onto one grey level.
    """
    stored_span = robust_span(stored)
    if stored_span < max(MIN_STORED_SPAN, MIN_STORED_SPAN_FRACTION * 2**bits):
        raise Rejection(
            Reason.BLANK_IMAGE, f"stored values span {stored_span:.1f} of {2**bits} levels"
        )
    if not np.isfinite(unit).all() or robust_span(unit) < MIN_DISPLAY_SPAN:
        raise Rejection(Reason.BLANK_IMAGE, "the displayed image spans fewer than 2 grey levels")


def check_dimensions(
    rows: int, columns: int, min_side: int, max_side: int, max_pixels: int = MAX_PIXELS
) -> None:
    """Reject images too small to be a radiograph or too large to be a sane one; called with
    the header's size, before any pixel is decoded."""
    if min(rows, columns) < min_side or max(rows, columns) > max_side:
        raise Rejection(
            Reason.ABSURD_DIMENSIONS,
            f"{rows}x{columns} pixels is outside the accepted {min_side}..{max_side} per side",
        )
    if rows * columns > max_pixels:
        raise Rejection(
            Reason.TOO_MANY_PIXELS, f"{rows}x{columns} pixels exceed the {max_pixels} pixel bound"
        )
