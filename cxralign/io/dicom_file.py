"""Opening one DICOM file: the path itself, the bytes, the parse, and why each can fail.

Each failure gets its own reason so an operator can act on it: a dangling symlink is
``missing_file``, a cut-off download is ``truncated_file`` (not "no Pixel Data"), a deflated
data set that would inflate past the pixel bound is ``too_many_pixels`` (checked while
inflating, so a 100 KB file cannot cost gigabytes). Files without the 128-byte preamble and
``DICM`` prefix are still read (pydicom ``force=True``) when what follows parses as a data set.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Final

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from cxralign.io.input_file import regular_file_size
from cxralign.io.quiet import Chatter
from cxralign.io.rejections import Reason, Rejection

UNDEFINED_LENGTH: Final = 0xFFFFFFFF
# An explicit-VR element header is 8 or 12 bytes: fewer trailing bytes than that, left
# unparsed after the last element, are the start of an element the file was cut inside.
LONGEST_ELEMENT_HEADER: Final = 12
# pydicom's warning when a file ends inside an undefined-length (encapsulated) value.
END_OF_FILE_WARNING: Final = "End of file reached"
INFLATE_CHUNK: Final = 1 << 20
PREAMBLE_AND_PREFIX: Final = 132  # 128-byte preamble + "DICM"
GROUP_LENGTH_ELEMENT: Final = 12  # (0002,0000) UL, explicit VR: the meta length counts after it
# Elements at least one of which a real image data set has; a "forced" parse of arbitrary
# bytes yields nonsense tags instead.
IMAGE_KEYWORDS: Final = ("SOPClassUID", "PixelData", "Rows", "Modality")


def read_dicom(path: Path, max_inflated_bytes: int) -> tuple[Dataset, bool]:
    """The parsed data set of ``path`` and whether the file ends inside an element, or a
    ``Rejection`` saying exactly what is wrong. The data set may be incomplete: see
    ``check_complete``."""
    size = regular_file_size(path)
    _check_inflated_size(path, max_inflated_bytes)
    try:
        dataset = _parse(path)
    except Rejection:
        raise
    except (zlib.error, EOFError) as error:
        raise Rejection(
            Reason.TRUNCATED_FILE, f"the file ends inside its data ({type(error).__name__})"
        ) from None
    except Exception as error:  # noqa: BLE001 - any parse failure quarantines the file
        raise Rejection(
            Reason.UNREADABLE_FILE, f"not a readable DICOM file ({type(error).__name__})"
        ) from None
    # Now, while every element is still raw: reading a value drops its file offset.
    return dataset, _ends_inside_element(dataset, size)


def check_complete(dataset: Dataset, cut_short: bool, chatter: Chatter) -> None:
    """Reject a data set read from a cut-off file, or one without pixels.

    Separate from reading so the caller can first collect the (partial) header's identifiers,
    which it needs to scrub the study's report.
    """
    if cut_short or any(END_OF_FILE_WARNING in message for message in chatter.messages):
        raise Rejection(Reason.TRUNCATED_FILE, "the file ends inside an element")
    if "PixelData" not in dataset:
        raise Rejection(Reason.MISSING_PIXEL_DATA, "the DICOM file has no Pixel Data element")


def _parse(path: Path) -> Dataset:
    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        pass  # no preamble/DICM prefix: try the data set as it stands
    dataset = pydicom.dcmread(path, force=True)
    if not any(keyword in dataset for keyword in IMAGE_KEYWORDS):
        raise Rejection(Reason.UNREADABLE_FILE, "not a DICOM file (no preamble, no image data set)")
    _infer_transfer_syntax(dataset)
    return dataset


def _infer_transfer_syntax(dataset: Dataset) -> None:
    """A file without file meta still decodes if its syntax is the one pydicom parsed it in."""
    if not hasattr(dataset, "file_meta"):
        dataset.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" in dataset.file_meta:
        return
    implicit, little = dataset.original_encoding
    dataset.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little
        else ExplicitVRBigEndian
    )


def _ends_inside_element(dataset: Dataset, size: int) -> bool:
    syntax = getattr(dataset, "file_meta", FileMetaDataset()).get("TransferSyntaxUID")
    if syntax == DeflatedExplicitVRLittleEndian:
        return False  # offsets are in the inflated stream; zlib itself reports a cut stream
    elements = list(dataset.elements())
    if not elements:
        return False
    last = elements[-1]
    position, length = getattr(last, "value_tell", None), getattr(last, "length", None)
    if position is None or length is None or length == UNDEFINED_LENGTH:
        return False
    value = last.value
    if isinstance(value, (bytes, str)) and len(value) < length:
        return True
    unparsed = size - (position + length)
    return 0 < unparsed < LONGEST_ELEMENT_HEADER


def _check_inflated_size(path: Path, limit: int) -> None:
    """Inflate a deflated data set in chunks, refusing it as soon as it outgrows ``limit``."""
    try:
        meta = read_file_meta_info(path)
        group_length = meta.get("FileMetaInformationGroupLength")
        if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian or not group_length:
            return
        with path.open("rb") as handle:
            handle.seek(PREAMBLE_AND_PREFIX + GROUP_LENGTH_ELEMENT + int(group_length))
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            inflated = 0
            data = handle.read(INFLATE_CHUNK)
            while data and inflated <= limit:
                inflated += len(inflater.decompress(data, INFLATE_CHUNK))
                data = inflater.unconsumed_tail or handle.read(INFLATE_CHUNK)
        if inflated > limit:
            raise Rejection(
                Reason.TOO_MANY_PIXELS, f"the deflated data set inflates past {limit >> 20} MiB"
            )
    except (InvalidDicomError, OSError, EOFError, zlib.error, ValueError, TypeError):
        return  # not deflated, or broken: the full parse says which
