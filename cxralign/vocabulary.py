"""The controlled vocabularies every stage, test and evaluation agrees on (exact strings).

Regions are the 29 ``bbox_name`` values of Chest ImaGenome scene graphs (a public schema), in
the order its tools use; ``unspecified`` marks a finding that names no location. Findings follow
DESIGN.md; report wording is mapped onto them by the text stage's synonym table.
"""

from __future__ import annotations

from typing import Final

REGIONS: Final[tuple[str, ...]] = (
    "right lung", "right upper lung zone", "right mid lung zone", "right lower lung zone",
    "right hilar structures", "right apical zone", "right costophrenic angle",
    "right hemidiaphragm",
    "left lung", "left upper lung zone", "left mid lung zone", "left lower lung zone",
    "left hilar structures", "left apical zone", "left costophrenic angle", "left hemidiaphragm",
    "trachea", "spine", "right clavicle", "left clavicle", "aortic arch", "mediastinum",
    "upper mediastinum", "svc", "cardiac silhouette", "cavoatrial junction", "right atrium",
    "carina", "abdomen",
)
UNSPECIFIED_REGION: Final = "unspecified"

FINDINGS: Final[tuple[str, ...]] = (
    "atelectasis", "cardiomegaly", "consolidation", "edema", "pleural effusion", "pneumothorax",
    "pneumonia", "opacity", "nodule", "mass", "calcified granuloma", "emphysema", "fracture",
    "scoliosis", "hiatal hernia", "support device", "scarring", "hyperinflation",
    "hypoinflation", "degenerative spine", "tortuous aorta", "calcification",
    "enlarged cardiomediastinum", "pleural thickening", "interstitial markings", "lesion",
)

EXISTENCE: Final[tuple[str, ...]] = ("present", "absent", "uncertain")
