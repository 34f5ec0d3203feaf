"""Deterministic patient-level train/validate/test assignment.

The split is a function of the patient pseudonym alone, so every study of a patient lands in
the same split, re-ingesting never moves a patient, and a new batch needs no global state.
Pseudonyms are keyed hashes, hence uniformly distributed hex: their leading digits are a fair
uniform draw.
"""

from __future__ import annotations

from typing import Final

SPLITS: Final = ("train", "validate", "test")
_DIGITS: Final = 8


def assign_split(patient_id: str, validate_fraction: float, test_fraction: float) -> str:
    """``test`` for the first ``test_fraction`` of the hash space, then ``validate``, else train."""
    draw = int(patient_id[:_DIGITS], 16) / 16**_DIGITS
    if draw < test_fraction:
        return "test"
    if draw < test_fraction + validate_fraction:
        return "validate"
    return "train"
