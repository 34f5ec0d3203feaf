"""Anatomy stage configuration: one source of truth for the CLI, the library and the Dagster
asset config (which subclasses it; plain field types only)."""

from __future__ import annotations

from pydantic import BaseModel, Field

REAL_DATA_EPOCHS = 70
PHANTOM_ONLY_EPOCHS = 5


class AnatomySettings(BaseModel):
    """How the region detector is trained and when its boxes are trusted.

    With real boxes configured the defaults (70 epochs: 2,030 steps on 163 real radiographs
    with lung masks + 300 phantoms) train in 12.3 minutes on this project's 2-core CPU, from
    random initialisation (no weights are downloaded), and infer about 50 images/s on two cores
    (``benchmarks/RESULTS.md``, anatomy). On phantoms alone (the demo) 5 epochs are enough:
    phantom anatomy is regular, and the atlas replaces any box the detector is unsure of (at
    10 epochs the detector gave 90 % of the demo's boxes).
    """

    backbone: str = Field(
        default="resnet10t",
        description="timm backbone name (features_only); small CNNs train on a CPU in minutes.",
    )
    input_size: int = Field(
        default=128, ge=32,
        description="Side of the square the staged image is resized to for the network.",
    )
    epochs: int = Field(
        default=0, ge=0,
        description=f"Passes over the training images (real and phantom together); 0 = "
        f"{REAL_DATA_EPOCHS} when real boxes are configured, {PHANTOM_ONLY_EPOCHS} on phantoms alone.",
    )
    batch_size: int = Field(default=16, ge=1, description="Images per optimisation step.")
    learning_rate: float = Field(
        default=2e-3, gt=0, description="Peak AdamW learning rate (one-cycle)."
    )
    lung_mask_weight: float = Field(
        default=1.0, ge=0,
        description="Weight of the auxiliary lung segmentation loss on images whose source "
        "has lung masks (training only; 0 = boxes alone).",
    )
    min_score: float = Field(
        default=0.5, ge=0,
        description="A detector box whose predicted IoU is below this is replaced by the atlas "
        "(above 1: atlas only).",
    )
    pretrained_path: str = Field(
        default="",
        description="Local timm/torchvision weights file for the backbone; empty = random "
        "initialisation (nothing is ever downloaded).",
    )
    seed: int = Field(default=0, ge=0, description="Seed of initialisation and augmentation.")
    synthetic_studies: int = Field(
        default=300, ge=0,
        description="Phantom radiographs (all 29 regions boxed) generated and added to training.",
    )
    workers: int = Field(
        default=0, ge=0,
        description="Processes for decoding training images and phantoms; 0 = every core.",
    )

    def with_epochs_for(self, real_data: bool) -> AnatomySettings:
        """These settings with ``epochs`` resolved (0 = the default for what is trained on)."""
        if self.epochs:
            return self
        return self.model_copy(update={"epochs": REAL_DATA_EPOCHS if real_data else PHANTOM_ONLY_EPOCHS})
