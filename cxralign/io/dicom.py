"""DICOM radiographs: header checks, decoding, modality/VOI transforms, staging.

Only allow-listed attributes leave this module (see ``deid``). Every failure is turned into a
``Rejection`` whose detail is built from fixed words and technical values, never from header
strings or exception messages (which can quote file names and tag values).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi
from pydicom.pixels import pixel_array as decode_pixel_array
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import UID, JPEGBaseline8Bit

from cxralign.io.deid import identifying_values
from cxralign.io.preprocess import (
    VOI_FUNCTIONS,
    LoadedImage,
    check_dimensions,
    pixel_sha256,
    resample,
    staged_scale,
    to_staged,
    window_percentiles,
    window_range,
)
from cxralign.io.rejections import Flag, Reason, Rejection

GREY_PHOTOMETRICS: Final = frozenset({"MONOCHROME1", "MONOCHROME2"})
# Body Part Examined words that make a radiograph a chest one, and words that make it clearly
# something else (reject). Anything else is kept and flagged: free-text body parts are common.
CHEST_WORDS: Final = frozenset({"CHEST", "THORAX", "LUNG", "LUNGS", "RIBS", "STERNUM"})
NON_CHEST_WORDS: Final = frozenset(
    """
    EXTREMITY HAND FINGER WRIST FOREARM ARM ELBOW HUMERUS SHOULDER CLAVICLE SCAPULA FOOT TOE
    ANKLE LEG TIBIA FIBULA KNEE FEMUR HIP PELVIS SKULL HEAD BRAIN FACE SINUS JAW NECK CSPINE
    TSPINE LSPINE SSPINE COCCYX SACRUM ABDOMEN BREAST
    """.split()
)
FASTEST_PLUGINS: Final[dict[str, str]] = {JPEGBaseline8Bit: "pillow"}
FRONTAL_VIEWS: Final = frozenset({"PA", "AP"})
LATERAL_VIEWS: Final = frozenset({"LL", "RL", "LATERAL", "LAT", "LLD", "RLD"})
# Modalities that are never a projection chest radiograph.
NON_RADIOGRAPH_MODALITIES: Final = frozenset(
    """
    CT MR US NM PT MG XA RF ES OP OPT OCT IVUS SR PR KO SEG REG DOC ECG HD AU
    RTSTRUCT RTPLAN RTDOSE RTRECORD SM XC GM
    """.split()
)


def load_dicom(
    path: Path, size: int, min_side: int, max_side: int, decoding_plugin: str = ""
) -> LoadedImage:
    """Read, check, decode and stage one DICOM file (the worker's per-file unit of work)."""
    dataset = _read(path)
    identifying = frozenset(identifying_values(dataset))
    try:
        return _stage(dataset, identifying, size, min_side, max_side, decoding_plugin)
    except Rejection as rejection:
        raise Rejection(rejection.reason, rejection.detail, identifying) from None


def _stage(
    dataset: Dataset,
    identifying: frozenset[str],
    size: int,
    min_side: int,
    max_side: int,
    decoding_plugin: str,
) -> LoadedImage:
    flags: list[str] = []
    modality = _text(dataset, "Modality")
    _check_modality(modality, flags)
    _check_body_part(_text(dataset, "BodyPartExamined"), flags)
    photometric = _check_pixel_format(dataset)
    stored = _decode(dataset, decoding_plugin)
    rows, columns = stored.shape
    check_dimensions(rows, columns, min_side, max_side)

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
    if max(rows, columns) < size:
        flags.append(Flag.UPSAMPLED)

    unit = _display(resample(stored, size), dataset, flags)
    return LoadedImage(
        staged=to_staged(unit, size, invert=photometric == "MONOCHROME1"),
        sha256=pixel_sha256(stored),
        source_format="dicom",
        photometric=photometric,
        bits_stored=int(dataset.BitsStored),
        rows=rows,
        columns=columns,
        scale=staged_scale(rows, columns, size),
        modality=modality or None,
        view_position=view or None,
        pixel_spacing=spacing,
        flags=tuple(flags),
        source_instance_uid=_text(dataset, "SOPInstanceUID") or None,
        source_study_uid=_text(dataset, "StudyInstanceUID") or None,
        source_patient_id=_text(dataset, "PatientID") or None,
        identifying=identifying,
    )


def _read(path: Path) -> Dataset:
    try:
        dataset = pydicom.dcmread(path)
    except Exception as error:  # noqa: BLE001 - any parse failure quarantines the file
        raise Rejection(
            Reason.UNREADABLE_FILE, f"not a readable DICOM file ({type(error).__name__})"
        ) from None
    if "PixelData" not in dataset:
        raise Rejection(Reason.MISSING_PIXEL_DATA, "the DICOM file has no Pixel Data element")
    return dataset


def _text(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    return str(value).strip().upper() if value not in (None, "") else ""


def _check_modality(modality: str, flags: list[str]) -> None:
    if not modality:
        flags.append(Flag.MODALITY_MISSING)
    elif modality in NON_RADIOGRAPH_MODALITIES:
        raise Rejection(
            Reason.NON_RADIOGRAPH_MODALITY, f"modality {modality} is not a projection radiograph"
        )


def _check_body_part(body_part: str, flags: list[str]) -> None:
    if not body_part:
        flags.append(Flag.BODY_PART_MISSING)
        return
    words = set(re.split(r"[^A-Z]+", body_part)) - {""}
    if words & CHEST_WORDS:
        return
    non_chest = sorted(words & NON_CHEST_WORDS)
    if non_chest:
        raise Rejection(
            Reason.NON_CHEST_BODY_PART, f"body part examined is {' '.join(non_chest)}, not chest"
        )
    flags.append(Flag.BODY_PART_UNRECOGNISED)


def _check_pixel_format(dataset: Dataset) -> str:
    """Refuse what cannot be a grey-scale single-frame radiograph, before paying to decode."""
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    if samples != 1:
        raise Rejection(
            Reason.UNSUPPORTED_SAMPLES_PER_PIXEL, f"{samples} samples per pixel, expected 1"
        )
    photometric = _text(dataset, "PhotometricInterpretation")
    if photometric not in GREY_PHOTOMETRICS:
        # A colour chest "radiograph" is a screenshot or secondary capture: burned-in text and
        # unknown processing, so it is refused rather than converted.
        shown = photometric if re.fullmatch(r"[A-Z0-9_ ]{1,16}", photometric) else "unknown"
        raise Rejection(
            Reason.UNSUPPORTED_PHOTOMETRIC, f"photometric interpretation {shown} is not grey-scale"
        )
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise Rejection(Reason.MULTI_FRAME, f"{frames} frames, expected a single radiograph")
    bits = dataset.get("BitsStored")
    if not isinstance(bits, int) or not 8 <= bits <= 16:
        raise Rejection(Reason.UNSUPPORTED_BIT_DEPTH, f"{bits} bits stored, expected 8..16")
    return photometric


def _decode(dataset: Dataset, plugin: str) -> np.ndarray:
    syntax = getattr(dataset, "file_meta", Dataset()).get("TransferSyntaxUID")
    known = syntax is not None and syntax.is_transfer_syntax
    syntax_name = syntax.name if known else "unknown"
    if not plugin and known:
        plugin = _fastest_plugin(syntax)
    try:
        pixels = decode_pixel_array(dataset, decoding_plugin=plugin)
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


def _display(values: np.ndarray, dataset: Dataset, flags: list[str]) -> np.ndarray:
    """Resampled stored values -> [0, 1] display values: modality LUT, then VOI."""
    if "ModalityLUTSequence" in dataset:
        values = apply_modality_lut(np.rint(values).astype(np.int64), dataset).astype(np.float32)
    else:
        slope = float(dataset.get("RescaleSlope", 1) or 1)
        intercept = float(dataset.get("RescaleIntercept", 0) or 0)
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
    return (center, width) if width >= 1 else None


def _voi_lut_range(dataset: Dataset) -> tuple[float, float]:
    """Output range of the first VOI LUT, from the LUT itself (descriptors often overstate it)."""
    entries, first_mapped, _ = dataset.VOILUTSequence[0].LUTDescriptor
    inputs = np.arange(first_mapped, first_mapped + (entries or 65536), dtype=np.int64)
    outputs = apply_voi(inputs, dataset)
    return float(outputs.min()), float(outputs.max())
