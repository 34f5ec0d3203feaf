"""How well the pairs reproduce the phantom generator's own sentence ↔ region statements.

The generator writes, for each report sentence, the (finding, existence, regions) it states
(``ground_truth/sentences.parquet``). Each (sentence, finding, region) of it is one *statement*;
it agrees when a ``region`` pair row (or the ``image`` row, for ``unspecified``) of that study
links the same sentence, matched by its text, to that region with that finding and existence.
Merged rows are not consulted: they repeat their member rows' statements.

A statement that fails is classified by the first thing that went wrong, which points at the
stage to fix: ``sentence not found`` (sentence splitting), ``region missing`` (the sentence
states nothing in that region: a wrong or missing region word), ``finding missing`` (it states
other findings there), ``existence differs`` (a missed negation or hedge).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from cxralign.io.deid import pseudonymize
from cxralign.pairs.alignment import MERGED
from cxralign.vocabulary import UNSPECIFIED_REGION

AGREE: Final = "agree"
SENTENCE_NOT_FOUND: Final = "sentence not found"
REGION_MISSING: Final = "region missing"
FINDING_MISSING: Final = "finding missing"
EXISTENCE_DIFFERS: Final = "existence differs"

SaidBy = dict[tuple[str, int], set[tuple[str, str, str]]]  # (study_id, sentence) -> statements


@dataclass(frozen=True)
class Disagreement:
    """One ground-truth statement the pairs do not reproduce, with what they say instead."""

    study_key: str
    sentence: str
    finding: str
    existence: str
    region: str
    outcome: str
    paired: tuple[tuple[str, str, str], ...]
    """(region, finding, existence) the pair rows link to this sentence."""


@dataclass
class AgreementReport:
    """Agreement overall and broken down; each ``by_*`` counter maps a group to (agreed, total)."""

    agreed: int = 0
    total: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_existence: dict[str, list[int]] = field(default_factory=dict)
    by_scope: dict[str, list[int]] = field(default_factory=dict)
    by_finding: dict[str, list[int]] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.agreed / self.total if self.total else 0.0

    def count(self, outcome: str, existence: str, scope: str, finding: str) -> None:
        agreed = outcome == AGREE
        self.agreed += agreed
        self.total += 1
        self.outcomes[outcome] += 1
        for groups, name in ((self.by_existence, existence), (self.by_scope, scope),
                             (self.by_finding, finding)):
            tally = groups.setdefault(name, [0, 0])
            tally[0] += agreed
            tally[1] += 1


def phantom_agreement(
    ground_truth_dir: Path, pairs: pa.Table, sentences: pa.Table, key: bytes
) -> float:
    """Share of ground-truth statements the pairs reproduce (see :func:`agreement_report`)."""
    return agreement_report(ground_truth_dir, pairs, sentences, key).rate


def agreement_report(
    ground_truth_dir: Path, pairs: pa.Table, sentences: pa.Table, key: bytes
) -> AgreementReport:
    """Score ``pairs`` against ``ground_truth_dir/sentences.parquet``; ``key`` is the ingestion
    pseudonymisation key (it links the generator's study keys to ``study_id``)."""
    truth = pq.read_table(Path(ground_truth_dir) / "sentences.parquet").to_pylist()
    indices = _sentence_indices(sentences)
    said_by = _said_by(pairs)
    report = AgreementReport()
    for row in truth:
        study_id = pseudonymize("study", row["study_key"], key)
        found = indices.get((study_id, _normalise(row["sentence"])), ())
        paired = set().union(*(said_by.get((study_id, index), set()) for index in found))
        scope = _scope(row["regions"])
        for region in row["regions"]:
            outcome = _outcome(bool(found), paired, region, row["finding"], row["existence"])
            report.count(outcome, row["existence"], scope, row["finding"])
            if outcome != AGREE:
                report.disagreements.append(Disagreement(
                    row["study_key"], row["sentence"], row["finding"], row["existence"], region,
                    outcome, tuple(sorted(paired)),
                ))
    return report


def _normalise(text: str) -> str:
    """Whitespace-insensitive sentence text (reports wrap lines inside sentences)."""
    return " ".join(text.split())


def _sentence_indices(sentences: pa.Table) -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    columns = sentences.select(["study_id", "sentence_index", "text"]).to_pydict()
    for study_id, index, text in zip(*columns.values(), strict=True):
        found.setdefault((study_id, _normalise(text)), []).append(index)
    return found


def _said_by(pairs: pa.Table) -> SaidBy:
    """(region, finding, existence) each sentence is linked to by a region or image row."""
    said: SaidBy = {}
    columns = pairs.select(
        ["study_id", "pair_kind", "region", "statement_sentences", "findings", "existence"]
    ).to_pydict()
    for study_id, kind, region, sentence_list, findings, existence in zip(
        *columns.values(), strict=True
    ):
        if kind == MERGED:
            continue
        for index, finding, state in zip(sentence_list, findings, existence, strict=True):
            said.setdefault((study_id, index), set()).add((region, finding, state))
    return said


def _scope(regions: list[str]) -> str:
    if regions == [UNSPECIFIED_REGION]:
        return "unspecified"
    return "one region" if len(regions) == 1 else "several regions"


def _outcome(
    found: bool, paired: set[tuple[str, str, str]], region: str, finding: str, existence: str
) -> str:
    if not found:
        return SENTENCE_NOT_FOUND
    if (region, finding, existence) in paired:
        return AGREE
    in_region = {(f, e) for r, f, e in paired if r == region}
    if not in_region:
        return REGION_MISSING
    return EXISTENCE_DIFFERS if any(f == finding for f, _ in in_region) else FINDING_MISSING
