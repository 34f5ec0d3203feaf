"""DICOM radiographs: header checks, decoding, modality/VOI transforms, staging.

Only allow-listed attributes leave this module (see ``deid``). Every failure is turned into a
``Rejection`` whose detail is built from fixed words and technical values, never from header
strings or exception messages (which can quote file names and tag values). Everything that can
be judged from the header (what the object is, its size, its LUTs) is judged before the pixels
are decoded, so a hostile file costs no more than its header to refuse.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Final

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi
from pydicom.pixels import pixel_array as decode_pixel_array
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import UID, JPEGBaseline8Bit

from cxralign.io.acceptance import check_acceptable
from cxralign.io.date_shift import header_date
from cxralign.io.deid import identifying_values
from cxralign.io.dicom_file import check_complete, read_dicom
from cxralign.io.preprocess import (
    MAX_PIXELS,
    VOI_FUNCTIONS,
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
from cxralign.io.quiet import silenced
from cxralign.io.rejections import Flag, Reason, Rejection

GREY_PHOTOMETRICS: Final = frozenset({"MONOCHROME1", "MONOCHROME2"})
FASTEST_PLUGINS: Final[dict[str, str]] = {JPEGBaseline8Bit: "pillow"}
FRONTAL_VIEWS: Final = frozenset({"PA", "AP"})
LATERAL_VIEWS: Final = frozenset({"LL", "RL", "LATERAL", "LAT", "LLD", "RLD"})
# A data set is its pixels plus a header; deflated ones may inflate to this much at most.
HEADER_ALLOWANCE_BYTES: Final = 16 << 20
BYTES_PER_STORED_VALUE: Final = 2


@dataclasses.dataclass(frozen=True)
class _Limits:
    size: int
    min_side: int
    max_side: int
    decoding_plugin: str
    max_pixels: int
    burned_in: str


def load_dicom(
    path: Path,
    size: int,
    min_side: int,
    max_side: int,
    decoding_plugin: str = "",
    *,
    max_pixels: int = MAX_PIXELS,
    burned_in: str = "reject",
) -> LoadedImage:
    """Read, check, decode and stage one DICOM file (the worker's per-file unit of work).

    Library warnings and log records raised meanwhile are silenced (they quote header values)
    and become the ``header_warnings`` flag.
    """
    limits = _Limits(size, min_side, max_side, decoding_plugin, max_pixels, burned_in)
    inflated_limit = max_pixels * BYTES_PER_STORED_VALUE + HEADER_ALLOWANCE_BYTES
    with silenced() as chatter:
        dataset, cut_short = read_dicom(path, inflated_limit)
        identifying = frozenset(identifying_values(dataset))
        try:
            check_complete(dataset, cut_short, chatter)
            image = _stage(dataset, identifying, limits)
        except Rejection as rejection:
            raise Rejection(rejection.reason, rejection.detail, identifying) from None
        except MemoryError:
            raise Rejection(
                Reason.OUT_OF_MEMORY, "decoding exceeded the worker's memory bound", identifying
            ) from None
    if chatter.count:
        image = dataclasses.replace(image, flags=(*image.flags, Flag.HEADER_WARNINGS))
    return image


def _stage(dataset: Dataset, identifying: frozenset[str], limits: _Limits) -> LoadedImage:
    flags: list[str] = []
    modality = check_acceptable(dataset, limits.burned_in, flags)
    photometric = _check_pixel_format(dataset)
    rows, columns = (_integer(dataset, keyword, Reason.INVALID_HEADER_VALUE)
                     for keyword in ("Rows", "Columns"))
    check_dimensions(rows, columns, limits.min_side, limits.max_side, limits.max_pixels)
    rescale = _rescale(dataset)
    _check_lut(dataset, "ModalityLUTSequence", Reason.INVALID_MODALITY_LUT)
    _check_lut(dataset, "VOILUTSequence", Reason.INVALID_VOI_LUT)
    stored = _decode(dataset, limits.decoding_plugin)
    if stored.shape != (rows, columns):
        raise Rejection(Reason.INVALID_HEADER_VALUE, "decoded size differs from Rows/Columns")

    view = _text(dataset, "ViewPosition")
    if view in LATERAL_VIEWS:
        flags.append(Flag.VIEW_LATERAL)
    elif view not in FRONTAL_VIEWS:
        flags.append(Flag.VIEW_UNKNOWN)
    spacing = _pixel_spacing(dataset)
    if spacing is None:
        flags.append(Flag.PIXEL_SPACING_MISSING)
    if _text(dataset, "LossyImageCompression") == "01":
        flags.append(Flag.LOSSY_COMPRESSED)
    if max(rows, columns) < limits.size:
        flags.append(Flag.UPSAMPLED)

    bits = int(dataset.BitsStored)
    resampled = resample(stored, limits.size)
    unit = _display(resampled, dataset, flags, rescale)
    check_not_blank(resampled, unit, bits)
    return LoadedImage(
        staged=to_staged(unit, limits.size, invert=photometric == "MONOCHROME1"),
        sha256=pixel_sha256(stored),
        source_format="dicom",
        photometric=photometric,
        bits_stored=bits,
        rows=rows,
        columns=columns,
        scale=staged_scale(rows, columns, limits.size),
        modality=modality,
        view_position=view or None,
        pixel_spacing=spacing,
        flags=tuple(flags),
        source_instance_uid=_text(dataset, "SOPInstanceUID") or None,
        source_study_uid=_text(dataset, "StudyInstanceUID") or None,
        source_patient_id=_text(dataset, "PatientID") or None,
        source_date=header_date(dataset),
        identifying=identifying,
    )


def _text(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    return str(value).strip().upper() if value not in (None, "") else ""


def _integer(dataset: Dataset, keyword: str, reason: str, default: int | None = None) -> int:
    """An integer attribute, or a rejection naming it (never its value) when it is not one."""
    try:
        value = dataset.get(keyword, default)
        number = int(default if value in (None, "") else value)
    except (TypeError, ValueError, OverflowError):
        raise Rejection(reason, f"{keyword} is not an integer") from None
    if number < 1:
        raise Rejection(reason, f"{keyword} is {number}, expected a positive integer")
    return number


def _check_pixel_format(dataset: Dataset) -> str:
    """Refuse what cannot be a grey-scale single-frame radiograph, before paying to decode."""
    samples = _integer(dataset, "SamplesPerPixel", Reason.INVALID_HEADER_VALUE, default=1)
    if samples != 1:
        raise Rejection(
            Reason.UNSUPPORTED_SAMPLES_PER_PIXEL, f"{samples} samples per pixel, expected 1"
        )
    value = dataset.get("PhotometricInterpretation")
    if isinstance(value, MultiValue) or "\\" in str(value or ""):
        raise Rejection(
            Reason.MULTI_VALUED_PHOTOMETRIC, "PhotometricInterpretation holds more than one value"
        )
    photometric = _text(dataset, "PhotometricInterpretation")
    if photometric not in GREY_PHOTOMETRICS:
        # A colour chest "radiograph" is a screenshot or secondary capture: burned-in text and
        # unknown processing, so it is refused rather than converted.
        raise Rejection(Reason.UNSUPPORTED_PHOTOMETRIC, "photometric interpretation is not grey")
    frames = _integer(dataset, "NumberOfFrames", Reason.INVALID_FRAME_COUNT, default=1)
    if frames != 1:
        raise Rejection(Reason.MULTI_FRAME, f"{frames} frames, expected a single radiograph")
    bits = dataset.get("BitsStored")
    if not isinstance(bits, int) or not 8 <= bits <= 16:
        raise Rejection(Reason.UNSUPPORTED_BIT_DEPTH, "bits stored outside 8..16")
    return photometric


def _rescale(dataset: Dataset) -> tuple[float, float]:
    """Rescale slope and intercept; a zero or non-finite one would erase or poison the image."""
    try:
        slope, intercept = (
            float(default if (value := dataset.get(keyword)) in (None, "") else value)
            for keyword, default in (("RescaleSlope", 1.0), ("RescaleIntercept", 0.0))
        )
    except (TypeError, ValueError):
        raise Rejection(Reason.INVALID_RESCALE, "rescale slope/intercept is not a number") from None
    if not (math.isfinite(slope) and math.isfinite(intercept)) or slope == 0:
        raise Rejection(Reason.INVALID_RESCALE, "rescale slope is zero or not finite")
    return slope, intercept


def _check_lut(dataset: Dataset, keyword: str, reason: str) -> None:
    """A present LUT sequence must hold a usable first LUT: descriptor of 3 numbers and data."""
    if keyword not in dataset:
        return
    try:
        item = dataset[keyword].value[0]
        descriptor = [int(value) for value in item.LUTDescriptor]
        usable = len(descriptor) == 3 and len(item.LUTData) > 0
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        usable = False
    if not usable:
        raise Rejection(reason, f"{keyword} is empty or malformed")


def _decode(dataset: Dataset, plugin: str) -> np.ndarray:
    syntax = getattr(dataset, "file_meta", Dataset()).get("TransferSyntaxUID")
    known = syntax is not None and syntax.is_transfer_syntax
    syntax_name = syntax.name if known else "unknown"
    if not plugin and known:
        plugin = _fastest_plugin(syntax)
    try:
        pixels = decode_pixel_array(dataset, decoding_plugin=plugin)
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - missing decoder or corrupt stream
        raise Rejection(
            Reason.UNDECODABLE_PIXELS,
            f"could not decode {syntax_name} pixel data ({type(error).__name__})",
        ) from None
    if pixels.ndim != 2:
        raise Rejection(Reason.MULTI_FRAME, f"decoded array has shape {pixels.shape}, expected 2-D")
    return pixels


def _fastest_plugin(syntax: UID) -> str:
    """The measured-fastest installed plugin for ``syntax``, or "" for pydicom's own order.

    pydicom tries gdcm first, which is also the fastest JPEG 2000 decoder here; for baseline
    JPEG, Pillow's libjpeg-turbo is about 4x faster (benchmarks/RESULTS.md). Plugins may differ
    by one grey level on lossy JPEG, so the stored-pixel hash of a lossy file depends on the
    installed plugins; lossless syntaxes decode identically with all of them.
    """
    plugin = FASTEST_PLUGINS.get(syntax, "")
    try:
        available = get_decoder(syntax).available_plugins
    except NotImplementedError:
        return ""
    return plugin if plugin in available else ""


def _pixel_spacing(dataset: Dataset) -> tuple[float, float] | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = dataset.get(keyword)
        try:
            row, column = (float(v) for v in value)
        except (TypeError, ValueError):
            continue
        if row > 0 and column > 0:
            return row, column
    return None


def _display(
    values: np.ndarray, dataset: Dataset, flags: list[str], rescale: tuple[float, float]
) -> np.ndarray:
    """Resampled stored values -> [0, 1] display values: modality LUT, then VOI."""
    if "ModalityLUTSequence" in dataset:
        values = apply_modality_lut(np.rint(values).astype(np.int64), dataset).astype(np.float32)
    else:
        slope, intercept = rescale
        if (slope, intercept) != (1.0, 0.0):
            values = values * np.float32(slope) + np.float32(intercept)

    if "VOILUTSequence" in dataset:
        mapped = apply_voi(np.rint(values).astype(np.int64), dataset).astype(np.float32)
        return window_range(mapped, *_voi_lut_range(dataset))
    window = _first_window(dataset)
    if window is not None:
        function = VOI_FUNCTIONS.get(_text(dataset, "VOILUTFunction") or "LINEAR")
        if function is not None:
            return function(values, *window)
    flags.append(Flag.VOI_ESTIMATED)
    return window_percentiles(values)


def _first_window(dataset: Dataset) -> tuple[float, float] | None:
    """The first (default) window center/width pair, if present and usable."""
    try:
        center, width = (
            float(value[0] if isinstance(value, MultiValue) else value)
            for value in (dataset.WindowCenter, dataset.WindowWidth)
        )
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    usable = math.isfinite(center) and math.isfinite(width) and width >= 1
    return (center, width) if usable else None


def _voi_lut_range(dataset: Dataset) -> tuple[float, float]:
    """Output range of the first VOI LUT, from the LUT itself (descriptors often overstate it)."""
    entries, first_mapped, _ = dataset.VOILUTSequence[0].LUTDescriptor
    inputs = np.arange(first_mapped, first_mapped + (entries or 65536), dtype=np.int64)
    outputs = apply_voi(inputs, dataset)
    return float(outputs.min()), float(outputs.max())
