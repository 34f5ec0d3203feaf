"""AlignmentModel: the two encoders, their projection heads and a recipe's objectives.

One class serves every recipe so that the training loop, the evaluations and a saved model's
directory never depend on which paper's losses produced it: a recipe only switches objective
terms on (weight > 0) and sets their hyper-parameters. Heads and objective modules are built
only for active terms, so DDP never meets a parameter without gradient.

A saved model is plain files (``save``): ``recipe.json``; ``image_encoder.pt``, the timm
backbone's state dict (``timm.create_model(recipe.image_encoder, in_chans=1, num_classes=0)``,
plus ``img_size=recipe.image_size`` for ViTs, then ``load_state_dict``); ``text_encoder/``,
``save_pretrained`` of the transformer and its tokenizer (``AutoModel.from_pretrained`` and
``AutoTokenizer.from_pretrained`` reload them); ``heads.pt``, the state dict of the projection
heads and objective parameters (prototypes, tag decoder, temperature).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torchvision.ops import roi_align
from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from cxralign.io.atomic import atomic_path, save_torch_atomically
from cxralign.models.batch import PretrainingBatch
from cxralign.models.features import ImageFeatures, LossOutput, TextFeatures
from cxralign.models.files import replace_directory
from cxralign.models.heads import ProjectionHead
from cxralign.models.image_encoder import (
    ImageEncoder,
    create_image_backbone,
    load_detector_backbone,
)
from cxralign.models.objectives.adaptive_patches import (
    AdaptivePatchExtractor,
    PatchWordMatchingLoss,
)
from cxralign.models.objectives.global_contrastive import GlobalContrastiveLoss
from cxralign.models.objectives.prototypes import PrototypeAlignmentLoss
from cxralign.models.objectives.region_sentence import RegionSentenceLoss
from cxralign.models.objectives.tag_recognition import TagRecognitionHead
from cxralign.models.objectives.token_alignment import TokenAlignmentLoss
from cxralign.models.recipes import RecipeConfig
from cxralign.models.text_cache import FrozenTextCache
from cxralign.models.text_encoder import (
    TextEncoder,
    create_text_model,
    load_tokenizer,
    tokenize,
)

__all__ = ["AlignmentModel", "ImageFeatures", "LossOutput", "TextFeatures"]

RECIPE_FILE = "recipe.json"
IMAGE_FILE = "image_encoder.pt"
TEXT_DIR = "text_encoder"
HEADS_FILE = "heads.pt"
_ENCODER_PREFIXES = ("image_encoder.backbone.", "text_encoder.model.")

PATCH_TERMS = frozenset({"token_alignment", "adaptive_patch", "tag_recognition"})
"""Terms that read patch embeddings: they get their own local image head."""
WORD_TERMS = frozenset({"token_alignment", "adaptive_patch"})
"""Terms that read word embeddings: they get their own local text head."""


class AlignmentModel(nn.Module):
    """Image and text encoders in one joint space, trained by a recipe's weighted objectives.

    Build from a recipe (``AlignmentModel(load_recipe("asg"))``) or reload a saved one
    (``AlignmentModel.load(directory)``). ``image_backbone``, ``text_model`` and ``tokenizer``
    replace the parts the recipe would build (that is how :meth:`load` restores saved ones).
    """

    def __init__(self, recipe: RecipeConfig, *, image_backbone: nn.Module | None = None,
                 text_model: PreTrainedModel | None = None,
                 tokenizer: PreTrainedTokenizerBase | None = None) -> None:
        super().__init__()
        self.recipe = recipe
        self.image_size = recipe.image_size
        self.tokenizer = tokenizer or load_tokenizer(recipe.text_tokenizer or recipe.text_encoder)
        self.image_encoder = ImageEncoder(image_backbone or _image_backbone_for(recipe))
        self.term_weights = {term: weight for term, weight in recipe.term_weights().items()
                             if weight > 0}
        if not self.term_weights:
            raise ValueError(f"recipe {recipe.name!r} switches every objective off")
        self.text_encoder = TextEncoder(
            text_model or _text_model_for(recipe, self.tokenizer),
            self.tokenizer.all_special_ids, recipe.text_pooling,
            cls_attention=self._weights_words_by_attention())
        self.text_cache = FrozenTextCache() if recipe.text_learning_rate == 0 else None
        if self.text_cache is not None:
            self.text_encoder.requires_grad_(False)

        def head(in_dim: int) -> ProjectionHead:
            return ProjectionHead(in_dim, recipe.projection_hidden_dim, recipe.embed_dim)

        image_width, text_width = self.image_encoder.channels, self.text_encoder.width
        self.image_head, self.text_head = head(image_width), head(text_width)
        self.patch_head = head(image_width) if PATCH_TERMS & self.term_weights.keys() else None
        self.word_head = head(text_width) if WORD_TERMS & self.term_weights.keys() else None
        self.region_head = head(image_width) if "region_sentence" in self.term_weights else None
        self.objectives = nn.ModuleDict(
            {term: build_objective(term, recipe) for term in self.term_weights})
        self.adaptive_patches = AdaptivePatchExtractor(
            image_width, grid=(recipe.adaptive_patch_grid,) * 2,
            samples_per_side=recipe.adaptive_samples_per_side,
        ) if "adaptive_patch" in self.term_weights else None

    def train(self, mode: bool = True) -> AlignmentModel:
        """As ``nn.Module.train``, but a frozen text encoder stays in eval mode: its outputs are
        cached, so they must not depend on dropout."""
        super().train(mode)
        if self.text_cache is not None:
            self.text_encoder.eval()
        return self

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by the optimiser group they belong to: ``image_encoder``,
        ``text_encoder`` (absent when frozen), ``heads`` (projections) and ``objectives`` (the
        objectives' own modules: tag decoder, prototypes, temperature, adaptive patches)."""
        owners = {"image_encoder": self.image_encoder, "text_encoder": self.text_encoder,
                  "objectives": nn.ModuleList([self.objectives, *filter(None, [
                      self.adaptive_patches])])}
        groups = {name: [p for p in module.parameters() if p.requires_grad]
                  for name, module in owners.items()}
        claimed = {id(p) for params in groups.values() for p in params}
        groups["heads"] = [p for p in self.parameters()
                           if p.requires_grad and id(p) not in claimed]
        return {name: params for name, params in groups.items() if params}

    def fit_data_statistics(self, tags: torch.Tensor) -> None:
        """Set what the objectives take from the training set before training: the class
        balance of tag recognition from the training studies' tag matrix ``tags``."""
        if "tag_recognition" in self.objectives:
            self.objectives["tag_recognition"].fit_class_balance(tags)

    def _weights_words_by_attention(self) -> bool:
        return "token_alignment" in self.term_weights and \
            self.recipe.token_importance == "attention"

    # ---- encoders --------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], max_tokens: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, mask)`` of ``texts`` for :meth:`encode_texts`, truncated to ``max_tokens``
        (default: the recipe's report budget; pass ``recipe.max_sentence_tokens`` for
        sentences), on the model's device."""
        ids, mask = tokenize(self.tokenizer, texts, max_tokens or self.recipe.max_report_tokens)
        return ids.to(self.device), mask.to(self.device)

    @property
    def device(self) -> torch.device:
        """Where the model's tensors live."""
        return self.image_head.norm.running_mean.device

    def encode_images(self, images: torch.Tensor, patches: bool = True) -> ImageFeatures:
        """Embeddings of ``images`` (B, 1, H, W). Without a patch-level objective, patches go
        through the global head (one shared map, as in dense CLIP features). ``patches=False``
        skips projecting them (``patches`` is then an empty ``(B, 0, D)`` tensor): training
        does so when no objective reads them, which also keeps patch rows out of the global
        head's batch statistics."""
        backbone = self.image_encoder(images)
        feature_map = backbone.feature_map
        global_ = self.image_head(backbone.pooled)
        if patches:
            cells = feature_map.flatten(2).transpose(1, 2)  # (B, h·w, C)
            projected = (self.patch_head or self.image_head)(cells)
        else:
            projected = global_.new_zeros((len(global_), 0, global_.shape[-1]))
        return ImageFeatures(global_=global_, patches=projected,
                             grid=(feature_map.shape[-2], feature_map.shape[-1]),
                             feature_map=feature_map)

    def encode_texts(self, ids: torch.Tensor, mask: torch.Tensor, words: bool = True
                     ) -> TextFeatures:
        """Embeddings of token ``ids``/``mask`` (N, T) (reports or sentences); a frozen text
        encoder's outputs come from the run's cache. ``words=False`` skips projecting every
        token (``words`` is then an empty ``(N, 0, D)`` tensor)."""
        text = (self.text_cache(self.text_encoder, ids, mask) if self.text_cache is not None
                else self.text_encoder(ids, mask))
        global_ = self.text_head(text.pooled)
        projected = ((self.word_head or self.text_head)(text.tokens) if words
                     else global_.new_zeros((len(global_), 0, global_.shape[-1])))
        return TextFeatures(global_=global_, words=projected,
                            word_mask=text.word_mask if words else text.word_mask[:, :0],
                            word_importance=text.cls_attention if words else None)

    def encode_regions(self, feature_map: torch.Tensor, boxes: torch.Tensor,
                       box_image: torch.Tensor) -> torch.Tensor:
        """``(R, D)`` embeddings of ``boxes`` (R, 4) x1, y1, x2, y2 in input pixels on the
        images ``box_image`` (R,): RoI-align on the feature map (``spatial_scale`` = map cells
        per input pixel), averaged, projected (ASG's region features)."""
        rois = torch.cat([box_image.to(feature_map.dtype)[:, None],
                          boxes.to(feature_map.dtype)], dim=1)
        size = self.recipe.roi_output_size
        pooled = roi_align(feature_map, rois, output_size=(size, size),
                           spatial_scale=feature_map.shape[-1] / self.image_size,
                           sampling_ratio=2, aligned=True)
        return (self.region_head or self.image_head)(pooled.mean(dim=(2, 3)))

    # ---- objectives ------------------------------------------------------------------------
    def forward(self, batch: PretrainingBatch) -> LossOutput:
        """Weighted loss terms of the recipe on ``batch`` and their sum."""
        image = self.encode_images(batch.images,
                                   patches=bool(PATCH_TERMS & self.term_weights.keys()))
        report = self.encode_texts(batch.report_ids, batch.report_mask,
                                   words=bool(WORD_TERMS & self.term_weights.keys()))
        terms = {term: weight * self._term(term, batch, image, report)
                 for term, weight in self.term_weights.items()}
        return LossOutput(total=torch.stack(list(terms.values())).sum(), terms=terms)

    def _term(self, term: str, batch: PretrainingBatch, image: ImageFeatures,
              report: TextFeatures) -> torch.Tensor:
        """The unweighted value of ``term`` on ``batch``: which features each objective reads
        (the formulations live in :mod:`cxralign.models.objectives`)."""
        objective = self.objectives[term]
        if term == "global":
            return objective(image.global_, report.global_, batch.tags)
        if term == "region_sentence":
            regions = self.encode_regions(image.feature_map, batch.region_boxes,
                                          batch.region_image)
            sentences = self.encode_texts(batch.sentence_ids, batch.sentence_mask,
                                          words=False).global_
            return objective(regions, sentences, batch.region_sentences, batch.region_groups)
        if term == "tag_recognition":
            return objective(image.patches, batch.tags).loss
        if term == "token_alignment":
            word_weights = report.word_importance if report.word_importance is not None \
                else report.word_mask.float()
            # MGCA weighs ViT patches by [CLS] attention; a CNN map has no [CLS]: uniform
            patch_weights = image.patches.new_ones(image.patches.shape[:2])
            return objective(report.words, report.word_mask, image.patches, word_weights,
                             patch_weights).loss
        if term == "prototype":
            return objective(image.global_, report.global_).loss
        if term == "adaptive_patch":
            patches = self.patch_head(self.adaptive_patches(image.feature_map).features)
            return objective(patches, report.words, report.word_mask).loss
        raise KeyError(f"no computation for loss term {term!r}")

    # ---- persistence -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the model's files into ``directory`` (module docstring); each file appears
        whole or not at all, and ``recipe.json`` is written last so its presence marks a
        complete model."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_torch_atomically(self.image_encoder.backbone.state_dict(), directory / IMAGE_FILE)
        heads = {key: value for key, value in self.state_dict().items()
                 if not key.startswith(_ENCODER_PREFIXES)}
        save_torch_atomically(heads, directory / HEADS_FILE)
        replace_directory(directory / TEXT_DIR, self._save_text)
        with atomic_path(directory / RECIPE_FILE) as tmp:
            tmp.write_text(self.recipe.model_dump_json(indent=2), encoding="utf-8")
        return directory

    def _save_text(self, directory: Path) -> None:
        self.text_encoder.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)

    @classmethod
    def load(cls, directory: str | Path, map_location: str | torch.device = "cpu"
             ) -> AlignmentModel:
        """The model :meth:`save` wrote to ``directory``, on ``map_location``."""
        directory = Path(directory)
        recipe = RecipeConfig.model_validate_json(
            (directory / RECIPE_FILE).read_text(encoding="utf-8"))
        backbone = create_image_backbone(recipe.image_encoder, recipe.image_size,
                                         output_stride=recipe.image_output_stride)
        backbone.load_state_dict(
            torch.load(directory / IMAGE_FILE, map_location=map_location, weights_only=True))
        text_dir = str(directory / TEXT_DIR)
        model = cls(recipe, image_backbone=backbone, text_model=create_text_model(text_dir),
                    tokenizer=load_tokenizer(text_dir))
        heads = torch.load(directory / HEADS_FILE, map_location=map_location, weights_only=True)
        missing, unexpected = model.load_state_dict(heads, strict=False)
        missing = [key for key in missing if not key.startswith(_ENCODER_PREFIXES)]
        if missing or unexpected:
            raise RuntimeError(f"{directory / HEADS_FILE} does not match recipe "
                               f"{recipe.name!r}: missing {missing}, unexpected {unexpected}")
        return model.to(map_location)


def _image_backbone_for(recipe: RecipeConfig) -> nn.Module:
    """The recipe's image backbone, from a local weights file, the hub or an anatomy
    detector's backbone when the recipe names one."""
    backbone = create_image_backbone(recipe.image_encoder, recipe.image_size,
                                     recipe.image_weights_path, recipe.image_pretrained,
                                     recipe.image_output_stride)
    if recipe.image_init_detector:
        load_detector_backbone(backbone, recipe.image_init_detector)
    return backbone


def _text_model_for(recipe: RecipeConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """The recipe's transformer; a separate tokenizer brings its own vocabulary size."""
    if recipe.text_tokenizer and not recipe.text_from_scratch:
        raise ValueError("text_tokenizer needs text_from_scratch: pretrained embeddings index "
                         "the encoder's own vocabulary")
    return create_text_model(recipe.text_encoder, from_scratch=recipe.text_from_scratch,
                             layers=recipe.text_layers,
                             vocab_size=len(tokenizer) if recipe.text_tokenizer else None)


def build_objective(term: str, recipe: RecipeConfig) -> nn.Module:
    """The loss module of ``term`` with the recipe's hyper-parameters (weights are applied by
    the model, so every module keeps its own weight at 1)."""
    if term == "global":
        return GlobalContrastiveLoss(temperature=recipe.temperature,
                                     learnable_temperature=recipe.learnable_temperature,
                                     soft_label_alpha=recipe.soft_label_alpha,
                                     uncertain=recipe.uncertain_tags,
                                     image_to_text_weight=recipe.image_to_text_weight)
    if term == "region_sentence":
        return RegionSentenceLoss(temperature=recipe.region_temperature)
    if term == "tag_recognition":
        return TagRecognitionHead(dim=recipe.embed_dim, num_layers=recipe.tag_decoder_layers,
                                  num_heads=recipe.tag_decoder_heads,
                                  uncertain=recipe.uncertain_tags)
    if term == "token_alignment":
        return TokenAlignmentLoss(dim=recipe.embed_dim, num_heads=recipe.token_attention_heads,
                                  temperature=recipe.token_temperature)
    if term == "prototype":
        return PrototypeAlignmentLoss(dim=recipe.embed_dim, num_prototypes=recipe.prototype_count,
                                      temperature=recipe.prototype_temperature,
                                      epsilon=recipe.sinkhorn_epsilon,
                                      sinkhorn_iterations=recipe.sinkhorn_iterations)
    if term == "adaptive_patch":
        return PatchWordMatchingLoss(temperature=recipe.adaptive_temperature,
                                     patch_to_word_weight=recipe.adaptive_patch_to_word_weight)
    raise KeyError(f"loss term {term!r} has no objective module")
