"""The region detector network: a timm CNN backbone, a small feature pyramid, per-region edge
profiles, and a lung segmentation decoder.

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
features) to a predicted IoU per region: the box ``score``. A third, a light decoder on the
stride-4 backbone features, segments both lungs: lung masks supervise every pixel with where
the lungs really are, and the predicted mask gives a second, independent reading of the lung
edges (``lung_masks.refine_lungs``; the gain is measured in ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

from cxralign.vocabulary import REGIONS

FPN_CHANNELS = 96
UNTRAINED_SCORE_LOGIT = -2.0
"""Initial bias of the score head: an untrained network predicts IoU ~0.12 for every box, so
the atlas, not random boxes, fills in until training has taught the score."""
LUNG_DECODER_CHANNELS = 48
LUNG_DECODER_PREFIX = "lung_decoder."
"""State-dict keys of the lung decoder: model directories written before it existed (format
1) lack them and still load, without lung refinement."""


class RegionDetectorNet(nn.Module):
    """``forward(x: (B,1,H,W)) -> (boxes (B,R,4) in [0,1] of the input frame, score logits
    (B,R), lung logits (B,1,H/4,W/4))``; ``R`` = number of regions."""

    def __init__(self, backbone: str, regions: int = len(REGIONS), pretrained_path: str = "") -> None:
        super().__init__()
        self.regions = regions
        self.backbone = timm.create_model(
            backbone,
            pretrained=bool(pretrained_path),
            pretrained_cfg_overlay={"file": pretrained_path} if pretrained_path else None,
            features_only=True,
            out_indices=(-4, -3, -2, -1),  # strides 4 (lung decoder only), 8, 16, 32
            in_chans=1,
        )
        fine, *channels = self.backbone.feature_info.channels()
        self.lateral = nn.ModuleList(nn.Conv2d(c, FPN_CHANNELS, 1) for c in channels)
        self.smooth = nn.Sequential(
            nn.Conv2d(FPN_CHANNELS, FPN_CHANNELS, 3, padding=1, bias=False),
            nn.BatchNorm2d(FPN_CHANNELS),
            nn.ReLU(inplace=True),
        )
        # Two edges per axis per region: (x1, x2) voted from columns, (y1, y2) from rows.
        self.x_votes = nn.Conv2d(FPN_CHANNELS, 2 * regions, 1)
        self.y_votes = nn.Conv2d(FPN_CHANNELS, 2 * regions, 1)
        # Lung or not, per stride-4 cell: the pyramid upsampled, joined with the fine features.
        self.lung_decoder = nn.Sequential(
            nn.Conv2d(FPN_CHANNELS + fine, LUNG_DECODER_CHANNELS, 3, padding=1, bias=False),
            nn.BatchNorm2d(LUNG_DECODER_CHANNELS),
            nn.ReLU(inplace=True),
            nn.Conv2d(LUNG_DECODER_CHANNELS, 1, 1),
        )
        self.score = nn.Sequential(
            nn.Linear(FPN_CHANNELS + 4 * regions, 128), nn.ReLU(inplace=True),
            nn.Linear(128, regions),
        )
        nn.init.constant_(self.score[-1].bias, UNTRAINED_SCORE_LOGIT)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = x.shape[0]
        fine, *levels = self.backbone(x)
        features = self._pyramid(levels)
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
        upsampled = F.interpolate(features, size=fine.shape[-2:], mode="bilinear",
                                  align_corners=False)
        lung_logits = self.lung_decoder(torch.cat((upsampled, fine), dim=1))
        return boxes, scores, lung_logits

    def _pyramid(self, levels: list[torch.Tensor]) -> torch.Tensor:
        merged = self.lateral[-1](levels[-1])
        for level in range(len(levels) - 2, -1, -1):
            lateral = self.lateral[level](levels[level])
            merged = lateral + F.interpolate(merged, size=lateral.shape[-2:], mode="nearest")
        return self.smooth(merged)


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
