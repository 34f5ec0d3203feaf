"""The pre-training data pipeline on a real phantom catalog: examples, batches, boxes,
augmentation geometry and the resumable distributed sampler."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow.compute as pc
import pytest
import torch

from cxralign.io.catalog import Catalog
from cxralign.models.recipes import MINILM_PACKAGE
from cxralign.models.text_encoder import load_tokenizer
from cxralign.train.augment import Augmentation, sample_views, warp_boxes, warp_images
from cxralign.train.collate import IMAGE_MEAN, IMAGE_STD, BatchBuilder
from cxralign.train.examples import load_examples, statement_key
from cxralign.train.sampler import BatchKey, EpochBatchSampler, Position
from cxralign.train.settings import PretrainSettings

INPUT = 96
DEFAULT_AUGMENTATION = Augmentation.from_settings(PretrainSettings())


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(MINILM_PACKAGE)


@pytest.fixture(scope="module")
def examples(train_catalog: Catalog, tokenizer):
    return load_examples(train_catalog, tokenizer, split="train", view_positions=["PA", "AP"])


def test_examples_cover_the_split_with_report_text(train_catalog, examples, tokenizer):
    images = train_catalog.read_table("images")
    train = images.filter(pc.equal(images["split"], "train"))
    assert {e.image_id for e in examples.examples} == set(train["image_id"].to_pylist())
    assert examples.staged_size == 64 and examples.partitions == ["default"]
    sections = {r["study_id"]: r for r in train_catalog.read_table("sections").to_pylist()}
    example = next(e for e in examples.examples
                   if sections[e.study_id]["findings"] and sections[e.study_id]["impression"])
    decoded = tokenizer.decode(example.report_ids, skip_special_tokens=True)
    section = sections[example.study_id]
    expected = tokenizer.decode(tokenizer(section["findings"] + " " + section["impression"])
                                ["input_ids"], skip_special_tokens=True)
    assert decoded == expected


def test_region_rows_are_the_boxed_region_and_merged_pairs(train_catalog, examples):
    pairs = train_catalog.read_table("pairs").to_pylist()
    for example in examples.examples:
        boxed = [p for p in pairs if p["image_id"] == example.image_id
                 and p["pair_kind"] in ("region", "merged") and p["x1"] is not None]
        assert [r.box for r in example.regions] == [(p["x1"], p["y1"], p["x2"], p["y2"])
                                                    for p in boxed]
        assert [r.name for r in example.regions] == [
            p["region"] if p["pair_kind"] == "region" else "merged" for p in boxed]
    assert sum(len(e.regions) for e in examples.examples) > 0


def test_batch_matches_the_contract_and_scales_boxes(examples, train_catalog):
    builder = BatchBuilder(examples, INPUT, Augmentation.none())
    key = BatchKey(0, 0, tuple(range(6)))
    batch = builder[key]
    assert batch.images.shape == (6, 1, INPUT, INPUT) and batch.images.dtype == torch.float32
    assert batch.report_ids.shape == batch.report_mask.shape and batch.report_ids.shape[0] == 6
    assert batch.tags.shape == (6, 78)
    chosen = [examples.examples[i] for i in key.rows]
    assert batch.study_ids == [e.study_id for e in chosen]
    assert batch.sentence_study.tolist() == [b for b, e in enumerate(chosen)
                                             for _ in e.sentence_ids]
    staged = torch.tensor([r.box for e in chosen for r in e.regions], dtype=torch.float32)
    torch.testing.assert_close(batch.region_boxes, staged * INPUT / 64)
    assert batch.region_names == [r.name for e in chosen for r in e.regions]
    # Every region row points at sentences of its own image.
    rows, columns = batch.region_sentences.nonzero(as_tuple=True)
    assert torch.equal(batch.sentence_study[columns], batch.region_image[rows])
    # Plain resize: the pixels are the staged image resampled, then normalised (the outermost
    # half pixel blends with the black outside instead of repeating the edge).
    first = torch.from_numpy(examples.staged[0]).float()[None, None] / 255
    resized = torch.nn.functional.interpolate(first, size=INPUT, mode="bilinear",
                                              align_corners=False)
    torch.testing.assert_close(batch.images[:1, :, 1:-1, 1:-1],
                               ((resized - IMAGE_MEAN) / IMAGE_STD)[..., 1:-1, 1:-1],
                               atol=1e-4, rtol=0)


def test_statement_keys_match_sentences_that_say_the_same_thing():
    triplet = frozenset({("right lung", "pleural effusion", "present")})
    assert statement_key("Heart size is normal.", frozenset()) == \
        statement_key("heart size is  normal", frozenset())
    assert statement_key("Small right effusion.", triplet) == \
        statement_key("There is a small right pleural effusion.", triplet)
    assert statement_key("Small right effusion.", triplet) != \
        statement_key("Small right effusion.", frozenset())


def test_region_rows_with_the_same_statement_share_a_group_across_studies(examples):
    """ARSA's positives: rows whose sentences state the same triplets (or the same text) get
    one group id in a batch, whichever study they come from; different statements differ."""
    builder = BatchBuilder(examples, INPUT, Augmentation.none())
    batch = builder[BatchKey(0, 0, tuple(range(min(32, len(examples)))))]
    chosen = [examples.examples[i] for i in range(min(32, len(examples)))]
    stated = [frozenset(e.sentence_keys[s] for s in r.sentences)
              for e in chosen for r in e.regions]
    assert len(stated) == len(batch.region_groups) > 0
    for a, b in [(a, b) for a in range(len(stated)) for b in range(len(stated))]:
        assert (stated[a] == stated[b]) == bool(batch.region_groups[a] == batch.region_groups[b])
    studies = [batch.study_ids[int(i)] for i in batch.region_image]
    shared = [(a, b) for a in range(len(stated)) for b in range(len(stated))
              if studies[a] != studies[b] and stated[a] == stated[b]]
    assert shared, "the phantom reports repeat statements across studies"


def test_batches_are_a_function_of_their_key(examples):
    builder = BatchBuilder(examples, 64, DEFAULT_AUGMENTATION, seed=3)
    key = BatchKey(1, 2, (4, 1, 7, 2))
    first, again = builder[key], builder[key]
    assert torch.equal(first.images, again.images)
    assert torch.equal(first.region_boxes, again.region_boxes)
    other = builder[BatchKey(1, 3, key.rows)]
    assert not torch.equal(first.images, other.images)


@pytest.mark.parametrize("seed", range(4))
def test_augmentation_moves_boxes_with_the_pixels(seed):
    """A bright rectangle's bounding box after the warp is where its warped box says."""
    size, out = 128, 96
    image = torch.zeros(1, size, size, dtype=torch.uint8)
    box = torch.tensor([[40.0, 30.0, 90.0, 70.0]])
    image[0, 30:70, 40:90] = 255
    generator = torch.Generator().manual_seed(seed)
    stronger = replace(DEFAULT_AUGMENTATION, crop_scale_min=0.5, rotation_degrees=15)
    views = sample_views(1, size, out, stronger, generator)
    pixels = warp_images(image, views)[0, 0]
    warped, visible = warp_boxes(box, torch.zeros(1, dtype=torch.long), views)
    ys, xs = torch.nonzero(pixels > 0.5, as_tuple=True)
    assert visible.item() > 0 and len(xs) > 0
    found = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
    torch.testing.assert_close(found, warped[0], atol=1.6, rtol=0)


def test_sampler_is_deterministic_sharded_and_resumable():
    single = EpochBatchSampler(20, 4, seed=5)
    assert single.epoch_batches(0) == EpochBatchSampler(20, 4, seed=5).epoch_batches(0)
    assert single.epoch_batches(0) != single.epoch_batches(1)
    ranks = [EpochBatchSampler(20, 2, seed=5, rank=r, world_size=2) for r in range(2)]
    for epoch in range(2):
        shards = [r.epoch_batches(epoch) for r in ranks]
        assert len(shards[0]) == len(shards[1]) == 5
        combined = sorted(i for shard in shards for batch in shard for i in batch)
        assert combined == sorted(i for batch in single.epoch_batches(epoch) for i in batch)
    stream = iter(single)
    keys = [next(stream) for _ in range(12)]
    resumed = iter(EpochBatchSampler(20, 4, seed=5, start=EpochBatchSampler.after(keys[6], 5)))
    assert [next(resumed) for _ in range(5)] == keys[7:12]
    assert keys[5] == BatchKey(1, 0, single.epoch_batches(1)[0])
    assert EpochBatchSampler.after(keys[4], 5) == Position(1, 0)
    with pytest.raises(ValueError):
        EpochBatchSampler(5, 4, seed=0, world_size=2)


def test_views_without_augmentation_are_a_plain_resize():
    views = sample_views(2, 64, 32, Augmentation.none(), torch.Generator())
    boxes, visible = warp_boxes(torch.tensor([[8.0, 16.0, 32.0, 48.0]]),
                                torch.tensor([1]), views)
    torch.testing.assert_close(boxes, torch.tensor([[4.0, 8.0, 16.0, 24.0]]))
    assert visible.item() == pytest.approx(1.0)
    assert np.isclose(views.linear.numpy(), np.eye(2) * 2).all()


def test_loader_workers_build_the_same_batches_as_the_main_process(examples):
    from torch.utils.data import DataLoader

    from cxralign.train.collate import unwrap

    builder = BatchBuilder(examples, 32, DEFAULT_AUGMENTATION, seed=1)
    sampler = EpochBatchSampler(len(examples), 4, seed=1)
    loader = DataLoader(builder, batch_size=None, sampler=sampler, collate_fn=unwrap,
                        num_workers=2, generator=torch.Generator().manual_seed(0))
    keys, stream = iter(sampler), iter(loader)
    for _ in range(3):
        expected, got = builder[next(keys)], next(stream)
        assert torch.equal(expected.images, got.images)
        assert torch.equal(expected.region_boxes, got.region_boxes)
        assert expected.study_ids == got.study_ids
