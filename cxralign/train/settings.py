"""Pre-training configuration: one source of truth for the CLI, the library and the Dagster
asset config (``cxralign_pipeline/defs/train/assets.py`` subclasses :class:`PretrainSettings`;
plain field types only).

What is *trained* (encoders, projection sizes, loss terms and weights, and the cost-setting
input size, output stride, text depth, epochs, batch size and learning rate) is the recipe's
business (:mod:`cxralign.models.recipes`, where each has its one default); this class holds how
it is trained: data, optimisation schedule, augmentation, checkpoints and which recipes/seeds the
pipeline runs. Its recipe overrides default to 0, "the recipe's own", so a run, a saved
``recipe.json`` and an evaluation's random-init baseline agree unless one is set on purpose.

The defaults are sized for a shared 2-core CPU and for learning, not just running: the recipes'
64 px inputs at stride 16 (4 × 4 cells, so an anatomical region covers several), the whole
MiniLM frozen (its outputs are computed once per distinct text and cached, so depth costs one
pass) and 32 pairs per step at lr 1e-3 for the image side, for the recipe's ten passes over
the training split (``steps`` 0): 150 steps on the demo's ~490 training images, where 300 would
overfit (the global loss only starts to fall after ~100 steps, ``benchmarks/RESULTS.md``), and
about 490 on 2,000 studies, so a larger catalog trains longer without a flag (``make
demo-full`` and the benchmark set 700 steps at 96 px there), ``asg`` and ``convirt`` × seeds
0, 1, 2 (the partitions of ``pretrained_model``). Paper-scale runs override ``image_size`` (224),
``image_output_stride`` (32, the ResNet's own), ``epochs`` (50), ``batch_size`` (128 per GPU ×
GPUs) and ``learning_rate`` (1e-4).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class RunSettings(BaseModel):
    """How one pre-training run is made (see the module docstring for the budget): the Dagster
    asset's config, whose partition names the recipe and seed."""

    recipe_config: str = Field(
        default="", description="JSON/YAML file of recipe overrides; empty = recipe defaults."
    )
    image_init_detector: str = Field(
        default="",
        description="Overrides the recipe's image_init_detector: an anatomy model directory "
        "(cxralign anatomy train) whose backbone starts the image encoder, which becomes that "
        "backbone. Empty = the recipe's own (none).",
    )
    image_size: int = Field(
        default=0, ge=0,
        description="Overrides the recipe's model input side in pixels (0 = the recipe's own); "
        "the papers use 224. Not the staged side, which ingestion sets (staged_size).",
    )
    image_output_stride: int = Field(
        default=0, ge=0,
        description="Overrides the recipe's image_output_stride (0 = the recipe's own; 32 = a "
        "ResNet's undilated map).",
    )
    text_layers: int = Field(
        default=0, ge=0,
        description="Overrides the recipe's text encoder depth: keep the first N layers of "
        "MiniLM (0 = the recipe's own). A frozen encoder is run once per distinct text, so "
        "depth costs little; a fine-tuned one runs every step.",
    )
    epochs: int = Field(
        default=0, ge=0, description="Overrides the recipe's passes over the training split "
        "(0 = the recipe's own); `steps`, when set, wins.",
    )
    steps: int = Field(
        default=0, ge=0,
        description="Optimiser steps (the schedule's length); 0 = as many as the epochs give "
        "(the recipe's 10 passes: 150 steps on the demo, ~490 on 2,000 studies). Hundreds are "
        "needed before the image tower learns.",
    )
    batch_size: int = Field(
        default=0, ge=0,
        description="Overrides the recipe's batch size: image-report pairs per optimiser step "
        "over all processes and accumulated micro-batches (0 = the recipe's own).",
    )
    accumulation: int = Field(
        default=1, ge=1, description="Micro-batches whose gradients make one optimiser step."
    )
    learning_rate: float = Field(
        default=0.0, ge=0,
        description="Overrides the recipe's peak AdamW learning rate of the image side (0 = "
        "the recipe's own). The text encoder keeps the recipe's text_learning_rate.",
    )
    warmup_fraction: float = Field(
        default=0.1, ge=0, le=1, description="Share of steps with linear learning-rate warm-up."
    )
    min_lr_ratio: float = Field(
        default=0.01, ge=0, le=1,
        description="Cosine decay ends at this fraction of the peak learning rate."
    )
    grad_clip: float = Field(
        default=1.0, ge=0, description="Global gradient-norm clip (0 = off)."
    )
    split: str = Field(default="train", description="images.split value trained on.")
    view_positions: list[str] = Field(
        default=["PA", "AP"],
        description="Frontal views only, as ASG/MGCA pre-train; images without a recorded view "
        "are kept. Empty = every view.",
    )
    max_sentences: int = Field(
        default=16, ge=1, description="Sentences kept per report (the first ones)."
    )
    augment: bool = Field(default=True, description="Random resized crop, rotation, jitter.")
    crop_scale_min: float = Field(
        default=0.6, gt=0, le=1, description="Smallest crop area (fraction of the image)."
    )
    rotation_degrees: float = Field(default=10.0, ge=0, description="Rotation range ±.")
    brightness: float = Field(default=0.1, ge=0, description="Additive brightness range ±.")
    contrast: float = Field(default=0.2, ge=0, description="Log-contrast range ±.")
    gamma: float = Field(default=0.2, ge=0, description="Log-gamma range ±.")
    min_box_visible: float = Field(
        default=0.3, ge=0, le=1,
        description="A region whose box keeps less than this share of its area in the crop is "
        "left out of the batch.",
    )
    workers: int = Field(default=0, ge=0, description="Data-loader worker processes.")
    checkpoint_every: int = Field(
        default=50, ge=1, description="Optimiser steps between resumable checkpoints."
    )
    log_every: int = Field(default=5, ge=1, description="Steps between progress lines.")
    device: str = Field(default="auto", description="auto | cpu | cuda | cuda:N.")
    nproc_per_node: int = Field(
        default=1, ge=1, description="Processes per run (torchrun; one per GPU)."
    )

    def recipe_overrides(self) -> dict[str, int | float | str]:
        """The recipe fields these settings override (the non-zero ones), for ``load_recipe``;
        a detector to start from also sets the image encoder to the detector's backbone."""
        values: dict[str, int | float | str] = {
            "image_size": self.image_size, "text_layers": self.text_layers,
            "image_output_stride": self.image_output_stride, "epochs": self.epochs,
            "batch_size": self.batch_size, "learning_rate": self.learning_rate,
            "image_init_detector": self.image_init_detector,
        }
        if self.image_init_detector:
            from cxralign.models.image_encoder import detector_backbone

            values["image_encoder"] = detector_backbone(self.image_init_detector)
        return {name: value for name, value in values.items() if value}


class PretrainSettings(RunSettings):
    """One run's settings plus which runs the pipeline makes: the primary recipe, its
    baselines and the seeds (each recipe × seed a partition of ``pretrained_model``)."""

    recipe: str = Field(default="asg", description="Primary recipe (cxralign.models.recipes).")
    baseline_recipes: list[str] = Field(
        default=["convirt"], description="Recipes trained alongside the primary one to compare."
    )
    seeds: list[int] = Field(
        default=[0, 1, 2], description="One run per recipe and seed (mean ± std downstream)."
    )

    def recipes(self) -> list[str]:
        """The primary recipe followed by the baselines, without repeats."""
        return list(dict.fromkeys([self.recipe, *self.baseline_recipes]))
