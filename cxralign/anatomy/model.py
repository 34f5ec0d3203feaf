"""The region detector network: a timm CNN backbone, a small feature pyramid, and per-region
edge profiles.

Why this design: there is exactly one box per region per image, so detection reduces to
locating 29 x 4 box edges; no anchors, proposals or non-maximum suppression are needed (and
Faster R-CNN is far too slow to train on a laptop CPU). Each edge is found as a probability
profile along its axis: every pixel of the stride-8 feature map votes, through a 1x1
convolution, for "the left edge of region r is in my column" (and likewise for the other three
edges); the votes are pooled over the other axis with log-sum-exp and a soft-argmax over the
profile gives a sub-pixel coordinate. Because the vote is made by a convolution it is
translation-equivariant, which is what lets ~130 real radiographs teach lung edges that a
global regression head would need far more images for, and the spread of each profile is a
direct measure of how sure the network is. A second small head maps that spread (and pooled
features) to a predicted IoU per region: the box ``score``. A third, a 1x1 convolution used
only by training (``forward_train``), marks the cells inside each region's box, so an
auxiliary loss can supervise every cell of the feature map (see ``train.interior_loss``).
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

from cxralign.vocabulary import REGIONS

FPN_CHANNELS = 96
TRAINING_ONLY_PREFIX = "interior."
"""State-dict keys of the training-only head: not saved, and not expected when loading (so
model directories written before the head existed still load)."""


class RegionDetectorNet(nn.Module):
    """``forward(x: (B,1,H,W)) -> (boxes (B,R,4) in [0,1] of the input frame, score logits
    (B,R))``; ``R`` = number of regions."""

    def __init__(self, backbone: str, regions: int = len(REGIONS), pretrained_path: str = "") -> None:
        super().__init__()
        self.regions = regions
        self.backbone = timm.create_model(
            backbone,
            pretrained=bool(pretrained_path),
            pretrained_cfg_overlay={"file": pretrained_path} if pretrained_path else None,
            features_only=True,
            out_indices=(-3, -2, -1),
            in_chans=1,
        )
        channels = self.backbone.feature_info.channels()
        self.lateral = nn.ModuleList(nn.Conv2d(c, FPN_CHANNELS, 1) for c in channels)
        self.smooth = nn.Sequential(
            nn.Conv2d(FPN_CHANNELS, FPN_CHANNELS, 3, padding=1, bias=False),
            nn.BatchNorm2d(FPN_CHANNELS),
            nn.ReLU(inplace=True),
        )
        # Two edges per axis per region: (x1, x2) voted from columns, (y1, y2) from rows.
        self.x_votes = nn.Conv2d(FPN_CHANNELS, 2 * regions, 1)
        self.y_votes = nn.Conv2d(FPN_CHANNELS, 2 * regions, 1)
        # Training-only dense supervision: is this feature cell inside region r's box?
        self.interior = nn.Conv2d(FPN_CHANNELS, regions, 1)
        self.score = nn.Sequential(
            nn.Linear(FPN_CHANNELS + 4 * regions, 128), nn.ReLU(inplace=True),
            nn.Linear(128, regions),
        )

    def _pyramid(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)
        merged = self.lateral[-1](features[-1])
        for level in range(len(features) - 2, -1, -1):
            lateral = self.lateral[level](features[level])
            merged = lateral + F.interpolate(merged, size=lateral.shape[-2:], mode="nearest")
        return self.smooth(merged)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        boxes, scores, _ = self.forward_train(x)
        return boxes, scores

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``forward`` plus the box-interior logits ``(B, R, h, w)`` of the feature grid."""
        batch = x.shape[0]
        features = self._pyramid(x)
        x_profiles = torch.logsumexp(self.x_votes(features), dim=2)  # (B, 2R, W)
        y_profiles = torch.logsumexp(self.y_votes(features), dim=3)  # (B, 2R, H)
        x_mean, x_spread = _soft_argmax(x_profiles)
        y_mean, y_spread = _soft_argmax(y_profiles)
        x_mean, y_mean = x_mean.view(batch, self.regions, 2), y_mean.view(batch, self.regions, 2)
        boxes = torch.stack(
            (x_mean.amin(-1), y_mean.amin(-1), x_mean.amax(-1), y_mean.amax(-1)), dim=-1
        )
        spreads = torch.cat((x_spread, y_spread), dim=1)  # (B, 4R)
        pooled = features.mean(dim=(2, 3))
        scores = self.score(torch.cat((pooled, spreads.detach() * 10.0), dim=1))
        return boxes, scores, self.interior(features)


def _soft_argmax(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected position in [0, 1] (bin centres) and standard deviation of each profile."""
    bins = logits.shape[-1]
    centres = (torch.arange(bins, device=logits.device, dtype=logits.dtype) + 0.5) / bins
    probabilities = logits.softmax(dim=-1)
    mean = (probabilities * centres).sum(-1)
    variance = (probabilities * (centres - mean.unsqueeze(-1)) ** 2).sum(-1)
    return mean, variance.clamp_min(1e-12).sqrt()


def check_pretrained_path(path: str) -> None:
    """Fail early, with the path in the message, when local weights were asked for but are
    missing (timm would otherwise try to download them)."""
    if path and not Path(path).is_file():
        raise FileNotFoundError(f"pretrained_path {path} is not a file")
