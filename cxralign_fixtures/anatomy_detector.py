"""An untrained anatomy detector saved the way ``cxralign anatomy train`` saves one, for tests of
everything that starts from a detector directory (the image encoder's start, the evaluation's
detector-start baseline) without training one."""

from __future__ import annotations

from pathlib import Path

import torch

from cxralign.anatomy.detector import CONFIG_FILE, WEIGHTS_FILE, DetectorConfig
from cxralign.anatomy.model import RegionDetectorNet


def save_untrained_detector(directory: Path, backbone: str = "resnet10t",
                            seed: int = 3) -> RegionDetectorNet:
    """Write a randomly initialised ``backbone`` detector's weights and config to ``directory``
    and return the network, so a test can compare the weights it finds elsewhere."""
    torch.manual_seed(seed)
    detector = RegionDetectorNet(backbone)
    torch.save(detector.state_dict(), directory / WEIGHTS_FILE)
    (directory / CONFIG_FILE).write_text(
        DetectorConfig(backbone, 64, ("right lung",)).to_json(), encoding="utf-8")
    return detector
