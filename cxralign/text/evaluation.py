"""Report-level evaluation of the triplet parser against OpenI's human MeSH terms.

For each report, the findings+impression text is parsed; a finding is *predicted* when any of its
triplets is present or uncertain, and *expected* when a MeSH major term maps onto it
(:mod:`cxralign.text.mesh`). Reported: per-finding and micro/macro precision, recall, F1 (from
plain confusion counts), the share of MeSH-``normal`` reports with no predicted finding, and
side/zone agreement where MeSH names them: for each (report, finding) that MeSH locates and the
parser predicts with a located region, whether the parser's set of sides (zones) equals MeSH's.
Reports are split into two halves by a hash of their id (``dev`` to develop rules on, ``confirm``
to check they generalise), so the split is stable and independent of file order. Every figure is
given under both MeSH readings of :mod:`cxralign.text.mesh`: ``broad`` (every term that implies
the finding) and ``strict`` (only terms whose head names the finding; the one targets use),
and for two predictions: the rules alone, and the report findings the calibrated second stage
(:mod:`cxralign.text.calibration`) indexes among them - the report labels targets are read on.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa

from cxralign.text.calibration import POSITIVE, Calibrator, candidates
from cxralign.text.mesh import BROAD, MAPPINGS, NORMAL, STRICT, MeshFinding, major_terms, read_term
from cxralign.text.pipeline import TripletParser, sections_table, sentences_table, triplets_table
from cxralign.vocabulary import FINDINGS

MIN_SUPPORT: Final = 20  # findings with fewer expected reports are shown but not averaged
_ZONE_OF: Final = (
    ("lower lung zone", "lower"), ("costophrenic angle", "lower"), ("hemidiaphragm", "lower"),
    ("upper lung zone", "upper"), ("apical zone", "upper"), ("mid lung zone", "mid"),
    ("hilar structures", "hilar"),
)


@dataclass(frozen=True, slots=True)
class Report:
    """One OpenI report: its id, XML text and MeSH major terms."""

    study_id: str
    xml: str
    terms: tuple[str, ...]


@dataclass
class Scores:
    """Confusion counts per finding plus the normal-report and location checks."""

    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    reports: int = 0
    normal_reports: int = 0
    normal_clean: int = 0
    side_checked: int = 0
    side_agree: int = 0
    zone_checked: int = 0
    zone_agree: int = 0
    unmapped: Counter[str] = field(default_factory=Counter)

    def prf(self, finding: str) -> tuple[float, float, float]:
        return _prf(self.tp[finding], self.fp[finding], self.fn[finding])

    def micro(self, findings: Iterable[str]) -> tuple[float, float, float]:
        findings = list(findings)
        return _prf(sum(self.tp[f] for f in findings), sum(self.fp[f] for f in findings),
                    sum(self.fn[f] for f in findings))

    def macro(self, findings: Iterable[str]) -> tuple[float, float, float]:
        values = [self.prf(f) for f in findings]
        if not values:
            return 0.0, 0.0, 0.0
        return tuple(sum(v[i] for v in values) / len(values) for i in range(3))  # type: ignore[return-value]

    @property
    def normal_share(self) -> float:
        return self.normal_clean / self.normal_reports if self.normal_reports else 0.0

    @property
    def side_agreement(self) -> float:
        return self.side_agree / self.side_checked if self.side_checked else 0.0

    @property
    def zone_agreement(self) -> float:
        return self.zone_agree / self.zone_checked if self.zone_checked else 0.0


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def load_reports(directory: Path) -> list[Report]:
    """Every ``*.xml`` OpenI report under ``directory``, sorted by id."""
    reports = []
    for path in sorted(Path(directory).glob("*.xml")):
        xml = path.read_text(encoding="utf-8", errors="replace")
        reports.append(Report(path.stem, xml, tuple(major_terms(xml))))
    return reports


def half(study_id: str) -> str:
    """``dev`` or ``confirm``: a stable hash split of the report ids."""
    return "dev" if hashlib.sha256(study_id.encode()).digest()[0] % 2 == 0 else "confirm"


def expected_findings(
    report: Report, mapping: str = BROAD
) -> tuple[dict[str, list[MeshFinding]], list[str]]:
    """MeSH findings of a report by finding (under ``mapping``), and its unmapped heads."""
    found: dict[str, list[MeshFinding]] = defaultdict(list)
    unmapped = []
    for term in report.terms:
        mesh_findings, is_unmapped = read_term(term, mapping)
        if is_unmapped:
            unmapped.append(term.split("/")[0])
        for item in mesh_findings:
            found[item.finding].append(item)
    return found, unmapped


def parse(reports: list[Report], parser: TripletParser) -> tuple[pa.Table, pa.Table]:
    """The ``sentences`` and ``triplets`` tables of the reports' findings+impression text."""
    table = pa.table(
        {
            "study_id": [r.study_id for r in reports],
            "report_text": [r.xml for r in reports],
            "report_format": ["openi_xml"] * len(reports),
        }
    )
    sections, _rejected = sections_table(table)
    sentences = sentences_table(sections)
    return sentences, triplets_table(sentences, parser)


def positive_regions(triplets: pa.Table) -> dict[str, dict[str, set[str]]]:
    """study_id -> finding -> regions of its positive (present or uncertain) triplets."""
    columns = triplets.select(["study_id", "finding", "existence", "region"]).to_pydict()
    predicted: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for study_id, finding, existence, region in zip(
        columns["study_id"], columns["finding"], columns["existence"], columns["region"],
        strict=True,
    ):
        if existence in POSITIVE:
            predicted[study_id][finding].add(region)
    return predicted


def predict(reports: list[Report], parser: TripletParser) -> dict[str, dict[str, set[str]]]:
    """study_id -> finding -> regions of its positive triplets (findings+impression text)."""
    return positive_regions(parse(reports, parser)[1])


def keep_indexed(
    predicted: dict[str, dict[str, set[str]]], indexed: dict[str, set[str]]
) -> dict[str, dict[str, set[str]]]:
    """The predictions restricted to the (report, finding) pairs a calibrator indexes."""
    return {
        study_id: {f: regions for f, regions in found.items() if f in indexed.get(study_id, ())}
        for study_id, found in predicted.items()
    }


def _sides(regions: set[str]) -> frozenset[str]:
    """Sides named by lung-side regions (not the right atrium: a central structure)."""
    return frozenset(
        side for side in ("left", "right") for r in regions
        if r.startswith(side) and r != "right atrium"
    )


def _zones(regions: set[str]) -> frozenset[str]:
    return frozenset(zone for r in regions for suffix, zone in _ZONE_OF if r.endswith(suffix))


def score(
    reports: list[Report], predicted: dict[str, dict[str, set[str]]], mapping: str = BROAD
) -> Scores:
    """Compare predictions with the MeSH reference read under ``mapping``."""
    scores = Scores()
    for report in reports:
        expected, unmapped = expected_findings(report, mapping)
        scores.unmapped.update(unmapped)
        got = predicted.get(report.study_id, {})
        scores.reports += 1
        if any(term.split("/")[0] == NORMAL for term in report.terms):
            scores.normal_reports += 1
            scores.normal_clean += not got
        for finding in FINDINGS:
            if finding in expected and finding in got:
                scores.tp[finding] += 1
                _locate(scores, expected[finding], got[finding])
            elif finding in got:
                scores.fp[finding] += 1
            elif finding in expected:
                scores.fn[finding] += 1
    return scores


def _locate(scores: Scores, mesh: list[MeshFinding], regions: set[str]) -> None:
    mesh_sides = frozenset().union(*(m.sides for m in mesh))
    ours = _sides(regions)
    if mesh_sides and ours:
        scores.side_checked += 1
        scores.side_agree += ours == mesh_sides
    mesh_zones = frozenset().union(*(m.zones for m in mesh))
    our_zones = _zones(regions)
    if mesh_zones and our_zones:
        scores.zone_checked += 1
        scores.zone_agree += our_zones == mesh_zones


def split_scores(
    reports: list[Report], predicted: dict[str, dict[str, set[str]]], mapping: str = BROAD
) -> dict[str, Scores]:
    """Scores on the ``dev`` half, the ``confirm`` half and ``all`` of ``reports``."""
    return {
        "dev": score([r for r in reports if half(r.study_id) == "dev"], predicted, mapping),
        "confirm": score([r for r in reports if half(r.study_id) == "confirm"], predicted, mapping),
        "all": score(reports, predicted, mapping),
    }


def evaluate(directory: Path, parser: TripletParser, mapping: str = BROAD) -> dict[str, Scores]:
    """Scores per half of the reports of ``directory`` under one MeSH ``mapping``."""
    reports = load_reports(directory)
    return split_scores(reports, predict(reports, parser), mapping)


CALIBRATED: Final = "+calibrator"


def evaluate_mappings(
    directory: Path, parser: TripletParser, calibrator: Calibrator | None = None
) -> dict[str, dict[str, Scores]]:
    """Scores per half under each MeSH mapping (``broad``, ``strict``), from one parse; with a
    ``calibrator`` also of the findings it indexes (keys ``strict+calibrator``, ...)."""
    reports = load_reports(directory)
    sentences, triplets = parse(reports, parser)
    predicted = positive_regions(triplets)
    results = {mapping: split_scores(reports, predicted, mapping) for mapping in MAPPINGS}
    if calibrator is not None:
        kept = keep_indexed(predicted, calibrator.indexed(candidates(sentences, triplets)))
        for mapping in MAPPINGS:
            results[mapping + CALIBRATED] = split_scores(reports, kept, mapping)
    return results


def frequent_findings(scores: Scores, min_support: int = MIN_SUPPORT) -> list[str]:
    """Findings with at least ``min_support`` expected reports."""
    return [f for f in FINDINGS if scores.tp[f] + scores.fn[f] >= min_support]


def to_markdown(results: dict[str, Scores], parser_name: str, mapping: str = BROAD) -> str:
    """The evaluation as a Markdown section (summary per half, per finding on all, then per
    finding and half: the rule changes are checked half by half)."""
    everything = results["all"]
    frequent = frequent_findings(everything)
    lines = [
        f"Backend: `{parser_name}`. MeSH mapping: `{mapping}`. Findings averaged "
        f"(>= {MIN_SUPPORT} MeSH reports): {len(frequent)}.",
        "",
        "| split | reports | micro P | micro R | micro F1 | macro F1 | micro F1 (all findings)"
        " | normal reports clean | side agreement (n) | zone agreement (n) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, scores in results.items():
        p, r, f = scores.micro(frequent)
        lines.append(
            f"| {name} | {scores.reports} | {p:.3f} | {r:.3f} | {f:.3f} | "
            f"{scores.macro(frequent)[2]:.3f} | {scores.micro(FINDINGS)[2]:.3f} | "
            f"{scores.normal_share:.3f} ({scores.normal_clean}/{scores.normal_reports}) | "
            f"{scores.side_agreement:.3f} ({scores.side_checked}) | "
            f"{scores.zone_agreement:.3f} ({scores.zone_checked}) |"
        )
    lines += ["", "| finding | support | TP | FP | FN | P | R | F1 |", "|---|---|---|---|---|---|---|---|"]
    for finding in sorted(FINDINGS, key=lambda f: -(everything.tp[f] + everything.fn[f])):
        tp, fp, fn = everything.tp[finding], everything.fp[finding], everything.fn[finding]
        if tp + fp + fn == 0:
            continue
        p, r, f = everything.prf(finding)
        marker = "" if finding in frequent else " (rare)"
        lines.append(f"| {finding}{marker} | {tp + fn} | {tp} | {fp} | {fn} | {p:.3f} | {r:.3f} | {f:.3f} |")
    halves = [name for name in ("dev", "confirm") if name in results]
    if halves:
        lines += ["", "Per half, averaged findings (P / R, TP-FP-FN):", "",
                  "| finding | " + " | ".join(halves) + " |",
                  "|---|" + "---|" * len(halves)]
        for finding in frequent:
            cells = []
            for name in halves:
                part = results[name]
                p, r, _ = part.prf(finding)
                cells.append(f"{p:.3f} / {r:.3f} ({part.tp[finding]}-{part.fp[finding]}-"
                             f"{part.fn[finding]})")
            lines.append(f"| {finding} | " + " | ".join(cells) + " |")
    if everything.unmapped:
        heads = ", ".join(f"{h} ({n})" for h, n in everything.unmapped.most_common())
        lines += ["", f"MeSH heads in no mapping table (ignored): {heads}."]
    return "\n".join(lines) + "\n"


def mappings_to_markdown(results: dict[str, dict[str, Scores]], parser_name: str) -> str:
    """Each reading under its own heading: the report findings (rules + calibrated second
    stage, the labels targets use) first, then the rules alone; strict before broad."""
    titles = {STRICT: "Strict MeSH mapping", BROAD: "Broad MeSH mapping"}
    kinds = {
        CALIBRATED: ", report findings: rules + calibrated second stage (`indexed`; its dev "
                    "half is in-sample for the shipped model)",
        "": ", rules alone (every present or uncertain finding)",
    }
    parts = []
    for suffix in (CALIBRATED, ""):
        for mapping in (STRICT, BROAD):
            if mapping + suffix not in results:
                continue
            target = " (targets)" if mapping == STRICT and suffix == CALIBRATED else ""
            body = to_markdown(results[mapping + suffix], parser_name, mapping)
            parts.append(f"### {titles[mapping]}{target}{kinds[suffix]}\n\n{body}")
    return "\n".join(parts)
