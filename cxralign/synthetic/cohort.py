"""Who the phantom patients are: MIMIC-CXR-style numbers, fake identities, visit dates, UIDs.

Everything derives from the dataset seed and an index, never from a clock or ``uuid4``:

* study ``i`` gets study number ``5xxxxxxx`` through a bijection of ``i``, so numbers are unique
  and look shuffled;
* patients are drawn one after another, each with 1-3 studies, so the first ``n`` studies of a
  larger dataset are exactly the ``n`` studies of a smaller one with the same seed;
* DICOM UIDs sit under the ``2.25`` root (an integer from a UUID-sized hash).

The names, record numbers and dates are fake but realistic on purpose: they are the protected
health information the ingestion stage must remove.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

import numpy as np

_NUMBER_SPACE: Final = 10_000_000
_STUDY_STRIDE: Final = 7_368_787  # coprime to 10**7, so index -> number is a bijection
_PATIENT_STRIDE: Final = 3_141_593
_STUDIES_PER_PATIENT: Final = ((1, 2, 3), (0.75, 0.18, 0.07))

_FIRST_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "F": ("MARY", "LINDA", "SUSAN", "KAREN", "NANCY", "ROSA", "AIKO", "FATIMA", "INGRID", "MARTA",
          "GRACE", "OLIVIA", "PRIYA", "HANNA", "CHLOE", "LEILA"),
    "M": ("JOHN", "ROBERT", "JAMES", "DAVID", "CARLOS", "WEI", "AHMED", "IVAN", "PIETRO", "KOFI",
          "LUCAS", "OMAR", "RAJ", "HENRIK", "SAMUEL", "MATEO"),
}
_LAST_NAMES: Final = (
    "SMITH", "JOHNSON", "GARCIA", "MILLER", "DAVIS", "NGUYEN", "KOWALSKI", "OKAFOR", "TANAKA",
    "MULLER", "ROSSI", "HASSAN", "PETROV", "LINDQVIST", "OBRIEN", "SANTOS", "KIM", "PATEL",
    "DUBOIS", "MORALES",
)


@dataclass(frozen=True)
class Patient:
    number: int
    """MIMIC-CXR ``subject_id``: eight digits starting with 1."""
    name: str
    """DICOM person name, ``LAST^FIRST``."""
    sex: str
    birth_date: dt.date
    medical_record_number: str

    @property
    def key(self) -> str:
        return f"p{self.number}"


@dataclass(frozen=True)
class StudyIdentity:
    index: int
    """Position in the dataset; with the seed, it determines everything about the study."""
    patient: Patient
    number: int
    """MIMIC-CXR ``study_id``: eight digits starting with 5."""
    visit: int
    """0 for the patient's first study; later visits have a prior to compare with."""
    performed: dt.datetime

    @property
    def key(self) -> str:
        return f"s{self.number}"

    @property
    def folder(self) -> PurePosixPath:
        """``files/pXX/pXXXXXXXX`` (relative), where the study folder and report live."""
        return PurePosixPath("files", self.patient.key[:3], self.patient.key)

    @property
    def age(self) -> int:
        born, on = self.patient.birth_date, self.performed.date()
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def plan_cohort(seed: int, studies: int) -> list[StudyIdentity]:
    """The patients and study numbers of a dataset of ``studies`` studies."""
    planned: list[StudyIdentity] = []
    patient_index = 0
    while len(planned) < studies:
        rng = np.random.default_rng([seed, 1, patient_index])
        patient = _patient(rng, seed, patient_index)
        count = int(rng.choice(_STUDIES_PER_PATIENT[0], p=_STUDIES_PER_PATIENT[1]))
        performed = dt.datetime(2012, 1, 1) + dt.timedelta(
            days=int(rng.integers(0, 11 * 365)), minutes=int(rng.integers(6 * 60, 23 * 60)))
        for visit in range(min(count, studies - len(planned))):
            index = len(planned)
            planned.append(StudyIdentity(
                index=index, patient=patient, number=_scatter(seed, index, _STUDY_STRIDE, 50_000_000),
                visit=visit, performed=performed,
            ))
            performed += dt.timedelta(
                days=int(rng.integers(2, 400)), minutes=int(rng.integers(-300, 300)))
        patient_index += 1
    return planned


def _patient(rng: np.random.Generator, seed: int, index: int) -> Patient:
    sex = "F" if rng.random() < 0.5 else "M"
    first = _FIRST_NAMES[sex][int(rng.integers(len(_FIRST_NAMES[sex])))]
    last = _LAST_NAMES[int(rng.integers(len(_LAST_NAMES)))]
    age_days = int(rng.integers(18 * 365, 95 * 365))
    return Patient(
        number=_scatter(seed, index, _PATIENT_STRIDE, 10_000_000),
        name=f"{last}^{first}",
        sex=sex,
        birth_date=dt.date(2012, 1, 1) - dt.timedelta(days=age_days),
        medical_record_number=f"{int(rng.integers(10**7, 10**8))}",
    )


def _scatter(seed: int, index: int, stride: int, base: int) -> int:
    """An eight-digit number unique per ``index`` (a modular bijection), shifted by the seed."""
    offset = int.from_bytes(hashlib.sha256(f"{seed}:{stride}".encode()).digest()[:8], "big")
    return base + (index * stride + offset) % _NUMBER_SPACE


def derive_uid(*parts: object) -> str:
    """A DICOM UID under the ``2.25`` root from a hash of ``parts`` (at most 44 characters)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"
