"""The calibrated second stage: which rule-positive findings a human MeSH coder would index.

The rules say what a sentence states (``present``, ``uncertain``); OpenI's MeSH coders index only
part of that: few hedged alternatives ("may represent atelectasis or infiltrate"), few findings
the impression dismisses. This stage learns that convention from labelled reports. It never
changes the ``triplets`` table - a hedged mention stays ``uncertain``, a stated one ``present``,
because that is what the text says - but adds a separate report-level decision, *indexed*: for
each (report, finding) the rules call positive, whether the finding belongs in the report's
finding labels. Consumers that want report labels (``evaluate-text``'s calibrated rows) use it;
consumers of sentence triplets are unaffected.

The model is a logistic regression (L2) over a handful of readable features of the finding's
positive triplets in that report (:data:`FEATURES`; the finding's one-hot and its hedged
interaction make it per-class aware). ``cxralign fit-text-calibrator`` fits it and writes the
coefficients, the threshold and the feature names as JSON (no pickles), which ``evaluate-text
--calibrator`` reads. What coders index follows the hedge's strength: on the IU dev half a
finding only raised as a possibility ("may represent", "possibly", "suggestive of": feature
``hedge_weak``) was indexed in 5 of 82 (report, finding) pairs, one the radiologist leans to
("likely", "compatible with") in 24 of 29, one offered as a bare alternative ("atelectasis or
scarring") in 36 of 47.
One fitted model ships (:data:`SHIPPED`, fitted on the IU dev half with ``cxralign
fit-text-calibrator``; the confirm half never touched it): :func:`report_findings_table` applies
it, ``cxralign triplets`` and the ``report_triplets`` asset write that table beside the
triplets, ``evaluate-text`` scores it. A model only overrules the rules in a (finding, evidence
kind) cell it saw at least ``min_support`` times in training (:meth:`Calibrator.keeps`). Where
another coding convention applies, refit it on one's own labelled reports and name the JSON in
the ``calibrator`` text setting (``--calibrator``, the asset config, ``params.yaml``).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from cxralign.vocabulary import FINDINGS

POSITIVE: Final = frozenset({"present", "uncertain"})
# Evidence kinds, strongest first, with the feature that marks each; "hedged" is the rest.
_KIND_FEATURES: Final = (("stated", "present"), ("leaning", "hedge_leaning"),
                         ("alternative", "alternatives"), ("weak", "hedge_weak"))
EVIDENCE_KINDS: Final = tuple(kind for kind, _name in _KIND_FEATURES) + ("hedged",)
SHIPPED: Final = Path(__file__).with_name("calibration_data") / "indexed_iu_dev.json"
REPORT_FINDINGS_SCHEMA: Final = pa.schema([
    pa.field("study_id", pa.string(), nullable=False),
    pa.field("finding", pa.string(), nullable=False),
    pa.field("evidence_kind", pa.string(), nullable=False),
    pa.field("probability", pa.float64(), nullable=False),
    pa.field("indexed", pa.bool_(), nullable=False),
])

# Hedges that lean towards the finding, hedges that only raise it as a possibility, and cues
# that offer it as one of several alternatives (the cue of the alternatives rule: "A or B").
_LEANING: Final = re.compile(
    r"\b(?:likely|probabl[ey]|presum\w*|consistent|compatible|favou?r\w*)\b", re.I)
_WEAK: Final = re.compile(
    r"\b(?:may|might|could|possibl[ey]|possibility|suggest\w*|question\w*|consideration\w*"
    r"|cannot|worrisome|suspic\w*|suspected|concern\w*|differential|correlat\w*)\b",
    re.I)
_ALTERNATIVE: Final = re.compile(r"^(?:or|and/or|versus|vs)$", re.I)
_CHRONIC: Final = re.compile(
    r"\b(?:chronic|old|healed|stable|unchanged|remote|prior|previous|longstanding|again)\b", re.I)
_SLIGHT: Final = re.compile(r"\b(?:minimal|mild|slight|subtle|trace|tiny|small|minor)\b", re.I)

_BASE: Final = (
    "present", "hedge_leaning", "hedge_weak", "alternatives", "chronic", "slight", "mentions",
    "in_impression", "in_findings", "impression_negative", "report_sentences",
)
FEATURES: Final[tuple[str, ...]] = (
    _BASE + tuple(f"is:{f}" for f in FINDINGS) + tuple(f"hedged:{f}" for f in FINDINGS)
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One rule-positive (report, finding) and its feature values (by :data:`FEATURES` name)."""

    study_id: str
    finding: str
    features: Mapping[str, float]

    def vector(self, names: Sequence[str] = FEATURES) -> list[float]:
        return [float(self.features.get(name, 0.0)) for name in names]


@dataclass(frozen=True, slots=True)
class _Mention:
    existence: str
    section: str
    sentence: str
    cue: str | None


def candidates(sentences: pa.Table, triplets: pa.Table) -> list[Candidate]:
    """The rule-positive (report, finding) pairs of a parse, with their features."""
    sent = sentences.select(["study_id", "sentence_index", "section", "text"]).to_pydict()
    where = {
        (s, i): (sec, text)
        for s, i, sec, text in zip(sent["study_id"], sent["sentence_index"], sent["section"],
                                   sent["text"], strict=True)
    }
    n_sentences: dict[str, int] = defaultdict(int)
    for study_id in sent["study_id"]:
        n_sentences[study_id] += 1
    positive = triplets.filter(pc.is_in(triplets["existence"], pa.array(sorted(POSITIVE))))
    columns = ["study_id", "sentence_index", "finding", "existence", "cue"]
    trip = positive.select(columns).to_pydict()
    mentions: dict[tuple[str, str], dict[int, _Mention]] = defaultdict(dict)
    impression_positive: set[str] = set()
    for study_id, index, finding, existence, cue in zip(
        trip["study_id"], trip["sentence_index"], trip["finding"], trip["existence"], trip["cue"],
        strict=True,
    ):
        section, text = where[(study_id, index)]
        impression_positive.update([study_id] if section == "impression" else [])
        known = mentions[(study_id, finding)].get(index)
        if known is None or known.existence != "present":  # present outranks uncertain
            mentions[(study_id, finding)][index] = _Mention(existence, section, text, cue)
    has_impression = {s for s, _i in where if where[(s, _i)][0] == "impression"}
    out = []
    for (study_id, finding), by_sentence in mentions.items():
        out.append(Candidate(study_id, finding, _features(
            finding, list(by_sentence.values()), n_sentences[study_id],
            study_id in has_impression and study_id not in impression_positive,
        )))
    return out


def _features(finding: str, mentions: list[_Mention], sentence_count: int,
              impression_negative: bool) -> dict[str, float]:
    present = any(m.existence == "present" for m in mentions)
    hedged = [m for m in mentions if m.existence == "uncertain"]
    values = {
        "present": float(present),
        "hedge_leaning": float(not present and any(_LEANING.search(m.cue or "") for m in hedged)),
        "hedge_weak": float(not present and all(_WEAK.search(m.cue or "") for m in hedged)),
        "alternatives": float(not present and all(_ALTERNATIVE.match((m.cue or "").strip())
                                                  for m in hedged)),
        "chronic": float(all(_CHRONIC.search(m.sentence) for m in mentions)),
        "slight": float(all(_SLIGHT.search(m.sentence) for m in mentions)),
        "mentions": math.log1p(len(mentions)),
        "in_impression": float(any(m.section == "impression" for m in mentions)),
        "in_findings": float(any(m.section == "findings" for m in mentions)),
        "impression_negative": float(impression_negative),
        "report_sentences": math.log1p(sentence_count),
        f"is:{finding}": 1.0,
    }
    if not present:
        values[f"hedged:{finding}"] = 1.0
    return values


def evidence_kind(candidate: Candidate) -> str:
    """How the report states the finding, strongest first: ``stated`` (a present mention),
    ``leaning``, ``alternative`` (bare "A or B"), ``weak`` (only raised as a possibility), or
    ``hedged`` (another hedge)."""
    for kind, name in _KIND_FEATURES:
        if candidate.features.get(name):
            return kind
    return "hedged"


def cell(candidate: Candidate) -> str:
    """The (finding, evidence kind) cell whose training support licenses overruling the rules."""
    return f"{candidate.finding}|{evidence_kind(candidate)}"


def cell_support(found: Iterable[Candidate]) -> dict[str, int]:
    """How many training candidates each (finding, evidence kind) cell holds."""
    support: dict[str, int] = defaultdict(int)
    for candidate in found:
        support[cell(candidate)] += 1
    return dict(sorted(support.items()))


def rules_decide(candidate: Candidate, support: Mapping[str, int], min_support: int) -> bool:
    """True when the candidate's cell had too few training candidates for a model to overrule
    the rules there (the rule-positive stays a report finding)."""
    return support.get(cell(candidate), 0) < min_support


@dataclass(frozen=True)
class Calibrator:
    """A fitted logistic model: ``P(indexed) = sigmoid(intercept + coefficients . features)``;
    a rule-positive is indexed when that probability reaches ``threshold`` - or when its
    (finding, evidence kind) cell had fewer than ``min_support`` training candidates. The model
    shares the hedge weights across findings, so without that guard it would drop, say, a
    weakly hedged nodule although no weakly hedged nodule was ever seen in training; where the
    labels say nothing, the rules decide."""

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    threshold: float
    support: Mapping[str, int]
    min_support: int
    provenance: Mapping[str, object]

    @cached_property
    def _weights(self) -> dict[str, float]:
        return dict(zip(self.features, self.coefficients, strict=True))

    def probability(self, candidate: Candidate) -> float:
        # a candidate sets about a dozen of the features: a sparse dot product
        weights = self._weights
        z = self.intercept + sum(weights.get(name, 0.0) * value
                                 for name, value in candidate.features.items())
        return 1.0 / (1.0 + math.exp(-z))

    def decide(self, candidate: Candidate) -> tuple[float, bool]:
        """The probability and whether the rule-positive stays a report finding."""
        probability = self.probability(candidate)
        kept = (rules_decide(candidate, self.support, self.min_support)
                or probability >= self.threshold)
        return probability, kept

    def keeps(self, candidate: Candidate) -> bool:
        """Whether the rule-positive stays a report finding."""
        return self.decide(candidate)[1]

    def indexed(self, found: Iterable[Candidate]) -> dict[str, set[str]]:
        """study_id -> the findings a coder would index."""
        out: dict[str, set[str]] = defaultdict(set)
        for candidate in found:
            if self.keeps(candidate):
                out[candidate.study_id].add(candidate.finding)
        return out

    def to_json(self) -> str:
        return json.dumps(
            {"model": "logistic regression, L2", "features": list(self.features),
             "coefficients": [round(c, 6) for c in self.coefficients],
             "intercept": round(self.intercept, 6), "threshold": round(self.threshold, 4),
             "min_support": self.min_support, "support": dict(self.support),
             "provenance": dict(self.provenance)},
            indent=1,
        ) + "\n"

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        """The model in a JSON file ``to_json`` wrote; a ``ValueError`` naming what is missing
        for a file that is not one (or one written before the support guard existed)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        missing = [key for key in ("features", "coefficients", "intercept", "threshold",
                                   "support", "min_support") if key not in data]
        if missing:
            raise ValueError(f"{path} is not a calibrator of this version (no "
                             f"{', '.join(missing)}); refit it with `cxralign fit-text-calibrator`")
        return cls(tuple(data["features"]), tuple(data["coefficients"]), data["intercept"],
                   data["threshold"], data["support"], data["min_support"],
                   data.get("provenance", {}))


def load_calibrator(path: str | Path) -> Calibrator:
    """The calibrator at ``path``, or the shipped one for an empty path (the setting's default);
    a ``ValueError`` that names the path when there is no such file or it is no calibrator."""
    if not str(path):
        return Calibrator.load(SHIPPED)
    if not Path(path).is_file():
        raise ValueError(f"calibrator {path} not found; give the JSON `cxralign "
                         "fit-text-calibrator --out FILE` wrote, or nothing for the shipped one")
    return Calibrator.load(Path(path))


def report_findings_table(sentences: pa.Table, triplets: pa.Table,
                          calibrator: Calibrator) -> pa.Table:
    """One row per rule-positive (report, finding): how the report states it, the model's
    probability that a coder indexes it and the decision (:meth:`Calibrator.keeps`). Report
    labels are the ``indexed`` rows; the ``triplets`` table itself stays what the text says."""
    rows = []
    for c in sorted(candidates(sentences, triplets), key=lambda c: (c.study_id, c.finding)):
        probability, indexed = calibrator.decide(c)
        rows.append({"study_id": c.study_id, "finding": c.finding,
                     "evidence_kind": evidence_kind(c), "probability": probability,
                     "indexed": indexed})
    return pa.Table.from_pylist(rows, schema=REPORT_FINDINGS_SCHEMA)
