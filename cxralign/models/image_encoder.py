"""The image encoder: any timm backbone, one input channel, one spatial feature map out.

Every objective in this project needs a *spatial* map, not just a pooled vector: RoI-align pools
anatomical regions from it (ASG), token alignment and adaptive patch matching attend over its
cells (MGCA, AdaMatch). CNNs give that map directly; ViTs give patch tokens, which are put back
on their grid so the rest of the model never has to know which family it runs.

Radiographs are grey, so the stem takes one channel (``in_chans=1``); when ImageNet weights are
loaded timm sums the RGB filters of the stem, which preserves their response to grey input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from cxralign.anatomy.detector import CONFIG_FILE, WEIGHTS_FILE, DetectorConfig


@dataclass(frozen=True)
class BackboneOutput:
    """``feature_map`` (B, C, h, w) and ``pooled`` (B, C): the backbone's own global pooling
    (average for CNNs, the class token for ViTs)."""

    feature_map: torch.Tensor
    pooled: torch.Tensor


def create_image_backbone(name: str, image_size: int, weights_path: str = "",
                          pretrained: bool = False, output_stride: int = 0) -> nn.Module:
    """A timm model without classifier, ``in_chans=1``, sized for ``image_size`` inputs.

    ``weights_path`` (a local timm/torchvision state dict) wins over ``pretrained`` (a download
    from the hub, for users with internet). Neither is needed to reload a saved model: that is
    ``create_image_backbone(name, size, output_stride=...)`` followed by ``load_state_dict``.
    ``output_stride`` (0 = the model's own) dilates a CNN's last stages for a finer map; a
    transformer's grid is set by its patch size, so there it is ignored.
    """
    kwargs: dict = {"in_chans": 1, "num_classes": 0}
    if _takes_image_size(name):
        kwargs["img_size"] = image_size
    elif output_stride:
        kwargs["output_stride"] = output_stride
    if weights_path:
        if not Path(weights_path).is_file():
            raise FileNotFoundError(f"image encoder weights not found: {weights_path}")
        return timm.create_model(name, pretrained=True,
                                 pretrained_cfg_overlay={"file": str(weights_path)}, **kwargs)
    return timm.create_model(name, pretrained=pretrained, **kwargs)


def _takes_image_size(name: str) -> bool:
    """Transformers fix their position embeddings to an input size at construction (timm's
    ``fixed_input_size``); CNNs do not take the argument at all."""
    config = timm.get_pretrained_cfg(name)
    return bool(config is not None and config.fixed_input_size)


def detector_backbone(detector_dir: str | Path) -> str:
    """The timm backbone an anatomy detector was trained with (its ``config.json``)."""
    path = Path(detector_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no anatomy detector in {detector_dir} (missing {CONFIG_FILE})")
    return DetectorConfig.from_json(path.read_text(encoding="utf-8")).backbone


def load_detector_backbone(backbone: nn.Module, detector_dir: str | Path) -> None:
    """Copy an anatomy detector's backbone weights (``cxralign anatomy train``) into
    ``backbone``, which must be the same timm architecture; every backbone weight must match,
    so a wrong architecture fails here rather than training from a half-loaded network."""
    directory = Path(detector_dir)
    if not (directory / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"no anatomy detector in {directory} (missing {WEIGHTS_FILE})")
    config = DetectorConfig.from_json((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    state = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    prefix = "backbone."
    weights = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    own = backbone.state_dict()
    missing = sorted(set(own) - set(weights))
    if missing or any(own[key].shape != weights[key].shape for key in own):
        raise ValueError(f"the detector in {directory} has backbone {config.backbone!r}, which "
                         f"does not fit this image encoder (missing {missing[:3]}); set "
                         f"image_encoder: {config.backbone}")
    backbone.load_state_dict({key: weights[key] for key in own})


class ImageEncoder(nn.Module):
    """Wraps a timm backbone; ``forward(images (B,1,H,W)) -> BackboneOutput``."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.channels: int = backbone.num_features

    def forward(self, images: torch.Tensor) -> BackboneOutput:
        features = self.backbone.forward_features(images)
        pooled = self.backbone.forward_head(features, pre_logits=True)
        return BackboneOutput(feature_map=self._as_map(features, images.shape[-2:]), pooled=pooled)

    def _as_map(self, features: torch.Tensor, input_size: torch.Size) -> torch.Tensor:
        """``(B, C, h, w)`` from a CNN map, an NHWC map (Swin) or ViT tokens."""
        if features.ndim == 4:
            if getattr(self.backbone, "output_fmt", "NCHW") == "NHWC":
                return features.permute(0, 3, 1, 2)
            return features
        patches = features[:, getattr(self.backbone, "num_prefix_tokens", 0):]
        height, width = self._token_grid(input_size)
        return patches.transpose(1, 2).reshape(len(patches), -1, height, width)

    def _token_grid(self, input_size: torch.Size) -> tuple[int, int]:
        patch_embed = self.backbone.patch_embed
        if getattr(patch_embed, "dynamic_img_size", False):
            return tuple(patch_embed.dynamic_feat_size(tuple(input_size)))
        return tuple(patch_embed.grid_size)
