"""A trained detector on disk and in memory.

Model directory (no pickled classes, so any later version of this code can read it):
- ``weights.pt``: the network's state dict (tensors only; loaded with ``weights_only=True``);
- ``config.json``: backbone, input size, region names in output order, pixel normalisation,
  and the lung mask-to-box offsets (absent: the lung boxes are the detector's alone);
- ``atlas.json``: the canonical region layout used for the fallback (see ``atlas``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import numpy as np
import torch
import torch.nn.functional as F

from cxralign.anatomy.atlas import Atlas
from cxralign.anatomy.augment import flip_labels
from cxralign.anatomy.geometry import LATERAL, MIRROR_PERMUTATION, RegionBoxes
from cxralign.anatomy.lung_masks import LUNG_ORDER, refine_lungs
from cxralign.anatomy.model import LUNG_DECODER_PREFIX, RegionDetectorNet
from cxralign.anatomy.settings import AnatomySettings
from cxralign.io.atomic import atomic_path, save_torch_atomically
from cxralign.vocabulary import REGIONS

WEIGHTS_FILE: Final = "weights.pt"
CONFIG_FILE: Final = "config.json"
ATLAS_FILE: Final = "atlas.json"
FORMAT_VERSION: Final = 2
READABLE_FORMATS: Final = (1, 2)
"""Format 1 (before the lung decoder) still loads; it predicts without lung refinement."""
PIXEL_MEAN, PIXEL_STD = 0.5, 0.25
PREDICT_BATCH: Final = 32


@dataclass(frozen=True)
class DetectorConfig:
    """Everything besides the weights that rebuilding and feeding the network needs."""

    backbone: str
    input_size: int
    regions: tuple[str, ...]
    pixel_mean: float = PIXEL_MEAN
    pixel_std: float = PIXEL_STD
    flip_average: bool = True
    lung_mask_offsets: tuple[tuple[float, ...], ...] | None = None
    """Per lung (right, left), the median offset of a mask box's edges from the gold box's, as
    fractions of the mask box (``lung_masks.fit_mask_offsets``); None = no lung refinement."""
    format_version: int = FORMAT_VERSION

    @staticmethod
    def from_settings(settings: AnatomySettings) -> DetectorConfig:
        return DetectorConfig(settings.backbone, settings.input_size, tuple(REGIONS))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @staticmethod
    def from_json(text: str) -> DetectorConfig:
        data = json.loads(text)
        if data.get("format_version") not in READABLE_FORMATS:
            raise ValueError(f"unsupported detector format {data.get('format_version')}")
        offsets = data.get("lung_mask_offsets")
        return DetectorConfig(**{
            **data, "regions": tuple(data["regions"]),
            "lung_mask_offsets": tuple(map(tuple, offsets)) if offsets is not None else None,
        })


def normalise(pixels: torch.Tensor, config: DetectorConfig) -> torch.Tensor:
    """[0, 1] pixels -> network input (the one normalisation training and inference share)."""
    return (pixels - config.pixel_mean) / config.pixel_std


def square(image: np.ndarray) -> np.ndarray:
    """Pad an image right/bottom to a square, the staged-image convention, so one normalised
    coordinate means the same on both axes."""
    rows, columns = image.shape
    side = max(rows, columns)
    if rows == columns:
        return image
    out = np.zeros((side, side), dtype=image.dtype)
    out[:rows, :columns] = image
    return out


def to_input(images: np.ndarray, size: int) -> torch.Tensor:
    """Square uint8 image(s) ``(S, S)`` or ``(n, S, S)`` -> ``(n, 1, size, size)`` floats in
    [0, 1], resized with antialiasing (training resizes its gold images the same way)."""
    pixels = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)).float()
    pixels = pixels.reshape(-1, 1, *pixels.shape[-2:])
    resized = F.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True,
                            align_corners=False)
    return resized / 255.0


class Detector:
    """A trained region detector: ``predict`` gives 29 boxes per image with a predicted-IoU
    score; ``atlas`` is the fallback layout saved with it."""

    def __init__(self, net: RegionDetectorNet, config: DetectorConfig, atlas: Atlas) -> None:
        self.net = net.eval()
        self.config = config
        self.atlas = atlas

    def save(self, model_dir: Path) -> None:
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        save_torch_atomically(self.net.state_dict(), model_dir / WEIGHTS_FILE)
        with atomic_path(model_dir / CONFIG_FILE) as tmp:
            tmp.write_text(self.config.to_json(), encoding="utf-8")
        self.atlas.save(model_dir / ATLAS_FILE)

    @torch.inference_mode()
    def predict(self, images: np.ndarray | Sequence[np.ndarray]) -> list[RegionBoxes]:
        """Boxes in each input image's pixels (uint8 ``(n, S, S)`` staged arrays, or a list of
        2-D uint8 arrays, padded right/bottom to a square if they are not one)."""
        results: list[RegionBoxes] = []
        for start in range(0, len(images), PREDICT_BATCH):
            chunk = [square(np.asarray(image)) for image in images[start : start + PREDICT_BATCH]]
            pixels = torch.cat([to_input(image, self.config.input_size) for image in chunk])
            boxes, scores, lung_logits = self._forward(normalise(pixels, self.config))
            for image, image_boxes, image_scores, logits in zip(
                chunk, boxes, scores, lung_logits, strict=True
            ):
                side = image.shape[0]
                image_boxes = image_boxes * side
                if self.config.lung_mask_offsets is not None:
                    self._refine_lungs(image_boxes, logits, side)
                results.append({
                    region: (*(float(v) for v in box), float(score))
                    for region, box, score in zip(self.config.regions, image_boxes, image_scores,
                                                  strict=True)
                })
        return results

    def _refine_lungs(self, boxes: np.ndarray, lung_logits: torch.Tensor, side: int) -> None:
        """Replace the lung rows of ``boxes`` (one image, in its pixels) in place by their
        mask refinement; ``lung_logits`` (1, h, w) cover the same square."""
        lung = F.interpolate(lung_logits[None], size=(side, side), mode="bilinear",
                             align_corners=False)[0, 0] > 0  # logit 0 = probability 0.5
        rows = [self.config.regions.index(name) for name in LUNG_ORDER]
        offsets = np.asarray(self.config.lung_mask_offsets)
        boxes[rows] = refine_lungs([boxes[row].copy() for row in rows], lung.numpy(), offsets)

    def _forward(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
        """Boxes (normalised), scores and lung logits; with ``flip_average`` the lateral
        regions and the lung logits are the mean of the image's and its mirror's prediction
        (mirrored back, labels swapped), which cancels part of the network's left/right
        asymmetric error at twice the cost."""
        boxes, logits, lung_logits = self.net(x)
        if self.config.flip_average:
            mirrored_boxes, mirrored_logits, mirrored_lungs = self.net(x.flip(-1))
            lateral = torch.as_tensor(LATERAL)
            back_boxes, _ = flip_labels(mirrored_boxes, torch.ones_like(lateral).expand(len(x), -1))
            back_logits = mirrored_logits[:, torch.as_tensor(MIRROR_PERMUTATION)]
            boxes = torch.where(lateral[None, :, None], (boxes + back_boxes) / 2, boxes)
            logits = torch.where(lateral[None], (logits + back_logits) / 2, logits)
            lung_logits = (lung_logits + mirrored_lungs.flip(-1)) / 2
        return boxes.numpy(), logits.sigmoid().numpy(), lung_logits


def load_detector(model_dir: Path) -> Detector:
    """Rebuild a saved detector (random-initialised backbone, then the saved weights)."""
    model_dir = Path(model_dir)
    config = DetectorConfig.from_json((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    net = RegionDetectorNet(config.backbone, len(config.regions))
    state = torch.load(model_dir / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if config.lung_mask_offsets is None:  # format 1 has no lung decoder; none is used
        missing = [key for key in missing if not key.startswith(LUNG_DECODER_PREFIX)]
    if missing or unexpected:
        raise ValueError(f"{model_dir / WEIGHTS_FILE} does not fit {config.backbone}: "
                         f"missing {missing[:5]}, unexpected {unexpected[:5]}")
    return Detector(net, config, Atlas.load(model_dir / ATLAS_FILE))
