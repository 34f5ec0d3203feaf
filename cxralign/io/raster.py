"""PNG and JPEG radiographs (8- or 16-bit grey, or colour files holding a grey image).

A raster file is already a display image, so there is no VOI to apply: 8-bit values are kept
as they are, 16-bit ones (which carry no window) get the robust percentile window. Colour
files are common in public chest X-ray collections (screenshots, re-saved figures); they are
converted to luminance and flagged rather than rejected.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image

from cxralign.io.input_file import regular_file_size
from cxralign.io.preprocess import (
    MAX_PIXELS,
    LoadedImage,
    check_dimensions,
    check_not_blank,
    pixel_sha256,
    resample,
    staged_scale,
    to_staged,
    window_percentiles,
    window_range,
)
from cxralign.io.rejections import Flag, Reason, Rejection

GREY_8BIT_MODES: Final = frozenset({"L"})
GREY_16BIT_MODES: Final = frozenset({"I;16", "I;16B", "I;16L", "I"})
COLOR_MODES: Final = frozenset({"RGB", "RGBA", "LA", "P", "PA", "CMYK", "YCbCr", "RGBX"})
FORMATS: Final = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg"}


def load_raster(
    path: Path, size: int, min_side: int, max_side: int, *, max_pixels: int = MAX_PIXELS
) -> LoadedImage:
    """Read, check and stage one PNG/JPEG file (its size is checked before decoding)."""
    regular_file_size(path)
    with _open(path) as image:
        source_format = FORMATS.get(image.format or "")
        if source_format is None:
            raise Rejection(Reason.UNREADABLE_FILE, "not a PNG or JPEG image")
        columns, rows = image.size
        check_dimensions(rows, columns, min_side, max_side, max_pixels)
        decoded = _decode(image)
        flags: list[str] = []
        if image.mode in GREY_8BIT_MODES:
            grey, bits = decoded, 8
        elif image.mode in GREY_16BIT_MODES:
            grey, bits = decoded, 16
        elif image.mode in COLOR_MODES:
            grey, bits = np.asarray(image.convert("L")), 8
            flags.append(Flag.COLOR_CONVERTED)
        else:
            raise Rejection(
                Reason.UNSUPPORTED_BIT_DEPTH,
                f"image mode {image.mode} is not 8/16-bit grey or colour",
            )

    resampled = resample(grey, size)
    if bits == 8:
        unit = window_range(resampled, 0.0, 255.0)
    else:
        flags.append(Flag.VOI_ESTIMATED)
        unit = window_percentiles(resampled)
    check_not_blank(resampled, unit, bits)
    if max(rows, columns) < size:
        flags.append(Flag.UPSAMPLED)
    flags.extend((Flag.BODY_PART_MISSING, Flag.VIEW_UNKNOWN, Flag.PIXEL_SPACING_MISSING))
    if source_format == "jpeg":
        flags.append(Flag.LOSSY_COMPRESSED)
    return LoadedImage(
        staged=to_staged(unit, size),
        sha256=pixel_sha256(decoded),
        source_format=source_format,
        photometric="MONOCHROME2",
        bits_stored=bits,
        rows=rows,
        columns=columns,
        scale=staged_scale(rows, columns, size),
        flags=tuple(flags),
    )


def _open(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Rejection(
            Reason.ABSURD_DIMENSIONS, "image is larger than Pillow's safety limit"
        ) from None
    except Exception as error:  # noqa: BLE001 - any parse failure quarantines the file
        raise Rejection(
            Reason.UNREADABLE_FILE, f"not a readable PNG/JPEG file ({type(error).__name__})"
        ) from None


def _decode(image: Image.Image) -> np.ndarray:
    try:
        return np.asarray(image)
    except Exception as error:  # noqa: BLE001 - truncated or corrupt stream
        raise Rejection(
            Reason.UNDECODABLE_PIXELS,
            f"could not decode {image.format} pixel data ({type(error).__name__})",
        ) from None
