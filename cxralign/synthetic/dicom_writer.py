"""Writing a phantom radiograph as a DICOM file with the variety of a real archive.

What varies, and how a reader must handle it:

* **Modality** CR or DX (CR Image Storage / DX Image Storage - For Presentation).
* **Photometric interpretation** MONOCHROME2 (high value = bright) or MONOCHROME1 (high value =
  dark: the stored values are inverted, so a reader must invert after the VOI transform).
* **Bit depth** BitsStored 10, 12, 14, 15 or 16 in 16 allocated bits, unsigned, using only part
  of the range (as detectors do).
* **Transfer syntax** Explicit VR Little Endian, JPEG 2000 Lossless or RLE Lossless.
* **Modality LUT** RescaleSlope/RescaleIntercept (with RescaleType ``US``) on some files.
* **VOI** WindowCenter/WindowWidth (sometimes two pairs, the first being the default), or a
  VOILUTSequence with a sigmoid LUT (only on files without rescale, applied to stored values),
  or nothing at all, in which case the reader picks its own window.
* **Spacing** ImagerPixelSpacing, PixelSpacing or both; BodyPartExamined sometimes missing.
* **PHI** names, dates, record and accession numbers, institution, staff and device identifiers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
)

from cxralign.io.atomic import atomic_path
from cxralign.synthetic.cohort import StudyIdentity
from cxralign.synthetic.geometry import Pose

IMPLEMENTATION_CLASS_UID: Final = UID(
    f"2.25.{int.from_bytes(hashlib.sha256(b'cxralign.synthetic').digest()[:16], 'big')}"
)
IMPLEMENTATION_VERSION_NAME: Final = "CXRALIGN_SYN_1"
"""Fixed file-meta identity, so files are byte-identical whatever pydicom version wrote them."""

_TRANSFER_SYNTAXES: Final = (
    (ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless), (0.8, 0.1, 0.1),
)
_BITS_STORED: Final = ((10, 12, 14, 15, 16), (0.15, 0.35, 0.25, 0.1, 0.15))
_RESCALES: Final = ((1.0, 0.0), (1.0, -1024.0), (0.5, 0.0), (2.0, -200.0))
_SPACING_ATTRIBUTES: Final = (
    ("ImagerPixelSpacing",), ("PixelSpacing",), ("ImagerPixelSpacing", "PixelSpacing"),
)

_SITES: Final = (
    ("BETH ISRAEL DEACONESS MEDICAL CENTER", "330 Brookline Ave^^Boston^MA^02215^USA"),
    ("MERCY GENERAL HOSPITAL", "4001 J Street^^Sacramento^CA^95819^USA"),
    ("ST. OLAF REGIONAL", "1160 Fifth Ave^^Rochester^MN^55901^USA"),
    ("LAKESIDE COMMUNITY CLINIC", "77 Harbor Rd^^Duluth^MN^55802^USA"),
)
_EQUIPMENT: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "CR": (("FUJIFILM Corporation", "FCR PROFECT CS"), ("Carestream Health", "DirectView CR 975"),
           ("AGFA", "CR 85-X")),
    "DX": (("GE Healthcare", "Definium 8000"), ("SIEMENS", "Ysio Max"),
           ("Philips Medical Systems", "DigitalDiagnost"), ("Carestream Health", "DRX-Revolution")),
}
_STAFF: Final = (
    "WALKER^ANNE", "CHEN^LI", "IBRAHIM^YUSUF", "NOVAK^PETRA", "REYES^DIEGO", "BERG^SOFIE",
)


@dataclass(frozen=True)
class Encoding:
    """How one image is stored: everything an archive varies independently of the anatomy."""

    modality: str
    photometric: str
    bits_stored: int
    transfer_syntax: UID
    rescale: tuple[float, float] | None
    """``(slope, intercept)``, or ``None`` for no Modality LUT attributes."""
    voi: str
    """``window``, ``lut`` or ``none``."""
    spacing_attributes: tuple[str, ...]
    body_part: bool
    value_range: tuple[float, float]
    """Fraction of the stored range the image occupies, low and high."""


def sample_encoding(rng: np.random.Generator) -> Encoding:
    modality = "CR" if rng.random() < 0.5 else "DX"
    inverted = rng.random() < (0.45 if modality == "CR" else 0.2)
    rescale = _RESCALES[int(rng.integers(len(_RESCALES)))] if rng.random() < 0.35 else None
    voi = str(rng.choice(["window", "lut", "none"], p=[0.5, 0.25, 0.25]))
    if voi == "lut" and rescale is not None:
        voi = "window"  # a VOI LUT indexed by non-integer rescaled values would be ill-defined
    return Encoding(
        modality=modality,
        photometric="MONOCHROME1" if inverted else "MONOCHROME2",
        bits_stored=int(rng.choice(_BITS_STORED[0], p=_BITS_STORED[1])),
        transfer_syntax=_TRANSFER_SYNTAXES[0][int(rng.choice(3, p=_TRANSFER_SYNTAXES[1]))],
        rescale=rescale,
        voi=voi,
        spacing_attributes=_SPACING_ATTRIBUTES[int(rng.choice(3, p=[0.6, 0.25, 0.15]))],
        body_part=rng.random() < 0.9,
        value_range=(rng.uniform(0.0, 0.08), rng.uniform(0.85, 1.0)),
    )


@dataclass(frozen=True)
class ImageUIDs:
    study: str
    series: str
    instance: str


def write_dicom(
    path: Path, rng: np.random.Generator, image: NDArray[np.float32], encoding: Encoding,
    identity: StudyIdentity, view: str, pose: Pose, uids: ImageUIDs,
) -> None:
    """Store ``image`` (display brightness in ``[0, 1]``) at ``path``, atomically."""
    stored = _quantise(image, encoding)
    ds = _header(rng, encoding, identity, view, pose, uids)
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = encoding.photometric
    ds.BitsAllocated = 16
    ds.BitsStored = encoding.bits_stored
    ds.HighBit = encoding.bits_stored - 1
    ds.PixelRepresentation = 0
    _add_value_transforms(rng, ds, stored, encoding)
    if encoding.transfer_syntax == ExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.PixelData = stored.astype("<u2").tobytes()
        ds["PixelData"].VR = "OW"
    else:
        # Pinned to the pylibjpeg encoders (a project dependency) so the bytes do not depend
        # on which other pydicom plugins happen to be installed.
        ds.compress(encoding.transfer_syntax, stored, encoding_plugin="pylibjpeg",
                    generate_instance_uid=False)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)


def _quantise(image: NDArray[np.float32], encoding: Encoding) -> NDArray[np.uint16]:
    top = 2**encoding.bits_stored - 1
    low, high = (round(fraction * top) for fraction in encoding.value_range)
    stored = np.rint(low + image.astype(np.float64) * (high - low))
    if encoding.photometric == "MONOCHROME1":
        stored = (low + high) - stored
    return stored.astype(np.uint16)


def _header(
    rng: np.random.Generator, encoding: Encoding, identity: StudyIdentity, view: str, pose: Pose,
    uids: ImageUIDs,
) -> Dataset:
    sop_class = (ComputedRadiographyImageStorage if encoding.modality == "CR"
                 else DigitalXRayImageStorageForPresentation)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uids.instance
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds = Dataset()
    ds.file_meta = meta
    patient = identity.patient
    site, address = _SITES[int(rng.integers(len(_SITES)))]
    equipment = _EQUIPMENT[encoding.modality]
    manufacturer, model = equipment[int(rng.integers(len(equipment)))]
    date, time = identity.performed.strftime("%Y%m%d"), identity.performed.strftime("%H%M%S")
    description = "CHEST (PA AND LAT)" if view == "PA" else "CHEST (PORTABLE AP)"

    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uids.instance
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
    ds.AccessionNumber = f"{int(rng.integers(10**7, 10**8))}"
    ds.Modality = encoding.modality
    ds.Manufacturer = manufacturer
    ds.InstitutionName = site
    ds.InstitutionAddress = address
    ds.ReferringPhysicianName = _STAFF[int(rng.integers(len(_STAFF)))]
    ds.StationName = f"{site.split()[0][:6]}RAD{int(rng.integers(1, 9))}"
    ds.StudyDescription = description
    ds.SeriesDescription = f"{view} CHEST"
    ds.OperatorsName = _STAFF[int(rng.integers(len(_STAFF)))]
    ds.ManufacturerModelName = model
    ds.PatientName = patient.name
    ds.PatientID = patient.medical_record_number
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d")
    ds.PatientSex = patient.sex
    ds.PatientAge = f"{identity.age:03d}Y"
    if encoding.body_part:
        ds.BodyPartExamined = "CHEST"
    ds.DeviceSerialNumber = f"{manufacturer[:2].upper()}{int(rng.integers(10**5, 10**6))}"
    ds.SoftwareVersions = f"{int(rng.integers(1, 9))}.{int(rng.integers(0, 20))}"
    ds.ViewPosition = view
    ds.StudyInstanceUID = uids.study
    ds.SeriesInstanceUID = uids.series
    ds.StudyID = f"{identity.number % 100000:05d}"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ["L", "F"]
    if encoding.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
    spacing = f"{pose.pixel_spacing:.4f}"
    for attribute in encoding.spacing_attributes:
        setattr(ds, attribute, [spacing, spacing])
    if encoding.transfer_syntax != ExplicitVRLittleEndian:
        ds.LossyImageCompression = "00"
    return ds


def _add_value_transforms(
    rng: np.random.Generator, ds: Dataset, stored: NDArray[np.uint16], encoding: Encoding,
) -> None:
    """Modality LUT (rescale) and VOI (window or LUT) attributes, fitted to the stored values."""
    slope, intercept = encoding.rescale or (1.0, 0.0)
    if encoding.rescale is not None:
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = f"{intercept:g}"
        ds.RescaleType = "US"
    low, high = np.percentile(stored[::4, ::4], [1.0, 99.0])
    if encoding.voi == "window":
        low, high = low * slope + intercept, high * slope + intercept
        center, width = (low + high) / 2, max((high - low) * 1.1, 2.0)
        if rng.random() < 0.25:  # vendors often offer a second, harder window
            ds.WindowCenter = [f"{center:.1f}", f"{center:.1f}"]
            ds.WindowWidth = [f"{width:.1f}", f"{width * 0.6:.1f}"]
        else:
            ds.WindowCenter, ds.WindowWidth = f"{center:.1f}", f"{width:.1f}"
    elif encoding.voi == "lut":
        first, entries = int(low), min(int(high) - int(low) + 1, 65535)
        output_bits = 12 if rng.random() < 0.5 else 16
        ramp = np.linspace(-4.0, 4.0, entries)
        curve = (np.tanh(ramp / 2.0) + 1.0) / 2.0
        item = Dataset()
        item.add_new(0x00283002, "US", [entries, first, output_bits])  # LUTDescriptor
        item.LUTExplanation = "SIGMOID"
        table = np.rint(curve * (2**output_bits - 1)).astype("<u2")
        item.add_new(0x00283006, "OW", table.tobytes())  # LUTData
        ds.VOILUTSequence = [item]
