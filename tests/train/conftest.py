"""A small real catalog (phantom studies through ingest, text, gold boxes and pairs, every table
written as the pipeline writes it) and a tiny recipe (timm's test ViT, a 1-layer BERT built from
a config) that trains in seconds on one CPU core."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cxralign.io.catalog import Catalog
from cxralign.io.ingest import IngestSettings
from cxralign.io.secret_key import KEY_ENV_VAR
from cxralign.train.settings import PretrainSettings
from cxralign_fixtures.phantom_catalog import build_phantom_catalog

STUDIES = 40
STAGED_SIZE = 64
KEY = "train-test-key"


@dataclass(frozen=True)
class TinySetup:
    """A data directory and the recipe-override file of the tiny model."""

    data: Path
    recipe_config: Path

    def settings(self, **overrides) -> PretrainSettings:
        """Settings for a fast, deterministic CPU run of the tiny recipe."""
        values = {"recipe": "asg", "recipe_config": str(self.recipe_config), "image_size": 32,
                  "batch_size": 8, "epochs": 1, "learning_rate": 1e-3, "log_every": 1,
                  "checkpoint_every": 2, "device": "cpu", "seeds": [0], "text_layers": 0,
                  "steps": 0}
        return PretrainSettings(**{**values, **overrides})


@pytest.fixture(scope="session")
def train_catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Every table pre-training reads, written to a catalog as the pipeline's assets do."""
    root = tmp_path_factory.mktemp("train_phantom")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV_VAR, KEY)
        return build_phantom_catalog(root, STUDIES, seed=1, staged_size=STAGED_SIZE,
                                     test_fraction=IngestSettings().test_fraction,
                                     validate_fraction=IngestSettings().validate_fraction)


@pytest.fixture(scope="session")
def tiny(train_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> TinySetup:
    """A 1-layer, 32-wide BERT (random, from a config; the MiniLM tokenizer) and timm's
    ``test_vit`` (no batch-norm), as a recipe-override file."""
    from transformers import BertConfig

    from cxralign.models.recipes import MINILM_PACKAGE
    from cxralign.models.text_encoder import load_tokenizer

    root = tmp_path_factory.mktemp("tiny_model")
    text_dir = root / "tiny_bert"
    tokenizer = load_tokenizer(MINILM_PACKAGE)
    BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
               num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
               hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1
               ).save_pretrained(text_dir)
    tokenizer.save_pretrained(text_dir)
    recipe = {"image_encoder": "test_vit", "text_encoder": str(text_dir),
              "text_from_scratch": True, "embed_dim": 16, "projection_hidden_dim": 32,
              "max_report_tokens": 48, "max_sentence_tokens": 24, "tag_decoder_layers": 1,
              "tag_decoder_heads": 2}
    path = root / "tiny_recipe.json"
    path.write_text(json.dumps(recipe), encoding="utf-8")
    return TinySetup(train_catalog.root, path)
