"""Rendering a phantom radiograph: attenuation painted at low resolution, then upsampled.

Every structure is a body-frame polygon (see :mod:`cxralign.synthetic.geometry`) filled into a
small float canvas (long side :data:`CANVAS_LONG_SIDE`) and *added* to an attenuation map, so
overlapping structures sum as X-ray attenuation does (the heart over the left lung is denser
than either). The map is blurred, upsampled with bicubic interpolation to the detector size,
given an exposure curve and quantum noise. Painting small keeps a ~1k-pixel image well under
60 ms on one core; the anatomy is smooth enough that nothing is lost.

The result is display brightness in ``[0, 1]`` in the MONOCHROME2 sense (bone and fluid bright,
air dark); the DICOM writer inverts it for MONOCHROME1.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from cxralign.synthetic.anatomy import SIDES, SIGN, Anatomy
from cxralign.synthetic.geometry import Points, Pose, contains, ellipse, rectangle, thicken
from cxralign.synthetic.lesions import Lesion

CANVAS_LONG_SIDE: Final = 320

Image32 = NDArray[np.float32]

# Attenuation added by each structure, in arbitrary units where soft tissue is ~0.55.
_SOFT_TISSUE: Final = 0.55
_LUNG_AIR: Final = -0.37
_VESSELS: Final = 0.09
_HEART: Final = 0.2
_HEART_DEPTH: Final = 0.7
"""Fraction of the lung's air that the heart displaces where the two overlap."""
_HILUM: Final = 0.06
_MEDIASTINUM: Final = 0.05
_AORTA: Final = 0.12
_AIRWAY: Final = -0.09
_VERTEBRA: Final = 0.1
_RIB: Final = 0.05
_CLAVICLE: Final = 0.12
_GAS: Final = -0.25
_DENSER_THAN_WATER: Final = 0.06
"""How far a dense lesion (a mass) may exceed the soft tissue density it replaces air with."""


class Canvas:
    """Rasterises body-frame polygons onto the low-resolution canvas of one pose."""

    def __init__(self, pose: Pose) -> None:
        self.pose = pose
        self.scale = CANVAS_LONG_SIDE / max(pose.rows, pose.cols)
        self.size = (max(1, round(pose.cols * self.scale)), max(1, round(pose.rows * self.scale)))

    def mask(self, *polygons: Points, width: int = 0) -> Image32:
        """Coverage (0 or 1) of the union of ``polygons``; ``width > 0`` strokes them as lines."""
        image = Image.new("F", self.size, 0.0)
        draw = ImageDraw.Draw(image)
        for polygon in polygons:
            xy = [tuple(p) for p in self.pose.to_pixels(polygon, self.scale)]
            if width:
                draw.line(xy, fill=1.0, width=width)
            else:
                draw.polygon(xy, fill=1.0)
        return np.asarray(image, dtype=np.float32)


def render(rng: np.random.Generator, anatomy: Anatomy, lesions: list[Lesion], pose: Pose) -> Image32:
    """A ``(rows, cols)`` float32 image in ``[0, 1]``: display brightness, bone bright."""
    canvas = Canvas(pose)
    attenuation, air = _anatomy_attenuation(rng, canvas, anatomy, lesions)
    filling = np.zeros_like(attenuation)
    for shape in (shape for lesion in lesions for shape in lesion.shapes):
        layer = attenuation if shape.radiopaque else filling
        layer += shape.density * canvas.mask(shape.polygon)
    attenuation += np.minimum(filling, air + _DENSER_THAN_WATER)
    attenuation = gaussian_blur(attenuation, sigma=0.9)
    full = np.asarray(
        Image.fromarray(attenuation).resize((pose.cols, pose.rows), Image.Resampling.BICUBIC),
        dtype=np.float32,
    )
    return _expose(rng, full)


def _anatomy_attenuation(
    rng: np.random.Generator, canvas: Canvas, anatomy: Anatomy, lesions: list[Lesion],
) -> tuple[Image32, Image32]:
    """The normal chest's attenuation, and how much lung air each pixel's ray crosses."""
    lungs = canvas.mask(*(lung.outline for lung in anatomy.lungs.values()))
    markings = _VESSELS * _vessel_tree(rng, canvas, anatomy)
    markings += 0.03 * gaussian_blur(rng.standard_normal(lungs.shape).astype(np.float32), 1.2)
    cleared = [lesion.clears_markings for lesion in lesions if lesion.clears_markings is not None]
    if cleared:
        markings *= 1.0 - canvas.mask(*cleared)
    heart = canvas.mask(anatomy.heart)
    air = -_LUNG_AIR * lungs * (1.0 - _HEART_DEPTH * heart)
    mediastinal_x = anatomy.lungs["right"].medial_x
    attenuation = (
        _SOFT_TISSUE * canvas.mask(anatomy.body)
        + lungs * markings - air
        + _MEDIASTINUM * canvas.mask(rectangle(mediastinal_x, -0.1, -mediastinal_x, anatomy.heart_top))
        + _HEART * heart
        + _HILUM * canvas.mask(*(ellipse(x, y, 0.07, 0.06) for x, y in anatomy.hila.values()))
        + _AORTA * canvas.mask(anatomy.aortic_knob)
        + _AIRWAY * canvas.mask(anatomy.trachea, *_bronchi(anatomy))
        + _VERTEBRA * canvas.mask(*_vertebrae())
        + _RIB * canvas.mask(*_ribs(rng))
        + _CLAVICLE * canvas.mask(*anatomy.clavicles.values())
        + _GAS * canvas.mask(anatomy.gastric_bubble)
    )
    return attenuation, air


def _vessel_tree(rng: np.random.Generator, canvas: Canvas, anatomy: Anatomy) -> Image32:
    """Pulmonary vessels fanning out from each hilum, thick centrally and thin peripherally."""
    central: list[Points] = []
    peripheral: list[Points] = []
    for side in SIDES:
        lung = anatomy.lungs[side]
        hilum = np.array(anatomy.hila[side])
        box_lo, box_hi = lung.outline.min(axis=0), lung.outline.max(axis=0)
        ends = rng.uniform(box_lo, box_hi, size=(40, 2))
        ends = ends[contains(lung.outline, ends)][:14]
        for end in ends:
            bend = hilum + 0.45 * (end - hilum) + rng.normal(0.0, 0.03, 2)
            central.append(np.array([hilum, bend]))
            peripheral.append(np.array([bend, end]))
    return canvas.mask(*central, width=2) + 0.6 * canvas.mask(*peripheral, width=1)


def _bronchi(anatomy: Anatomy) -> list[Points]:
    carina = np.array([anatomy.trachea_x, anatomy.carina_y])
    return [
        thicken(np.array([carina, anatomy.hila[side]]), 0.02) for side in SIDES
    ]


def _vertebrae() -> list[Points]:
    """Vertebral bodies down the midline, separated by slightly lucent disc spaces."""
    tops = np.arange(-0.45, 1.45, 0.078)
    return [rectangle(-0.075, top, 0.075, top + 0.064) for top in tops]


def _ribs(rng: np.random.Generator) -> list[Points]:
    """Posterior ribs: arcs from the spine that rise laterally, then curve down the chest wall."""
    first = rng.uniform(-0.04, 0.02)
    spacing = rng.uniform(0.09, 0.105)
    t = np.linspace(0.0, 1.0, 20)
    ribs = []
    for k in range(10):
        y0 = first + k * spacing
        for side in SIDES:
            x = SIGN[side] * (0.08 + 0.98 * t)
            y = y0 - 0.06 * np.sin(math.pi * 0.8 * t) + 0.28 * t**2
            ribs.append(thicken(np.column_stack([x, y]), 0.018))
    return ribs


def _expose(rng: np.random.Generator, attenuation: Image32) -> Image32:
    """Detector response: a random exposure curve, then quantum noise."""
    gain, offset, gamma = rng.uniform(0.9, 1.12), rng.uniform(-0.03, 0.05), rng.uniform(0.8, 1.25)
    image = np.clip(attenuation * np.float32(gain) + np.float32(offset), 0.0, 1.0) ** np.float32(gamma)
    image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(0.006, 0.02))
    return np.clip(image, 0.0, 1.0, out=image)


def gaussian_blur(image: Image32, sigma: float) -> Image32:
    """Separable Gaussian blur with edge padding (Pillow cannot blur float images)."""
    radius = max(1, math.ceil(3.0 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    taps /= taps.sum()
    for axis in (0, 1):
        padded = np.pad(image, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        n = image.shape[axis]
        image = sum(
            (w * padded.take(np.arange(k, k + n), axis=axis) for k, w in enumerate(taps)),
            start=np.zeros_like(image),
        )
    return image
