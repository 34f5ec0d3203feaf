"""Free-text reports in the style of MIMIC-CXR, with a record of what every sentence states.

A report is assembled from sentences, and each sentence carries the :class:`Statement` s it makes
(finding, existence, regions). Because text and statements are produced together, the
ground truth of region-sentence pairing is exact, while the text varies the way real reports do:
optional header and sections, heading spellings, synonyms, negations, hedges and location words
("right base", "bibasilar", "retrocardiac", "right upper lobe").

Conventions a reader of the ground truth needs:

* Sentences under no heading are recorded with section ``findings``.
* A negated finding that names no location has regions ``("unspecified",)``; one negated with
  "the lungs" as subject ("The lungs are clear without consolidation") is located in the right
  and left lung, as the text stage reads it.
* "The lungs are clear" states opacity absent in both lungs; "The lungs are free of X" states
  only X absent: being free of one finding does not make the lungs clear.
* A statement's regions are what its sentence says, which may differ from the lesion's region
  in ``findings.parquet``: edema is drawn in the lungs (its lesion region), but a sentence that
  calls it "perihilar" locates it in the hilar structures of the same side, the Chest ImaGenome
  convention the text stage follows (see :data:`_WORDED_REGIONS`).
* The sentence text is recorded exactly as it appears in the report (reports are not wrapped);
  an impression item may be printed with a ``1.`` prefix that is not part of the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from cxralign.synthetic.lesions import Lesion
from cxralign.vocabulary import UNSPECIFIED_REGION


@dataclass(frozen=True)
class Statement:
    finding: str
    existence: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Sentence:
    section: str
    text: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Report:
    text: str
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class ClinicalContext:
    """What the requisition says about the patient and the exam."""

    sex: str
    """``M`` or ``F``."""
    view: str
    """``PA`` or ``AP``."""
    has_prior: bool


_ZONE_OF_REGION: Final[dict[str, str]] = {
    "upper lung zone": "upper", "mid lung zone": "mid", "lower lung zone": "lower",
    "apical zone": "apical", "costophrenic angle": "costophrenic", "lung": "lung",
}
_ADJECTIVE: Final[dict[tuple[str, bool], tuple[str, ...]]] = {
    ("upper", False): ("{s} upper lobe", "{s} upper lung"),
    ("mid", False): ("{s} mid lung", "{s} midlung"),
    ("lower", False): ("{s} lower lobe", "{s} basilar", "{s} base"),
    ("apical", False): ("{s} apical",),
    ("costophrenic", False): ("{s}", "{s}-sided"),
    ("upper", True): ("bilateral upper lobe", "bilateral upper lung"),
    ("mid", True): ("bilateral mid lung",),
    ("lower", True): ("bibasilar", "bilateral basilar", "bilateral lower lobe"),
    ("costophrenic", True): ("bilateral",),
}
_PREPOSITIONAL: Final[dict[tuple[str, bool], tuple[str, ...]]] = {
    ("upper", False): ("in the {s} upper lobe", "in the {s} upper lung zone",
                       "projecting over the {s} upper lung"),
    ("mid", False): ("in the {s} mid lung zone", "in the {s} mid lung",
                     "projecting over the {s} mid lung"),
    ("lower", False): ("at the {s} lung base", "at the {s} base", "in the {s} lower lobe",
                       "in the {s} lower lung zone"),
    ("upper", True): ("in both upper lobes", "in the upper lungs bilaterally"),
    ("mid", True): ("in both mid lungs", "in the mid lungs bilaterally"),
    ("lower", True): ("at both lung bases", "at the lung bases bilaterally", "in both lower lobes"),
}
_RETROCARDIAC_ADJECTIVE: Final = ("retrocardiac", "left retrocardiac")
_RETROCARDIAC_PREPOSITIONAL: Final = ("in the left retrocardiac region",)

_PRESENT: Final[dict[str, tuple[str, ...]]] = {
    "atelectasis": ("{Np}.", "There is {sev} atelectasis {pp}.", "Plate-like atelectasis {pp}.",
                    "Subsegmental atelectasis {pp}."),
    "consolidation": ("{Np}.", "There is focal consolidation {pp}.",
                      "Dense airspace consolidation {pp}."),
    "opacity": ("{Np}.", "Patchy {opacity} {pp}.", "Hazy {opacity} {pp}."),
    "nodule": ("{Np}.", "There is a {mm} mm nodule {pp}.", "A nodule measuring {mm} mm is seen {pp}."),
    "mass": ("{Np}.", "There is a {cm} cm mass {pp}.", "A mass {pp} measures {cm} cm."),
    "pleural effusion": ("{Np}.", "There is {a_np}.", "{Sev} amount of {adj} pleural fluid."),
    "pneumothorax": ("{Np}.", "There is {a_np}.", "{Sev} pneumothorax at the {side} apex."),
    "cardiomegaly": ("{Np}.", "The heart is {sev}ly enlarged.",
                     "{Sev} enlargement of the cardiac silhouette."),
}
_PRESENT_BILATERAL: Final[dict[str, tuple[str, ...]]] = {
    "atelectasis": ("{Np}.", "{Sev} atelectasis {pp}."),
    "opacity": ("{Np}.", "Patchy opacities {pp}."),
    "pleural effusion": (
        "{Np}.", "Blunting of both costophrenic angles from {sev} bilateral pleural effusions."
    ),
    "edema": ("{Np}.", "Bilateral perihilar haziness consistent with {sev} pulmonary edema.",
              "{Sev} pulmonary edema in both lungs."),
}
_HEDGES: Final = (
    "Possible {np}.", "{Np} cannot be excluded.", "{Np} is not excluded.", "Questionable {np}.",
    "Likely {np}.", "{Np} is possible.",
)
_DEVICE_SENTENCES: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("endotracheal tube", "trachea"): (
        "Endotracheal tube terminates in the trachea {cm} cm above the carina.",
        "ET tube tip is in the mid trachea, approximately {cm} cm above the carina.",
    ),
    ("central venous catheter", "svc"): (
        "Right internal jugular central venous catheter terminates in the mid SVC.",
        "Right IJ line tip projects over the SVC.",
        "Right-sided central line ends in the superior vena cava.",
    ),
    ("central venous catheter", "cavoatrial junction"): (
        "Right internal jugular catheter tip is at the cavoatrial junction.",
        "Right IJ central line terminates at the cavoatrial junction.",
    ),
    ("enteric tube", "abdomen"): (
        "Enteric tube courses below the diaphragm with the tip in the stomach.",
        "Nasogastric tube tip is in the stomach.",
        "The feeding tube terminates in the stomach, below the diaphragm.",
    ),
}
_NEGATABLE: Final[dict[str, tuple[str, ...]]] = {
    "pneumothorax": ("pneumothorax",),
    "pleural effusion": ("pleural effusion", "effusion", "pleural fluid"),
    "consolidation": ("focal consolidation", "consolidation", "airspace consolidation"),
    "edema": ("pulmonary edema", "edema"),
    "opacity": ("focal opacity", "airspace opacity"),
    "nodule": ("suspicious pulmonary nodule",),
}
_NEGATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: ("No {0}.", "No evidence of {0}.", "There is no {0}.", "{0} is not seen."),
    2: ("No {0} or {1}.", "There is no {0} or {1}.", "No evidence of {0} or {1}."),
    3: ("No {0}, {1}, or {2}.", "There is no {0}, {1} or {2}."),
}
_BOTH_LUNGS: Final = ("right lung", "left lung")
_LUNG_AND_PLEURA: Final = frozenset({
    "atelectasis", "consolidation", "opacity", "nodule", "mass", "edema", "pleural effusion",
    "pneumothorax",
})
"""Findings that contradict "the lungs are clear"."""
_CLEAR_LUNGS: Final[tuple[tuple[str, bool], ...]] = (
    # (sentence, whether it says the lungs are clear: opacity absent in both lungs)
    ("The lungs are clear.", True), ("Lungs are clear.", True),
    ("The lungs are clear without {0}.", True), ("The lungs are free of {0}.", False),
)
_WORDED_REGIONS: Final[dict[str, str]] = {"perihilar": "{side} hilar structures"}
"""Location words a sentence may use instead of the lesion's region, and the region they name
(the lesion's side filled in): the sentence's statement follows its words."""
_HEART_NORMAL: Final[tuple[tuple[str, bool], ...]] = (
    # (sentence, whether it also speaks for the mediastinum)
    ("Heart size is normal.", False),
    ("The cardiac silhouette is normal in size.", False),
    ("Normal heart size.", False),
    ("The cardiomediastinal silhouette is normal.", True),
    ("Cardiac and mediastinal contours are within normal limits.", True),
)
_NORMAL_IMPRESSIONS: Final = (
    "No acute cardiopulmonary process.", "No acute intrathoracic process.",
    "Normal chest radiograph.", "No acute cardiopulmonary abnormality.",
)
_REASONS: Final = (
    "cough", "fever", "shortness of breath", "chest pain", "hypoxia", "cough // ? pneumonia",
    "dyspnea on exertion", "pre-operative evaluation", "fall", "tachycardia",
)
_DEVICE_REASONS: Final[dict[str, str]] = {
    "endotracheal tube": "intubated, ETT placement", "central venous catheter": "line placement",
    "enteric tube": "NG tube placement",
}


def write_report(
    rng: np.random.Generator, lesions: Sequence[Lesion], context: ClinicalContext,
) -> Report:
    """A report stating every lesion (hedged when uncertain) plus some negated findings."""
    groups = _group(lesions)
    findings = _findings_sentences(rng, groups)
    layout = str(rng.choice(["both", "findings", "impression", "unlabeled"], p=[0.6, 0.15, 0.15, 0.1]))
    impression = _impression_sentences(rng, groups, complete=layout == "impression")
    return _layout(rng, layout, findings, impression, groups, context)


def _group(lesions: Sequence[Lesion]) -> list[list[Lesion]]:
    """Lesions of one finding (both sides of a bilateral one) are stated in one sentence."""
    groups: dict[tuple[str, str], list[Lesion]] = {}
    for lesion in lesions:
        groups.setdefault((lesion.finding, lesion.existence), []).append(lesion)
    return list(groups.values())


def _statement(group: list[Lesion], text: str) -> Statement:
    """What ``text`` states about ``group``: its lesions' regions, unless the text locates them
    with one of :data:`_WORDED_REGIONS` ("bilateral perihilar edema": the hilar structures)."""
    worded = next((template for word, template in _WORDED_REGIONS.items()
                   if re.search(rf"\b{word}\b", text, re.IGNORECASE)), None)
    regions = (lesion.region if worded is None else worded.format(side=lesion.region.split(" ")[0])
               for lesion in group)
    return Statement(group[0].finding, group[0].existence, tuple(dict.fromkeys(regions)))


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _article(phrase: str) -> str:
    vowel_sound = phrase[:1] in "aeiou" or phrase.split(" ")[0] in ("8", "11", "18")
    return ("an " if vowel_sound else "a ") + phrase


class _Wording:
    """The words one finding group can be described with, chosen once per sentence."""

    def __init__(self, rng: np.random.Generator, group: list[Lesion]) -> None:
        first = group[0]
        self.finding = first.finding
        self.bilateral = len(group) > 1
        self.side = first.region.split(" ")[0]
        zone = first.region.removeprefix(f"{self.side} ")
        self.zone = _ZONE_OF_REGION.get(zone, zone)
        key = (self.zone, self.bilateral)
        adjectives = _ADJECTIVE.get(key, ("",))
        prepositions = _PREPOSITIONAL.get(key, ("",))
        if first.retrocardiac and not self.bilateral:
            adjectives, prepositions = _RETROCARDIAC_ADJECTIVE, _RETROCARDIAC_PREPOSITIONAL
        self.adj = _pick(rng, adjectives).format(s=self.side)
        self.pp = _pick(rng, prepositions).format(s=self.side)
        severity = first.severity or ""
        if first.existence == "uncertain" and severity == "borderline":
            severity = "mild"
        self.sev = severity or "mild"
        size = first.size_mm or 0.0
        self.mm, self.cm = f"{size:.0f}", f"{size / 10:.1f}".removesuffix(".0")
        self.np = self._noun_phrase(severity)

    def _noun_phrase(self, severity: str) -> str:
        plural = self.bilateral
        match self.finding:
            case "pleural effusion":
                core = f"{self.adj} pleural effusion{'s' if plural else ''}"
            case "opacity":
                core = f"{self.adj} {'opacities' if plural else 'opacity'}"
            case "nodule":
                core = f"{self.mm} mm {self.adj} nodule"
            case "mass":
                core = f"{self.cm} cm {self.adj} mass"
            case "cardiomegaly":
                core = "cardiomegaly"
            case "edema":
                core = "bilateral perihilar edema" if plural else f"{self.side} perihilar edema"
            case _:
                core = f"{self.adj} {self.finding}"
        return f"{severity} {core}".strip()

    def fill(self, template: str) -> str:
        text = template.format(
            np=self.np, Np=_capitalize(self.np), a_np=_article(self.np), adj=self.adj, pp=self.pp,
            sev=self.sev, Sev=_capitalize(self.sev), side=self.side, mm=self.mm, cm=self.cm,
            opacity="opacities" if self.bilateral else "opacity",
        )
        return _capitalize(text)


def _lesion_sentence(rng: np.random.Generator, group: list[Lesion], section: str) -> Sentence:
    first = group[0]
    wording = _Wording(rng, group)
    if first.device is not None:
        text = wording.fill(_pick(rng, _DEVICE_SENTENCES[(first.device, first.region)]))
    elif first.existence == "uncertain":
        text = wording.fill(_pick(rng, _HEDGES))
    elif section == "impression":
        text = f"{wording.fill('{Np}')}."
    else:
        templates = (_PRESENT_BILATERAL if wording.bilateral else _PRESENT)[first.finding]
        text = wording.fill(_pick(rng, templates))
    return Sentence(section, text, (_statement(group, text),))


def _findings_sentences(rng: np.random.Generator, groups: list[list[Lesion]]) -> list[Sentence]:
    """Devices first, then lungs and pleura, then the heart, then what is absent."""
    order = sorted(groups, key=lambda g: (g[0].device is None, g[0].finding == "cardiomegaly"))
    sentences = [_lesion_sentence(rng, group, "findings") for group in order]
    stated = {group[0].finding for group in groups}
    if "cardiomegaly" not in stated:
        text, mediastinum = _HEART_NORMAL[int(rng.integers(len(_HEART_NORMAL)))]
        statements = [Statement("cardiomegaly", "absent", ("cardiac silhouette",))]
        if mediastinum:
            statements.append(Statement("enlarged cardiomediastinum", "absent", ("mediastinum",)))
        sentences.append(Sentence("findings", text, tuple(statements)))
    sentences += _negations(rng, groups, stated)
    return sentences


def _negations(
    rng: np.random.Generator, groups: list[list[Lesion]], stated: set[str],
) -> list[Sentence]:
    sentences: list[Sentence] = []
    negatable = [finding for finding in _NEGATABLE if finding not in stated]
    rng.shuffle(negatable)
    if not stated & _LUNG_AND_PLEURA:
        template, clear = _CLEAR_LUNGS[int(rng.integers(len(_CLEAR_LUNGS)))]
        negated = ["opacity"] if clear else []
        if "{0}" in template:
            finding = next(f for f in ("consolidation", "edema") if f in negatable)
            negatable.remove(finding)
            template = template.format(_pick(rng, _NEGATABLE[finding]))
            negated.append(finding)
        sentences.append(Sentence("findings", template, tuple(
            Statement(finding, "absent", _BOTH_LUNGS) for finding in dict.fromkeys(negated)
        )))
    count = min(len(negatable), int(rng.integers(1, 4)))
    if count:
        chosen = negatable[:count]
        nouns = [_pick(rng, _NEGATABLE[finding]) for finding in chosen]
        text = _capitalize(_pick(rng, _NEGATIONS[count]).format(*nouns))
        sentences.append(Sentence("findings", text, tuple(
            Statement(finding, "absent", (UNSPECIFIED_REGION,)) for finding in chosen
        )))
    one_sided = [g for g in groups if g[0].finding == "pleural effusion" and len(g) == 1]
    if one_sided and rng.random() < 0.4:
        other = "left" if one_sided[0][0].region.startswith("right") else "right"
        sentences.append(Sentence("findings", f"No {other} pleural effusion.", (
            Statement("pleural effusion", "absent", (f"{other} costophrenic angle",)),
        )))
    return sentences


def _impression_sentences(
    rng: np.random.Generator, groups: list[list[Lesion]], complete: bool,
) -> list[Sentence]:
    """The conclusion: every finding when it stands alone, else the one or two that matter."""
    if not groups:
        if rng.random() < 0.2:
            return [Sentence("impression", "No evidence of pneumonia.", (
                Statement("pneumonia", "absent", (UNSPECIFIED_REGION,)),
            ))]
        return [Sentence("impression", _pick(rng, _NORMAL_IMPRESSIONS), ())]
    chosen = groups if complete else groups[: int(rng.integers(1, 3))]
    return [_lesion_sentence(rng, group, "impression") for group in chosen]


def _layout(
    rng: np.random.Generator, layout: str, findings: list[Sentence], impression: list[Sentence],
    groups: list[list[Lesion]], context: ClinicalContext,
) -> Report:
    """Headers, sections and heading spellings; returns the text with the sentences it holds."""
    blocks: list[str] = []
    if rng.random() < 0.45:
        exam = "CHEST (PA AND LAT)" if context.view == "PA" else "CHEST (PORTABLE AP)"
        blocks.append(f"                                 FINAL REPORT\n EXAMINATION:  {exam}")
    if layout != "unlabeled":
        blocks.append(f"{_pick(rng, ('INDICATION:', 'HISTORY:', 'Indication:', 'CLINICAL HISTORY:'))}"
                      f"  {_indication(rng, groups, context)}")
        if rng.random() < 0.4:
            technique = ("PA and lateral views of the chest." if context.view == "PA"
                         else "Portable AP upright view of the chest.")
            blocks.append(f"TECHNIQUE:  {technique}")
        comparison = (_pick(rng, ("___.", "Chest radiograph from ___.", "Prior study from ___."))
                      if context.has_prior else _pick(rng, ("None.", "No prior studies available.")))
        blocks.append(f"{_pick(rng, ('COMPARISON:', 'Comparison:'))}  {comparison}")
    sentences: list[Sentence] = []
    if layout in ("both", "findings", "unlabeled"):
        body = " ".join(sentence.text for sentence in findings)
        heading = _pick(rng, ("FINDINGS: ", "Findings: ", "FINDINGS:\n \n ", "FINDINGS\n \n "))
        blocks.append(body if layout == "unlabeled" else heading + body)
        sentences += findings
    if layout in ("both", "impression"):
        heading = _pick(rng, ("IMPRESSION:", "Impression:", "IMPRESSION", "CONCLUSION:"))
        numbered = len(impression) > 1 and rng.random() < 0.5
        items = [f"{k}. {s.text}" if numbered else s.text for k, s in enumerate(impression, start=1)]
        blocks.append(f"{heading}\n \n " + ("\n ".join(items) if numbered else " ".join(items)))
        sentences += impression
    separator = _pick(rng, ("\n \n ", "\n\n"))
    return Report(text=separator.join(blocks) + "\n", sentences=tuple(sentences))


def _indication(rng: np.random.Generator, groups: list[list[Lesion]], context: ClinicalContext) -> str:
    devices = [g[0].device for g in groups if g[0].device is not None]
    reason = _DEVICE_REASONS[devices[0]] if devices else _pick(rng, _REASONS)
    person = "man" if context.sex == "M" else "woman"
    return _pick(rng, (
        f"___-year-old {person} with {reason}.", f"___{context.sex} with {reason}",
        f"___ year old {person} with {reason}.",
    ))
