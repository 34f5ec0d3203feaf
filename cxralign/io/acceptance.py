"""The accept-list: is this data set a projection radiograph of a human chest?

An accept-list, not a deny-list: a new modality code, a new species or an unheard-of body part
is refused until someone decides it belongs. Each test reads the header only, before any pixel
is decoded. Rejection details name only fixed words and DICOM defined terms, never a free-text
header value.
"""

from __future__ import annotations

import re
from typing import Final

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
)

from cxralign.io.rejections import Flag, Reason, Rejection

RADIOGRAPH_MODALITIES: Final = frozenset({"CR", "DX", "DR"})
RADIOGRAPH_SOP_CLASSES: Final = frozenset(
    {
        ComputedRadiographyImageStorage,
        DigitalXRayImageStorageForPresentation,
        DigitalXRayImageStorageForProcessing,
    }
)
# Body Part Examined words that make a radiograph a chest one; any other stated body part is
# refused. A missing one is kept and flagged: many chest archives leave it empty.
CHEST_WORDS: Final = frozenset(
    {"CHEST", "THORAX", "THORACIC", "LUNG", "LUNGS", "RIBS", "STERNUM", "TORAX", "THORAKS"}
)
HUMAN_SPECIES: Final = frozenset({"HOMO SAPIENS", "HUMAN"})
# SNOMED CT 337915000 and its SNOMED RT predecessor L-85B00 both mean Homo sapiens.
HUMAN_SPECIES_CODES: Final = frozenset({"337915000", "L-85B00"})
BURNED_IN_POLICIES: Final = ("reject", "flag")
# DICOM defined terms a rejection detail may name; anything else is shown as "other" since a
# code string field can still hold whatever a site typed.
NAMED_TERMS: Final = frozenset(
    """
    CT MR US NM PT MG XA RF ES OP OPT OCT IVUS SR PR KO SEG REG DOC ECG HD AU OT SC
    RTSTRUCT RTPLAN RTDOSE RTRECORD RTIMAGE SM XC GM IO PX BMD
    EXTREMITY HAND FINGER WRIST FOREARM ARM ELBOW HUMERUS SHOULDER CLAVICLE SCAPULA FOOT TOE
    ANKLE LEG TIBIA FIBULA KNEE FEMUR HIP PELVIS SKULL HEAD BRAIN FACE SINUS JAW NECK CSPINE
    TSPINE LSPINE SSPINE COCCYX SACRUM ABDOMEN BREAST SPINE WHOLEBODY
    """.split()
)


def check_acceptable(dataset: Dataset, burned_in: str, flags: list[str]) -> str:
    """Refuse anything but a human chest projection radiograph; return its modality."""
    modality = _modality(dataset, flags)
    _check_species(dataset)
    _check_body_part(dataset, flags)
    if _single(dataset, "BurnedInAnnotation") == "YES":
        if burned_in != "flag":
            raise Rejection(
                Reason.BURNED_IN_ANNOTATION,
                "BurnedInAnnotation is YES: the pixels may show identifying text",
            )
        flags.append(Flag.BURNED_IN_ANNOTATION)
    return modality


def defined_term(value: str) -> str:
    """``value`` if it is a known DICOM defined term, else ``other``: safe for a detail."""
    return value if value in NAMED_TERMS else "other"


def _single(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    if isinstance(value, MultiValue):
        value = value[0] if len(value) else ""
    return str(value).strip().upper() if value not in (None, "") else ""


def _modality(dataset: Dataset, flags: list[str]) -> str:
    value = dataset.get("Modality")
    if isinstance(value, MultiValue) or "\\" in str(value or ""):
        raise Rejection(Reason.MULTI_VALUED_MODALITY, "Modality holds more than one value")
    modality = str(value or "").strip().upper()
    if modality in RADIOGRAPH_MODALITIES:
        return modality
    # Modality missing or not a projection one: the SOP class decides, since a converter
    # may drop or rewrite Modality but cannot change what the object is stored as.
    sop_class = str(dataset.get("SOPClassUID", "")).strip()
    if sop_class in RADIOGRAPH_SOP_CLASSES:
        flags.append(Flag.MODALITY_FROM_SOP_CLASS if modality else Flag.MODALITY_MISSING)
        return "DX" if sop_class != ComputedRadiographyImageStorage else "CR"
    stated = f"modality {defined_term(modality)}" if modality else "no modality"
    raise Rejection(
        Reason.NON_RADIOGRAPH_MODALITY,
        f"{stated} and a SOP class that is not CR/DX: not a projection radiograph",
    )


def _check_species(dataset: Dataset) -> None:
    description = _single(dataset, "PatientSpeciesDescription")
    codes = {
        str(item.get("CodeValue", "")).strip()
        for item in dataset.get("PatientSpeciesCodeSequence") or []
    }
    non_human_code = bool(codes) and not codes & HUMAN_SPECIES_CODES
    if (description and description not in HUMAN_SPECIES) or non_human_code:
        raise Rejection(Reason.NON_HUMAN_SUBJECT, "the patient species is not Homo sapiens")


def _check_body_part(dataset: Dataset, flags: list[str]) -> None:
    body_part = _single(dataset, "BodyPartExamined")
    if not body_part:
        flags.append(Flag.BODY_PART_MISSING)
        return
    words = set(re.split(r"[^A-Z]+", body_part)) - {""}
    if not words & CHEST_WORDS:
        raise Rejection(
            Reason.NON_CHEST_BODY_PART,
            f"body part examined is {defined_term(body_part)}, not chest",
        )
