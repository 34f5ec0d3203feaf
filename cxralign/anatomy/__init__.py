"""Boxes for the 29 Chest ImaGenome regions on every image: a trainable detector
(:mod:`.model`, :mod:`.train`, :mod:`.detector`), an atlas fallback (:mod:`.atlas`), gold-box
readers (:mod:`.sources`) and the ``boxes`` table
(:mod:`.locate`).

Names are imported lazily so that ``cxralign --help`` and the ``anatomy`` CLI parser do not
pay for importing torch and timm.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AnatomySettings": "settings",
    "TrainingSource": "sources",
    "coco_source": "sources",
    "imagenome_source": "sources",
    "phantom_source": "sources",
    "TrainReport": "train",
    "train_detector": "train",
    "Detector": "detector",
    "load_detector": "detector",
    "Atlas": "atlas",
    "atlas_boxes": "atlas",
    "BOXES_SCHEMA": "locate",
    "boxes_table": "locate",
    "draw_boxes": "draw",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
