"""The lexicon: report wording -> findings, anatomy (the 29 Chest ImaGenome regions) and
attributes, as one phrase table for :class:`~cxralign.text.matcher.PhraseMatcher`.

Findings come from ``lexicon_data/findings.json`` (CheXpert labeler phrase lists, MIT, assigned
to our vocabulary, plus our extensions). Anatomy is generated here from side words x zone words,
because "left lower lobe", "left base", "left basilar", "left lung base" are one idea spelt many
ways. Each anatomy phrase has a *kind* (lung, heart, spine, vessels, ...) that says which findings
it can locate and which attributes it takes: "heart" + "enlarged" is cardiomegaly, "pulmonary
vasculature" + "normal" is edema absent, "lungs" + "clear" is opacity absent. A bare side word
("left pleural effusion") becomes the finding's own side region (costophrenic angle for an
effusion, lung otherwise). A zone without a side ("basilar", "apical") names both sides: the
report did not say which, and both are the candidate regions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

from cxralign.text.cues import cue_table
from cxralign.text.matcher import Entry
from cxralign.vocabulary import FINDINGS, REGIONS, UNSPECIFIED_REGION

FINDING: Final = "finding"
ANATOMY: Final = "anatomy"
ATTRIBUTE: Final = "attribute"
IGNORE: Final = "ignore"

BOTH: Final = ("right", "left")
BOTH_LUNGS: Final = ("right lung", "left lung")


@dataclass(frozen=True, slots=True)
class Anatomy:
    """An anatomy phrase: its kind, the regions it names, (for side words) its sides, and whether
    the phrase said a side (``unsided`` zones name both sides until a neighbour says which)."""

    kind: str
    regions: tuple[str, ...] = ()
    sides: tuple[str, ...] = ()
    unsided: bool = False


@dataclass(frozen=True, slots=True)
class FindingSpec:
    """Where a finding can be: the anatomy kinds that locate it, the region(s) implied when the
    sentence names none, the region a bare side word means, and the kinds that show the phrase is
    about anatomy outside our vocabulary (degenerative change of the *shoulder*), and the more
    specific findings that already say this one when named right beside it ("calcified
    granuloma": the calcification is the granuloma's, not a second finding)."""

    anchors: frozenset[str]
    implied: tuple[str, ...] = (UNSPECIFIED_REGION,)
    side_region: str = "{side} lung"
    excluded_by: frozenset[str] = frozenset()
    absorbed_by: frozenset[str] = frozenset()


_LUNG: Final = frozenset({"lung", "costophrenic", "hilum", "side", "pleura"})
_FOCAL: Final = _LUNG | {"mediastinum", "trachea", "diaphragm"}
_OUTSIDE: Final = frozenset({"extrathoracic"})
_ANYWHERE: Final = frozenset(
    {"lung", "costophrenic", "hilum", "side", "pleura", "diaphragm", "heart", "mediastinum",
     "cardiomediastinal", "aorta", "spine", "clavicle", "trachea", "abdomen", "central", "rib"}
)

FINDING_SPECS: Final[dict[str, FindingSpec]] = {
    "atelectasis": FindingSpec(_LUNG, excluded_by=_OUTSIDE),
    "cardiomegaly": FindingSpec(frozenset({"heart", "cardiomediastinal"}), ("cardiac silhouette",)),
    "consolidation": FindingSpec(_LUNG, excluded_by=_OUTSIDE),
    "edema": FindingSpec(_LUNG, excluded_by=_OUTSIDE),
    "pleural effusion": FindingSpec(_LUNG | {"diaphragm"}, side_region="{side} costophrenic angle"),
    "pneumothorax": FindingSpec(_LUNG, excluded_by=_OUTSIDE),
    "pneumonia": FindingSpec(_LUNG, excluded_by=_OUTSIDE),
    "opacity": FindingSpec(_FOCAL, excluded_by=_OUTSIDE),
    "nodule": FindingSpec(_FOCAL, excluded_by=_OUTSIDE),
    "mass": FindingSpec(_FOCAL, excluded_by=_OUTSIDE),
    "calcified granuloma": FindingSpec(_FOCAL, excluded_by=_OUTSIDE),
    "emphysema": FindingSpec(_LUNG, excluded_by=_OUTSIDE),
    "fracture": FindingSpec(frozenset({"rib", "clavicle", "spine", "side", "extrathoracic"})),
    "scoliosis": FindingSpec(frozenset({"spine"}), ("spine",)),
    "hiatal hernia": FindingSpec(frozenset({"abdomen", "mediastinum"}), ("mediastinum",)),
    # A side word beside a device is its side of access ("right IJ", "left subclavian",
    # "right-sided central line"), not where it lies: the device is located by its tip's
    # landmark ("terminates at the cavoatrial junction", "in the SVC") or is unspecified.
    "support device": FindingSpec(_ANYWHERE - {"side"}),
    "scarring": FindingSpec(_LUNG, excluded_by=_OUTSIDE),
    "hyperinflation": FindingSpec(frozenset(), BOTH_LUNGS),
    "hypoinflation": FindingSpec(frozenset(), BOTH_LUNGS),
    "degenerative spine": FindingSpec(
        frozenset({"spine"}), ("spine",), excluded_by=frozenset({"extrathoracic", "clavicle"})
    ),
    "tortuous aorta": FindingSpec(
        frozenset({"aorta"}), ("aortic arch",), excluded_by=frozenset({"vessels", "trachea"})
    ),
    "calcification": FindingSpec(
        _ANYWHERE | {"vessels"}, excluded_by=_OUTSIDE,
        absorbed_by=frozenset({"calcified granuloma"}),
    ),
    "enlarged cardiomediastinum": FindingSpec(
        frozenset({"mediastinum", "cardiomediastinal"}), ("mediastinum",)
    ),
    "pleural thickening": FindingSpec(_LUNG, excluded_by=_OUTSIDE),
    "interstitial markings": FindingSpec(_LUNG, excluded_by=_OUTSIDE),
    "lesion": FindingSpec(_ANYWHERE),
}

# attribute -> (anatomy kind -> findings), and whether the attribute itself says "absent".
ATTRIBUTES: Final[dict[str, tuple[dict[str, tuple[str, ...]], bool]]] = {
    "enlarged": (
        {
            "heart": ("cardiomegaly",),
            "cardiomediastinal": ("cardiomegaly", "enlarged cardiomediastinum"),
            "mediastinum": ("enlarged cardiomediastinum",),
            "vessels": ("edema",),
            "markings": ("interstitial markings",),
            "aorta": ("tortuous aorta",),
            "lung_volume": ("hyperinflation",),
        },
        False,
    ),
    # "prominent heart" is a soft word, not cardiomegaly; prominent vessels/markings are findings.
    "prominent": (
        {"vessels": ("edema",), "markings": ("interstitial markings",), "aorta": ("tortuous aorta",)},
        False,
    ),
    # "the heart is borderline in size" grades a heart at the edge of enlargement; coders index
    # it as cardiomegaly (``Cardiomegaly/borderline``), as "borderline enlarged" already is. (A
    # bare "borderline" is an uncertainty cue; "borderline heart size" is a cardiomegaly phrase.)
    "borderline": ({"heart": ("cardiomegaly",), "cardiomediastinal": ("cardiomegaly",)}, False),
    "coarse": ({"markings": ("interstitial markings",)}, False),
    "low": ({"lung_volume": ("hypoinflation",)}, False),
    "flattened": ({"diaphragm": ("hyperinflation",)}, False),
    "thickened": ({"pleura": ("pleural thickening",)}, False),
    "normal": (
        {
            "heart": ("cardiomegaly",),
            "cardiomediastinal": ("cardiomegaly", "enlarged cardiomediastinum"),
            "mediastinum": ("enlarged cardiomediastinum",),
            "vessels": ("edema",),
            "markings": ("interstitial markings",),
            "aorta": ("tortuous aorta",),
            "lung_volume": ("hypoinflation",),
            "lung": ("opacity",),
            "costophrenic": ("pleural effusion",),
        },
        True,
    ),
    "clear": (
        {"lung": ("opacity",), "side": ("opacity",), "costophrenic": ("pleural effusion",)},
        True,
    ),
    "well_expanded": ({"lung": ("hypoinflation",), "lung_volume": ("hypoinflation",)}, True),
}

_ATTRIBUTE_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "enlarged": (
        "enlarged", "enlargement", "enlarging", "large", "larger", "increased", "increase", "increased in size", "dilated", "dilatation", "dilation",
        "engorged", "engorgement", "widened", "widening", "wide", "mildly enlarged",
        "moderately enlarged", "markedly enlarged", "borderline enlarged", "congested",
    ),
    "prominent": ("prominent", "prominence", "mildly prominent"),
    "borderline": ("borderline in size", "borderline size"),
    "coarse": ("coarse", "coarsened", "coarsening", "accentuated", "accentuation"),
    "low": ("low", "decreased", "reduced", "diminished", "small"),
    "flattened": ("flattened", "flattening", "flat"),
    "thickened": ("thickened", "thickening"),
    "normal": (
        "normal", "normal in size", "normal size", "normal sized", "within normal limits",
        "within normal limits for size", "within normal limits in size", "within the normal limits",
        "within limits of normal", "within normal range", "normal limits", "unremarkable",
        "upper limits of normal", "upper limit of normal", "upper limits normal",
        "upper limit normal", "upper normal", "low normal", "top normal", "top of normal", "high normal",
        "at the upper limits of normal", "near top normal", "not enlarged",
        "normally", "grossly normal", "grossly unremarkable",
    ),
    "clear": ("clear", "grossly clear", "otherwise clear", "sharp", "sharply defined"),
    "well_expanded": (
        "well expanded", "well inflated", "well aerated", "normally inflated", "normally expanded",
        "normally aerated", "adequately inflated", "adequately expanded", "fully expanded",
    ),
}

# Zones: phrases and the side-templated region they name (kind "lung" unless said otherwise).
_ZONES: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("lung", "{side} lower lung zone", (
        "base", "bases", "basilar", "basal", "basally", "lower lobe", "lower lobes", "lower lung",
        "lower lungs", "lower lung zone", "lower lung zones", "lower zone", "lower zones",
        "lung base", "lung bases", "lower lung field", "lower lung fields", "lower chest",
        "lower hemithorax", "infrahilar", "lower lobe segment",
    )),
    ("lung", "{side} upper lung zone", (
        "upper lobe", "upper lobes", "upper lung", "upper lungs", "upper lung zone",
        "upper lung zones", "upper zone", "upper zones", "upper lung field", "upper lung fields",
        "upper chest", "upper hemithorax", "suprahilar",
    )),
    ("lung", "{side} apical zone", (
        "apex", "apices", "apical", "lung apex", "lung apices", "apical region", "apical regions",
    )),
    ("lung", "{side} mid lung zone", (
        "midlung", "mid lung", "mid lungs", "midlung zone", "mid lung zone", "mid lung zones",
        "mid zone", "mid zones", "middle lung", "middle lung zone", "mid lung field",
        "midlung field", "mid chest",
    )),
    ("hilum", "{side} hilar structures", (
        "hilar", "hilum", "hila", "hilus", "perihilar", "hilar region", "hilar regions",
        "parahilar", "hilar structures",
    )),
    ("costophrenic", "{side} costophrenic angle", (
        "costophrenic angle", "costophrenic angles", "costophrenic sulcus", "costophrenic sulci",
        "costophrenic recess", "costophrenic recesses", "costophrenic", "sulcus", "sulci",
        "cp angle", "cp angles", "costophrenic region",
    )),
    ("diaphragm", "{side} hemidiaphragm", (
        "hemidiaphragm", "hemidiaphragms", "diaphragm", "diaphragms", "hemidiaphragmatic",
        "diaphragmatic",
    )),
    ("lung", "{side} lung", ("lung", "lungs", "lung field", "lung fields", "hemithorax",
                             "hemithoraces", "lung parenchyma", "lung zones")),
    ("clavicle", "{side} clavicle", ("clavicle", "clavicles", "clavicular")),
)
# Zone words that only make sense with a side ("left chest", "right-sided").
_SIDED_ONLY: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("lung", "{side} lung", ("chest", "pulmonary", "thorax", "chest wall")),
    ("rib", "{side} lung", ("rib", "ribs", "posterior rib", "anterior rib", "lateral rib")),
    ("abdomen", "abdomen", ("upper quadrant", "upper abdomen")),
)
_SIDE_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "right": ("right",), "left": ("left",), "bilateral": BOTH, "both": BOTH,
    "right and left": BOTH, "left and right": BOTH,
}
# Bare "both" is not a side: reports say "both on PA and lateral views", "both frontal and
# lateral"; "both lungs", "both bases" come from the side words above.
_SIDE_ONLY_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "right": ("right",), "left": ("left",), "bilateral": BOTH, "bilaterally": BOTH,
    "both sides": BOTH, "on the right": ("right",), "on the left": ("left",),
    "right greater than left": BOTH, "left greater than right": BOTH,
}
# Fixed anatomy phrases: (kind, regions, phrases).
_FIXED: Final[tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = (
    ("lung", ("left lower lung zone",), ("retrocardiac", "left retrocardiac", "retrocardiac region")),
    ("lung", ("left lower lung zone", "right lower lung zone"), (
        "bibasilar", "bibasal", "bibasally", "bibasilar regions", "lung bases bilaterally")),
    ("lung", ("right apical zone", "left apical zone"), ("biapical",)),
    ("hilum", ("right hilar structures", "left hilar structures"), ("bihilar",)),
    ("lung", ("right mid lung zone",), ("middle lobe", "right middle lobe", "right heart border")),
    ("lung", ("left mid lung zone",), ("lingula", "lingular", "left heart border", "lingular segment")),
    ("heart", ("cardiac silhouette",), (
        "heart", "cardiac", "heart size", "cardiac silhouette", "cardiac silhouettes",
        "cardiac shadow", "cardiac contour", "cardiac contours", "cardiac size",
        "cardiac silhouette size", "heart shadow", "cardiac configuration", "cardiopericardial",
        "cardiopericardial silhouette", "pericardial silhouette", "right ventricle",
        "right ventricular", "left ventricle", "left ventricular", "left atrium", "left atrial",
        "heart contour", "cardiac structures",
    )),
    ("mediastinum", ("mediastinum",), (
        "mediastinum", "mediastinal", "mediastinal contour", "mediastinal contours",
        "mediastinal silhouette", "mediastinal silhouettes", "mediastinal structures",
        "mediastinal width", "mediastinal configuration",
    )),
    ("mediastinum", ("upper mediastinum",), ("superior mediastinum", "upper mediastinum",
                                             "superior mediastinal", "upper mediastinal")),
    ("cardiomediastinal", ("cardiac silhouette", "mediastinum"), (
        "cardiomediastinal", "cardiomediastinal silhouette", "cardiomediastinal silhouettes",
        "cardiomediastinal contour", "cardiomediastinal contours", "cardiomediastinum",
        "cardiomediastinal size", "cardiomediastinal structures", "heart and mediastinum",
        "cardiac and mediastinal contours", "cardiac and mediastinal silhouettes",
        "cardiomediastinal shadow", "cardiothymic silhouette",
    )),
    ("aorta", ("aortic arch",), (
        "aorta", "aortic", "aortic arch", "aortic knob", "thoracic aorta", "ascending aorta",
        "descending aorta", "aortic contour", "aortic knuckle", "arch", "descending thoracic aorta",
    )),
    ("trachea", ("trachea",), ("trachea", "tracheal", "paratracheal", "right paratracheal",
                               "paratracheal stripe")),
    ("central", ("carina",), ("carina",)),
    ("central", ("svc",), ("svc", "superior vena cava")),
    ("central", ("cavoatrial junction",), ("cavoatrial junction", "caval atrial junction")),
    ("central", ("right atrium",), ("right atrium", "right atrial")),
    ("spine", ("spine",), (
        "spine", "thoracic spine", "spinal", "vertebra*", "vertebral bod*", "thoracolumbar",
        "lumbar", "lumbar spine", "cervical spine", "dorsal spine", "thoracic vertebra*",
        "spinal column", "t spine", "disc spaces", "endplates", "thoracolumbar spine",
        "thoracic", "intervertebral",
    )),
    ("abdomen", ("abdomen",), (
        "abdomen", "upper abdomen", "abdominal", "upper quadrant", "right upper quadrant",
        "left upper quadrant", "stomach", "gastric", "bowel", "subdiaphragmatic", "colon",
        "splenic flexure", "gallbladder", "cholecystectomy",
    )),
    ("vessels", BOTH_LUNGS, (
        "pulmonary vasculature", "vasculature", "pulmonary vascularity", "vascularity",
        "pulmonary vessels", "vessels", "vascular markings", "pulmonary vascular", "vascular",
        "pulmonary vascular markings", "central vascular", "central pulmonary vasculature",
        "central vascular markings", "central pulmonary vascular markings",
    )),
    ("markings", BOTH_LUNGS, (
        "markings", "lung markings", "bronchovascular markings", "pulmonary markings",
        "bronchovascular", "interstitium",
    )),
    ("lung_volume", BOTH_LUNGS, (
        "lung volume", "lung volumes", "volume", "volumes", "inspiratory volume",
        "inspiratory volumes", "lung expansion", "inflation", "aeration", "inspiratory effort",
        "lung inflation",
    )),
    # The fissures are pleura between lobes: a thickened fissure is pleural thickening.
    ("pleura", (), ("pleura", "pleural", "pleural surface", "pleural surfaces", "pleural space",
                    "pleural spaces", "fissure", "fissures", "fissural", "minor fissure",
                    "major fissure", "horizontal fissure", "oblique fissure")),
    ("extrathoracic", (), (
        "shoulder", "shoulders", "acromioclavicular", "ac joint", "ac joints", "glenohumeral",
        "humerus", "humeral", "humeral head", "humeral heads", "elbow", "neck", "breast",
        "breasts", "soft tissue", "soft tissues", "sternoclavicular", "scapula", "scapulae",
        "skin", "hip", "knee", "foot", "midfoot", "ankle", "calcaneal", "calcaneus", "wrist",
        "hand", "forearm", "femur", "femoral", "costochondral", "costal cartilage",
        "costal cartilages", "cartilage", "cartilages",
    )),
)


def _anatomy_table() -> dict[str, Entry]:
    table: dict[str, Entry] = {}

    def add(phrase: str, anatomy: Anatomy) -> None:
        previous = table.setdefault(phrase, Entry(ANATOMY, anatomy))
        if previous.value != anatomy:
            raise ValueError(f"anatomy phrase {phrase!r} defined twice: {previous.value}, {anatomy}")

    for kind, template, phrases in _ZONES:
        for phrase in phrases:
            regions = tuple(template.format(side=s) for s in BOTH)
            add(phrase, Anatomy(kind, regions, unsided=regions[0] != regions[1]))
            for side_word, sides in _SIDE_WORDS.items():
                regions = tuple(template.format(side=s) for s in sides)
                add(f"{side_word} {phrase}", Anatomy(kind, regions))
    for kind, template, phrases in _SIDED_ONLY:
        for phrase in phrases:
            for side_word, sides in _SIDE_WORDS.items():
                regions = tuple(dict.fromkeys(template.format(side=s) for s in sides))
                add(f"{side_word} {phrase}", Anatomy(kind, regions))
    for kind, regions, phrases in _FIXED:
        for phrase in phrases:
            add(phrase, Anatomy(kind, regions))
    for phrase, sides in _SIDE_ONLY_PHRASES.items():
        add(phrase, Anatomy("side", (), sides))
        add(f"{phrase} sided", Anatomy("side", (), sides))
        add(f"{phrase} side", Anatomy("side", (), sides))
    return table


def _data(name: str) -> dict:
    return json.loads(resources.files("cxralign.text").joinpath("lexicon_data", name).read_text())


def _chexpert_phrase(phrase: str) -> str:
    """CheXpert phrases match as substrings; ours start at a word. A phrase that ends with ``_``
    (``_line_``) is a whole word, any other is a word prefix (``atelecta`` -> ``atelecta*``)."""
    whole_word = phrase.endswith("_")
    core = phrase.strip("_").replace("_", " ")
    return core if whole_word else f"{core}*"


def _finding_entry(target: str | list[str]) -> Entry:
    if target == IGNORE:
        return Entry(IGNORE)
    findings = (target,) if isinstance(target, str) else tuple(target)
    unknown = set(findings) - set(FINDINGS)
    if unknown:
        raise ValueError(f"lexicon names findings outside the vocabulary: {sorted(unknown)}")
    return Entry(FINDING, findings)


def _finding_table() -> dict[str, Entry]:
    table: dict[str, Entry] = {}
    chexpert = _data("chexpert_labeler_phrases.json")["lists"]
    spec = _data("findings.json")
    for list_name, assignment in spec["chexpert"].items():
        for phrase in chexpert[list_name]:
            target = assignment["phrases"].get(phrase, assignment["default"])
            if target is not None:
                table[_chexpert_phrase(phrase)] = _finding_entry(target)
    for target, phrases in spec["extensions"].items():
        for phrase in phrases:
            table[phrase] = _finding_entry(target)
    for phrase, targets in spec["multi"].items():
        table[phrase] = _finding_entry(targets)
    return table


def _attribute_table() -> dict[str, Entry]:
    return {
        phrase: Entry(ATTRIBUTE, name)
        for name, phrases in _ATTRIBUTE_PHRASES.items()
        for phrase in phrases
    }


@cache
def phrase_table() -> dict[str, Entry]:
    """Every phrase of the rule backend -> its Entry. Later tables may not redefine a phrase
    with another meaning: a clash is a lexicon bug and raises."""
    table: dict[str, Entry] = {}
    for part in (_anatomy_table(), _attribute_table(), cue_table(), _finding_table()):
        for phrase, entry in part.items():
            previous = table.get(phrase)
            if previous is not None and previous != entry:
                raise ValueError(f"phrase {phrase!r} means both {previous} and {entry}")
            table[phrase] = entry
    _check_regions(table)
    return table


def finding_phrases() -> list[dict[str, object]]:
    """The finding phrases of the rule backend as plain data (``phrase``, ``findings``, ``stem``),
    so a peer tool in another environment (the medspacy benchmark) looks for the same words."""
    return [
        {"phrase": phrase.rstrip("*"), "findings": list(entry.value), "stem": phrase.endswith("*")}
        for phrase, entry in phrase_table().items()
        if entry.kind == FINDING
    ]


def _check_regions(table: dict[str, Entry]) -> None:
    known = set(REGIONS)
    for phrase, entry in table.items():
        if entry.kind == ANATOMY and not set(entry.value.regions) <= known:
            raise ValueError(f"anatomy phrase {phrase!r} names unknown regions {entry.value.regions}")
    for name, spec in FINDING_SPECS.items():
        if not set(spec.implied) <= known | {UNSPECIFIED_REGION}:
            raise ValueError(f"finding {name!r} implies unknown regions {spec.implied}")
    if set(FINDING_SPECS) != set(FINDINGS):
        raise ValueError("FINDING_SPECS must cover exactly the finding vocabulary")
