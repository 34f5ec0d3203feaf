"""Batch augmentation for detector training, on tensors, boxes moved with the pixels.

What real radiographs vary in, and so what is simulated: patient size and distance (scale,
aspect), positioning (shift, a few degrees of rotation), exposure and processing (contrast,
brightness, gamma, noise), figures cropped out of papers (black borders, cut-off lung
apices or bases) and, to double the scarce real boxes, horizontal mirroring. A mirrored image
is a plausible radiograph only if its labels are mirrored too: the box now on the image's left
is the patient's right, so ``right X`` and ``left X`` swap, and regions with no lateral partner
(aortic arch, right atrium, ...) are masked out of the loss for that image.

Rotated boxes are re-boxed as the ellipse inscribed in the box would be (an anatomical
structure is rounded, not a rectangle): half-widths ``sqrt((w cos)^2 + (h sin)^2)``, which
does not inflate the box the way rotating its corners would.

Label maps (a lung mask) travel with the pixels through every geometric step, crop included,
and skip the photometric ones: they say where anatomy is, not how it was exposed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from cxralign.anatomy.geometry import LATERAL, MIRROR_PERMUTATION

MIN_VISIBLE_FRACTION = 0.4


@dataclass(frozen=True)
class AugmentRanges:
    """How strongly each augmentation varies; ``AugmentRanges.none()`` disables them all."""

    scale: float = 0.15
    aspect: float = 0.08
    shift: float = 0.08
    rotation_degrees: float = 8.0
    flip_probability: float = 0.5
    crop_probability: float = 0.25
    crop_max: float = 0.2
    contrast: float = 0.3
    brightness: float = 0.1
    gamma: float = 0.35
    noise: float = 0.03

    @staticmethod
    def none() -> AugmentRanges:
        return AugmentRanges(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


class AugmentedBatch(NamedTuple):
    """``pixels`` (B, 1, out, out) in [0, 1], ``boxes`` (B, R, 4), ``mask`` (B, R) and, when
    label maps were given, ``label_maps`` (B, C, out, out) in [0, 1]."""

    pixels: torch.Tensor
    boxes: torch.Tensor
    mask: torch.Tensor
    label_maps: torch.Tensor | None


def flip_labels(boxes: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes and mask of horizontally mirrored images (``(B, R, 4)`` in [0, 1], ``(B, R)``):
    coordinates mirrored, lateral labels swapped, unpaired regions masked."""
    permutation = torch.as_tensor(MIRROR_PERMUTATION, device=boxes.device)
    sign = torch.tensor([-1.0, 1.0, -1.0, 1.0], device=boxes.device)
    offset = torch.tensor([1.0, 0.0, 1.0, 0.0], device=boxes.device)
    mirrored = boxes[:, permutation][..., [2, 1, 0, 3]] * sign + offset
    lateral = torch.as_tensor(LATERAL, device=boxes.device)
    return mirrored, mask[:, permutation] & lateral


def augment(
    images: torch.Tensor,
    boxes: torch.Tensor,
    mask: torch.Tensor,
    out_size: int,
    ranges: AugmentRanges,
    generator: torch.Generator,
    label_maps: torch.Tensor | None = None,
) -> AugmentedBatch:
    """Augment a batch: ``images`` (B, S, S) uint8, ``boxes`` (B, R, 4) normalised to the
    square, ``mask`` (B, R), optional ``label_maps`` (B, C, S, S) uint8 in the images' frame.
    The random draws do not depend on whether label maps are given."""
    batch = images.shape[0]

    def uniform(spread: float) -> torch.Tensor:
        return (torch.rand(batch, generator=generator) * 2 - 1) * spread

    pixels = images.float().unsqueeze(1) / 255.0
    if label_maps is not None:  # geometry moves them with the pixels as extra channels
        pixels = torch.cat((pixels, label_maps.float() / 255.0), dim=1)
    flip = torch.rand(batch, generator=generator) < ranges.flip_probability
    pixels = torch.where(flip[:, None, None, None], pixels.flip(-1), pixels)
    flipped_boxes, flipped_mask = flip_labels(boxes, mask)
    boxes = torch.where(flip[:, None, None], flipped_boxes, boxes)
    mask = torch.where(flip[:, None], flipped_mask, mask)

    scale = torch.exp(uniform(ranges.scale))
    aspect = torch.exp(uniform(ranges.aspect))
    scale_x, scale_y = scale * aspect, scale / aspect
    angle = uniform(math.radians(ranges.rotation_degrees))
    shift_x, shift_y = uniform(ranges.shift), uniform(ranges.shift)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Forward map about the centre c = 0.5: out = R S (in - c) + c + shift.
    forward = torch.zeros(batch, 2, 2)
    forward[:, 0, 0], forward[:, 0, 1] = cos * scale_x, -sin * scale_y
    forward[:, 1, 0], forward[:, 1, 1] = sin * scale_x, cos * scale_y
    shift = torch.stack((shift_x, shift_y), dim=1)
    inverse = torch.linalg.inv(forward)
    # grid_sample works in [-1, 1] coordinates: u = 2p - 1, so the same linear part applies.
    theta = torch.cat((inverse, (-inverse @ (2 * shift).unsqueeze(-1))), dim=2)
    grid = F.affine_grid(theta, [batch, pixels.shape[1], out_size, out_size], align_corners=False)
    pixels = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    centre = (boxes[..., :2] + boxes[..., 2:]) / 2 - 0.5
    half = (boxes[..., 2:] - boxes[..., :2]) / 2 * torch.stack((scale_x, scale_y), 1)[:, None]
    new_centre = (forward[:, None] @ centre.unsqueeze(-1)).squeeze(-1) + 0.5 + shift[:, None]
    cos_, sin_ = cos.abs()[:, None], sin.abs()[:, None]
    new_half = torch.stack(
        (torch.hypot(half[..., 0] * cos_, half[..., 1] * sin_),
         torch.hypot(half[..., 0] * sin_, half[..., 1] * cos_)), dim=-1)
    boxes = torch.cat((new_centre - new_half, new_centre + new_half), dim=-1)

    window = _crop_windows(batch, ranges, generator)
    pixels = pixels * _window_mask(window, out_size)
    clipped = torch.cat((torch.maximum(boxes[..., :2], window[:, None, :2]),
                         torch.minimum(boxes[..., 2:], window[:, None, 2:])), dim=-1)
    visible = _area(clipped) / _area(boxes).clamp_min(1e-9)
    mask = mask & (visible >= MIN_VISIBLE_FRACTION)
    boxes = torch.where(mask[..., None], clipped, boxes)
    maps = pixels[:, 1:] if label_maps is not None else None
    return AugmentedBatch(_photometric(pixels[:, :1], ranges, generator), boxes, mask, maps)


def _area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[..., 2] - boxes[..., 0]).clamp_min(0) * (boxes[..., 3] - boxes[..., 1]).clamp_min(0)


def _crop_windows(batch: int, ranges: AugmentRanges, generator: torch.Generator) -> torch.Tensor:
    """Per image, the visible window ``(x1, y1, x2, y2)``: the whole frame, or with
    ``crop_probability`` a frame with up to ``crop_max`` cut from each side."""
    cuts = torch.rand(batch, 4, generator=generator) * ranges.crop_max
    cropped = torch.rand(batch, 1, generator=generator) < ranges.crop_probability
    cuts = torch.where(cropped, cuts, torch.zeros_like(cuts))
    return torch.stack((cuts[:, 0], cuts[:, 1], 1 - cuts[:, 2], 1 - cuts[:, 3]), dim=1)


def _window_mask(window: torch.Tensor, size: int) -> torch.Tensor:
    centres = (torch.arange(size) + 0.5) / size
    inside_x = (centres >= window[:, 0:1]) & (centres < window[:, 2:3])
    inside_y = (centres >= window[:, 1:2]) & (centres < window[:, 3:4])
    return (inside_y[:, :, None] & inside_x[:, None, :]).unsqueeze(1).float()


def _photometric(pixels: torch.Tensor, ranges: AugmentRanges, generator: torch.Generator) -> torch.Tensor:
    batch = pixels.shape[0]
    shape = (batch, 1, 1, 1)

    def uniform(spread: float) -> torch.Tensor:
        return ((torch.rand(shape, generator=generator) * 2 - 1) * spread)

    gamma = torch.exp(uniform(ranges.gamma))
    pixels = pixels.clamp(0, 1) ** gamma
    pixels = (pixels - 0.5) * torch.exp(uniform(ranges.contrast)) + 0.5 + uniform(ranges.brightness)
    noise = torch.randn(pixels.shape, generator=generator) * ranges.noise
    return (pixels + noise).clamp(0, 1)
