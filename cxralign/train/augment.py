"""Batch augmentation on tensors for pre-training, boxes moved with the pixels.

A view is sampled per image as one affine map from model-input pixels ``q`` to staged pixels
``p``: ``p = c + M (q - out/2)``, with ``M = R(θ) · diag(w/out, h/out)``: a random resized crop
(window ``w × h`` around centre ``c``, area and aspect drawn as torchvision's
``RandomResizedCrop`` does, kept inside the image) rotated by ``θ``. Pixels are resampled once
(``grid_sample``, bilinear, zeros outside), so there is no PIL round trip and no double
interpolation; boxes go through the inverse map ``q = M⁻¹ (p - c) + out/2`` and become the
envelope of their four mapped corners, which is exactly the bounding box of the rotated
rectangle, then are clipped to the input square. Without augmentation the map is the plain
resize of the staged square to the input size (``M = S/out · I``), so boxes are simply scaled.

Pixel coordinates are continuous (pixel ``i`` covers ``[i, i+1)``), as in the staging contract.
No horizontal flip: reports say "left" and "right", and a mirrored radiograph would contradict
its report. Intensity jitter (gamma, contrast, brightness) is per image, after the warp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from cxralign.train.settings import PretrainSettings

ASPECT_RANGE = (3 / 4, 4 / 3)


@dataclass(frozen=True)
class Augmentation:
    """Strength of each random change; :meth:`none` is the deterministic plain resize. The
    strengths have no defaults here: they are settings (:meth:`from_settings`)."""

    crop_scale_min: float
    rotation_degrees: float
    brightness: float
    contrast: float
    gamma: float
    enabled: bool = True

    @staticmethod
    def none() -> Augmentation:
        return Augmentation(1.0, 0.0, 0.0, 0.0, 0.0, enabled=False)

    @staticmethod
    def from_settings(settings: PretrainSettings) -> Augmentation:
        """The augmentation a run's settings ask for (:meth:`none` when switched off)."""
        if not settings.augment:
            return Augmentation.none()
        return Augmentation(settings.crop_scale_min, settings.rotation_degrees,
                            settings.brightness, settings.contrast, settings.gamma)


@dataclass(frozen=True)
class Views:
    """Per image, the map ``p = centre + linear @ (q - out/2)`` (staged px from input px)."""

    centre: torch.Tensor  # (B, 2) staged pixels
    linear: torch.Tensor  # (B, 2, 2) staged pixels per input pixel
    source_size: int
    out_size: int


def _uniform(low: torch.Tensor | float, high: torch.Tensor | float, count: int,
             generator: torch.Generator) -> torch.Tensor:
    return low + (torch.as_tensor(high) - low) * torch.rand(count, generator=generator, dtype=torch.float64)


def sample_views(
    count: int, source_size: int, out_size: int, augmentation: Augmentation,
    generator: torch.Generator,
) -> Views:
    """Random resized crops + rotations for ``count`` images (identity resize when disabled)."""
    size = float(source_size)
    if not augmentation.enabled:
        centre = torch.full((count, 2), size / 2, dtype=torch.float64)
        linear = torch.eye(2, dtype=torch.float64).expand(count, 2, 2) * (size / out_size)
        return Views(centre, linear.clone(), source_size, out_size)
    area = _uniform(augmentation.crop_scale_min, 1.0, count, generator)
    log_aspect = _uniform(math.log(ASPECT_RANGE[0]), math.log(ASPECT_RANGE[1]), count, generator)
    aspect = torch.exp(log_aspect)
    width = (size * torch.sqrt(area * aspect)).clamp(max=size)
    height = (size * torch.sqrt(area / aspect)).clamp(max=size)
    centre = torch.stack(
        (_uniform(width / 2, size - width / 2, count, generator),
         _uniform(height / 2, size - height / 2, count, generator)), dim=1)
    angle = _uniform(-1.0, 1.0, count, generator) * math.radians(augmentation.rotation_degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.stack((torch.stack((cos, -sin), 1), torch.stack((sin, cos), 1)), 1)
    scale = torch.diag_embed(torch.stack((width, height), 1) / out_size)
    return Views(centre, rotation @ scale, source_size, out_size)


def warp_images(pixels: torch.Tensor, views: Views) -> torch.Tensor:
    """``(B, S, S)`` uint8 staged images -> ``(B, 1, out, out)`` float32 in [0, 1]."""
    count = pixels.shape[0]
    source = pixels.to(torch.float32).unsqueeze(1) / 255.0
    # grid_sample's normalised coordinates: input x_n = 2p/S - 1, output u = 2q/out - 1, so
    # x_n = (2c/S - 1) + (out/S) M u.
    ratio = views.out_size / views.source_size
    theta = torch.cat(
        ((views.linear * ratio), (2 * views.centre / views.source_size - 1).unsqueeze(-1)), dim=2)
    grid = F.affine_grid(theta.to(torch.float32), [count, 1, views.out_size, views.out_size],
                         align_corners=False)
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def warp_boxes(boxes: torch.Tensor, box_image: torch.Tensor, views: Views
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Staged-pixel boxes ``(R, 4)`` of images ``box_image`` -> (input-pixel boxes clipped to
    the square ``(R, 4)``, the share of each mapped box's area left inside it ``(R,)``)."""
    if boxes.numel() == 0:
        return boxes.reshape(0, 4).to(torch.float32), boxes.new_zeros(0, dtype=torch.float32)
    boxes = boxes.to(torch.float64)
    corners = torch.stack((boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]], boxes[:, [2, 3]]), 1)
    inverse = torch.linalg.inv(views.linear)[box_image]  # (R, 2, 2)
    centre = views.centre[box_image].unsqueeze(1)  # (R, 1, 2)
    mapped = (inverse.unsqueeze(1) @ (corners - centre).unsqueeze(-1)).squeeze(-1) + views.out_size / 2
    envelope = torch.cat((mapped.amin(1), mapped.amax(1)), dim=1)
    clipped = envelope.clamp(0, views.out_size)
    visible = _area(clipped) / _area(envelope).clamp_min(1e-9)
    return clipped.to(torch.float32), visible.to(torch.float32)


def _area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]).clamp_min(0) * (boxes[:, 3] - boxes[:, 1]).clamp_min(0)


def jitter_intensity(pixels: torch.Tensor, augmentation: Augmentation,
                     generator: torch.Generator) -> torch.Tensor:
    """Per-image gamma, contrast (about mid-grey) and brightness on [0, 1] images."""
    if not augmentation.enabled:
        return pixels
    count = pixels.shape[0]

    def spread(amount: float) -> torch.Tensor:
        values = (torch.rand(count, generator=generator) * 2 - 1) * amount
        return values.view(count, 1, 1, 1)

    pixels = pixels.clamp(0, 1) ** torch.exp(spread(augmentation.gamma))
    pixels = (pixels - 0.5) * torch.exp(spread(augmentation.contrast)) + 0.5
    return (pixels + spread(augmentation.brightness)).clamp(0, 1)
