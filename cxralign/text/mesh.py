"""OpenI MeSH "major" terms -> cxralign findings, sides and zones (the reference for evaluation).

An OpenI term is ``Head/modifier/modifier...`` (``Opacity/lung/base/left/mild``). The head
decides the finding; a few heads need a modifier to mean one of our findings. Decisions:

* ``normal`` -> no finding (the report is normal).
* Opacity, Airspace Disease, Infiltrate, Density -> opacity (our lexicon maps "airspace disease",
  "infiltrate", "density" to opacity too); with ``round`` also nodule, as
  "nodular opacity" yields both (a round opacity is what a nodule looks like).
* Calcinosis and Atherosclerosis -> calcification: on a radiograph atherosclerosis *is* the
  calcified aortic wall. Calcified Granuloma, Granuloma, Granulomatous Disease -> calcified
  granuloma: radiographically visible granulomas are calcified ("changes of prior granulomatous
  disease" describes them).
* Cicatrix, Pulmonary Fibrosis, Fibrosis -> scarring.
* Pulmonary Congestion, Pulmonary Edema, Heart Failure -> edema (as the CheXpert labeler does).
* Cardiomegaly -> cardiomegaly; Cardiac Shadow only with ``enlarged`` or ``borderline``.
* Emphysema, Pulmonary Emphysema, Bullous Emphysema, Pulmonary Disease Chronic Obstructive ->
  emphysema (COPD is reported from the same radiographic signs).
* Lung/hypoinflation -> hypoinflation; Lung/hyperdistention and Diaphragm/flattened ->
  hyperinflation (flattened hemidiaphragms are the radiographic sign of it; 7 of the 9 IU
  reports with that term also carry Lung/hyperdistention).
* Thoracic/Lumbar/Cervical Vertebrae or Spine with ``degenerative``, Spondylosis, Osteophyte (not
  of the shoulder), Hyperostosis DISH -> degenerative spine.
* Aorta or Aorta, Thoracic with ``tortuous`` -> tortuous aorta.
* Costophrenic Angle/blunted -> pleural effusion (DESIGN.md maps "blunting of the costophrenic
  angle" to effusion).
* Catheters, Surgical Instruments (clips, wires), Implanted/Medical Device, Tube, Stents ->
  support device.
* Any head with an ``interstitial`` or ``reticular`` modifier (but Pulmonary Edema) also ->
  interstitial markings, as "interstitial opacities" or "interstitial fibrosis" yield it.
* Markings, Lung Diseases Interstitial, Lung/interstitial, Thickening/bronchi (peribronchial
  cuffing) -> interstitial markings. Markings/bronchovascular is ignored: IU reports use it for
  "bronchovascular crowding", the look of low lung volumes (coded Lung/hypoinflation), not an
  interstitial finding;
  Thickening/pleura -> pleural thickening; Mediastinum/enlarged|widened -> enlarged
  cardiomediastinum; Volume Loss -> atelectasis; Cavitation, Expansile Bone Lesions -> lesion.
* Everything else is listed in ``IGNORED`` (outside our vocabulary: Deformity, Eventration,
  Kyphosis, Arthritis, technical quality, ...). A head in neither table is reported as unmapped
  by the evaluation, so new terms on another set show up instead of vanishing.

Two readings. The *broad* mapping above counts every term that implies a finding (a round
density is a nodule, blunted angles are an effusion, heart failure is edema). The *strict*
mapping counts, for the findings in ``OWN_HEADS``, only terms whose head names the finding
itself; findings not listed there read the same in both (a granulomatous-disease term names the
granulomas, an atherosclerosis term the calcified aortic wall, a COPD term the emphysematous
lungs a radiograph shows). Side by side (strict | broad only):

======================  ==========================================  ==============================
finding                 strict: heads that name the finding         broad only
======================  ==========================================  ==============================
atelectasis             Pulmonary Atelectasis                       Volume Loss
nodule                  Nodule                                      Opacity/Density/... + round
scarring                Cicatrix                                    (Pulmonary) Fibrosis
edema                   Pulmonary Edema, Pulmonary Congestion       Heart Failure
pleural effusion        Pleural Effusion                            Costophrenic Angle/blunted
interstitial markings   Markings, Lung Diseases Interstitial,       any head + interstitial or
                        Lung/interstitial                           reticular; Thickening/bronchi
hyperinflation          Lung/hyperdistention                        Diaphragm/flattened
======================  ==========================================  ==============================

The issue-17 targets were set with an independent, stricter scorer, so they are read on the
strict mapping; the broad one is kept because it is what the earlier figures used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_MAJOR: Final = re.compile(r"<major>(.*?)</major>", re.S)

DIRECT: Final[dict[str, str]] = {
    "Cardiomegaly": "cardiomegaly",
    "Pulmonary Atelectasis": "atelectasis",
    "Volume Loss": "atelectasis",
    "Opacity": "opacity",
    "Airspace Disease": "opacity",
    "Infiltrate": "opacity",
    "Density": "opacity",
    "Consolidation": "consolidation",
    "Pneumonia": "pneumonia",
    "Pleural Effusion": "pleural effusion",
    "Pneumothorax": "pneumothorax",
    "Nodule": "nodule",
    "Mass": "mass",
    "Calcinosis": "calcification",
    "Atherosclerosis": "calcification",
    "Calcified Granuloma": "calcified granuloma",
    "Granuloma": "calcified granuloma",
    "Granulomatous Disease": "calcified granuloma",
    "Cicatrix": "scarring",
    "Pulmonary Fibrosis": "scarring",
    "Fibrosis": "scarring",
    "Pulmonary Congestion": "edema",
    "Pulmonary Edema": "edema",
    "Heart Failure": "edema",
    "Emphysema": "emphysema",
    "Pulmonary Emphysema": "emphysema",
    "Bullous Emphysema": "emphysema",
    "Pulmonary Disease, Chronic Obstructive": "emphysema",
    "Scoliosis": "scoliosis",
    "Fractures, Bone": "fracture",
    "Hernia, Hiatal": "hiatal hernia",
    "Spondylosis": "degenerative spine",
    "Hyperostosis, Diffuse Idiopathic Skeletal": "degenerative spine",
    "Catheters, Indwelling": "support device",
    "Surgical Instruments": "support device",
    "Implanted Medical Device": "support device",
    "Medical Device": "support device",
    "Tube, Inserted": "support device",
    "Stents": "support device",
    "Lung Diseases, Interstitial": "interstitial markings",
    "Cavitation": "lesion",
    "Expansile Bone Lesions": "lesion",
}
# head -> (modifier that must be present -> finding)
WITH_MODIFIER: Final[dict[str, dict[str, str]]] = {
    "Cardiac Shadow": {"enlarged": "cardiomegaly", "borderline": "cardiomegaly"},
    "Lung": {"hypoinflation": "hypoinflation", "hyperdistention": "hyperinflation",
             "interstitial": "interstitial markings"},
    "Diaphragm": {"flattened": "hyperinflation"},
    "Thoracic Vertebrae": {"degenerative": "degenerative spine"},
    "Lumbar Vertebrae": {"degenerative": "degenerative spine"},
    "Cervical Vertebrae": {"degenerative": "degenerative spine"},
    "Spine": {"degenerative": "degenerative spine"},
    "Osteophyte": {"thoracic vertebrae": "degenerative spine", "spine": "degenerative spine",
                   "lumbar vertebrae": "degenerative spine",
                   "cervical vertebrae": "degenerative spine"},
    "Aorta": {"tortuous": "tortuous aorta"},
    "Aorta, Thoracic": {"tortuous": "tortuous aorta"},
    "Costophrenic Angle": {"blunted": "pleural effusion"},
    "Mediastinum": {"enlarged": "enlarged cardiomediastinum", "widened": "enlarged cardiomediastinum"},
    "Thickening": {"pleura": "pleural thickening", "bronchi": "interstitial markings"},
}
OPACITY_HEADS: Final = frozenset({"Opacity", "Infiltrate", "Density", "Airspace Disease"})
IGNORED: Final = frozenset({
    "No Indexing", "Technical Quality of Image Unsatisfactory", "Deformity",
    "Diaphragmatic Eventration", "Arthritis", "Bone Diseases, Metabolic", "Kyphosis",
    "Spinal Fusion", "Foreign Bodies", "Lucency", "Shoulder", "Lung, Hyperlucent",
    "Epicardial Fat", "Sutures", "Pulmonary Artery", "Shift", "Pericardial Effusion",
    "Nipple Shadow", "Cystic Fibrosis", "Heart Atria", "Pneumonectomy", "Heart", "Cysts",
    "Bronchiectasis", "Sclerosis", "Hernia, Diaphragmatic", "Hypertension, Pulmonary",
    "Pectus Carinatum", "Pneumoperitoneum", "Funnel Chest", "Mastectomy", "Blister",
    "Aortic Aneurysm", "Ribs", "Sulcus", "Tuberculosis", "Contrast Media", "Hemothorax",
    "Blood Vessels", "Bone and Bones", "Pleura", "Sarcoidosis", "Lymph Nodes", "Lymph nodes",
    "Humerus", "Osteoporosis", "Dislocations", "Adipose Tissue", "Colonic Interposition",
    "Breast Implants", "Bronchiolitis", "Mediastinal Emphysema",
    # heads that only map with a modifier, seen without it
    *WITH_MODIFIER,
})
NORMAL: Final = "normal"
BROAD: Final = "broad"
STRICT: Final = "strict"
MAPPINGS: Final = (BROAD, STRICT)
# finding -> the heads that name it (the strict reading; see the module docstring)
OWN_HEADS: Final[dict[str, frozenset[str]]] = {
    "atelectasis": frozenset({"Pulmonary Atelectasis"}),
    "nodule": frozenset({"Nodule"}),
    "calcified granuloma": frozenset({"Calcified Granuloma", "Granuloma", "Granulomatous Disease"}),
    "scarring": frozenset({"Cicatrix"}),
    "edema": frozenset({"Pulmonary Edema", "Pulmonary Congestion"}),
    "pleural effusion": frozenset({"Pleural Effusion"}),
    "interstitial markings": frozenset({"Markings", "Lung Diseases, Interstitial", "Lung"}),
    "hyperinflation": frozenset({"Lung"}),
}

_SIDES: Final = {"left": ("left",), "right": ("right",), "bilateral": ("left", "right")}
_ZONES: Final = {"base": "lower", "lower lobe": "lower", "retrocardiac": "lower",
                 "upper lobe": "upper", "apex": "upper", "middle lobe": "mid", "lingula": "mid",
                 "hilum": "hilar"}


@dataclass(frozen=True, slots=True)
class MeshFinding:
    """One MeSH term read as a finding, with the sides and zones its modifiers name."""

    finding: str
    sides: frozenset[str]
    zones: frozenset[str]


def major_terms(xml_text: str) -> list[str]:
    """The ``<MeSH><major>`` terms of an OpenI report."""
    return [term.strip() for term in _MAJOR.findall(xml_text)]


def read_term(term: str, mapping: str = BROAD) -> tuple[list[MeshFinding], bool]:
    """The findings a term names under ``mapping`` (``broad`` or ``strict``), and whether its
    head is unmapped (in no table)."""
    head, *modifiers = [part.strip() for part in term.split("/")]
    sides = frozenset(side for m in modifiers for side in _SIDES.get(m, ()))
    zones = frozenset(_ZONES[m] for m in modifiers if m in _ZONES)
    names: list[str] = []
    if head in DIRECT:
        names.append(DIRECT[head])
        if head in OPACITY_HEADS and "round" in modifiers:
            names.append("nodule")
    elif head == "Markings":
        names.extend(() if "bronchovascular" in modifiers else ("interstitial markings",))
    elif head in WITH_MODIFIER:
        names.extend(f for m, f in WITH_MODIFIER[head].items() if m in modifiers)
    elif head != NORMAL and head not in IGNORED:
        return [], True
    if head not in (NORMAL, "Pulmonary Edema") and {"interstitial", "reticular"} & set(modifiers):
        names.append("interstitial markings")
    names = list(dict.fromkeys(names))
    if mapping == STRICT:
        names = [n for n in names if n not in OWN_HEADS or head in OWN_HEADS[n]]
    return [MeshFinding(name, sides, zones) for name in names], False
