"""AlignmentModel: every recipe trains (finite loss, gradients everywhere) and reloads exactly."""

from __future__ import annotations

from dataclasses import replace

import pytest
import timm
import torch
from transformers import AutoModel

from cxralign.models.model import AlignmentModel
from cxralign.models.recipes import RECIPES

EXPECTED_TERMS = {
    "convirt": {"global"},
    "mgca": {"global", "token_alignment", "prototype"},
    "asg": {"global", "region_sentence", "tag_recognition"},
    "adamatch": {"global", "adaptive_patch"},
}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_trains_every_parameter(name, tiny_recipe, batch_for) -> None:
    torch.manual_seed(0)
    model = AlignmentModel(tiny_recipe(name))
    output = model(batch_for(model))
    assert set(output.terms) == EXPECTED_TERMS[name]
    assert torch.isfinite(output.total)
    assert output.total.item() == pytest.approx(sum(t.item() for t in output.terms.values()),
                                                rel=1e-5)
    output.total.backward()
    # DDP fails on parameters that never receive a gradient: a recipe must build none.
    without_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert without_grad == []


def test_vit_backbone_serves_the_region_and_patch_objectives(tiny_recipe, batch_for) -> None:
    model = AlignmentModel(tiny_recipe("asg", image_encoder="vit_tiny_patch16_224"))
    batch = batch_for(model)
    image = model.encode_images(batch.images)
    assert image.grid == (4, 4) and image.patches.shape == (4, 16, 16)
    model(batch).total.backward()
    assert [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None] == []


def test_terms_are_weighted_and_zero_weight_terms_are_not_built(tiny_recipe, batch_for) -> None:
    unit = AlignmentModel(tiny_recipe("asg")).eval()
    scaled = AlignmentModel(tiny_recipe("asg", region_sentence_weight=2.5,
                                        tag_recognition_weight=0.0)).eval()
    assert "tag_recognition" not in scaled.objectives and scaled.patch_head is None
    # same weights for the shared parts; the tag decoder and patch head exist only in ``unit``
    _, unexpected = scaled.load_state_dict(unit.state_dict(), strict=False)
    assert unexpected and all(k.startswith(("patch_head.", "objectives.tag_")) for k in unexpected)
    batch = batch_for(unit)
    with torch.no_grad():
        unit_terms, scaled_terms = unit(batch).terms, scaled(batch).terms
    assert set(scaled_terms) == {"global", "region_sentence"}
    assert scaled_terms["region_sentence"].item() == pytest.approx(
        2.5 * unit_terms["region_sentence"].item(), rel=1e-5)


def test_encoders_shapes(tiny_recipe, batch_for) -> None:
    model = AlignmentModel(tiny_recipe("mgca")).eval()
    batch = batch_for(model)
    with torch.no_grad():
        image = model.encode_images(batch.images)
        text = model.encode_texts(batch.report_ids, batch.report_mask)
        regions = model.encode_regions(image.feature_map, batch.region_boxes, batch.region_image)
    h, w = image.grid
    assert image.global_.shape == (4, 16) and image.patches.shape == (4, h * w, 16)
    assert image.feature_map.shape[-2:] == (h, w) == (2, 2)  # 64 px at stride 32
    assert text.words.shape == (*batch.report_ids.shape, 16)
    # [CLS], [SEP] and padding are not words
    assert not text.word_mask[:, 0].any()
    assert text.word_mask.sum() == batch.report_mask.sum() - 2 * len(batch.report_ids)
    assert text.word_importance is not None and text.word_importance.shape == text.word_mask.shape
    assert regions.shape == (3, 16)


def test_encode_regions_rescales_input_pixel_boxes_to_the_map(tiny_recipe) -> None:
    """RoI-align of a map holding each cell's column (channel 0) and row (channel 1) index
    averages to the box centre in map coordinates: ``(x1 + x2) / 2 · h/H − ½`` (cell centres
    sit at half-integers of input-pixel edges, ``aligned=True``)."""
    model = AlignmentModel(tiny_recipe("convirt"))
    cells = 8  # input 64 px -> 8 px per cell
    index = torch.arange(cells, dtype=torch.float32)
    rows, columns = torch.meshgrid(index, index, indexing="ij")
    feature_map = torch.zeros(1, model.image_encoder.channels, cells, cells)
    feature_map[0, 0], feature_map[0, 1] = columns, rows
    box = torch.tensor([[16.0, 8.0, 48.0, 40.0]])
    with torch.no_grad():
        region = model.encode_regions(feature_map, box, torch.tensor([0]))
        pooled = torch.zeros(1, model.image_encoder.channels)
        pooled[0, 0], pooled[0, 1] = (16 + 48) / 2 / 8 - 0.5, (8 + 40) / 2 / 8 - 0.5
        assert torch.allclose(region, model.image_head(pooled), atol=1e-5)


@pytest.mark.parametrize("name", ["convirt", "mgca"])
def test_save_load_round_trip(name, tiny_recipe, batch_for, tmp_path) -> None:
    model = AlignmentModel(tiny_recipe(name)).eval()
    batch = batch_for(model)
    # train one step so saved weights differ from any fresh initialisation
    model.train()
    model(batch).total.backward()
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.grad is not None:
                parameter -= 0.01 * parameter.grad
    model.eval()
    model.save(tmp_path / "model")
    model.save(tmp_path / "model")  # overwriting a saved model is allowed
    restored = AlignmentModel.load(tmp_path / "model").eval()
    assert restored.recipe == model.recipe
    with torch.no_grad():
        before, after = model(batch), restored(batch)
        image_before = model.encode_images(batch.images).global_
        image_after = restored.encode_images(batch.images).global_
    assert torch.allclose(before.total, after.total, atol=1e-6)
    assert torch.allclose(image_before, image_after, atol=1e-6)
    ids, mask = model.tokenize(["heart", "no pneumothorax is seen today"], max_tokens=5)
    assert ids.shape == (2, 5) and mask[0].sum() < 5
    assert torch.equal(restored.tokenize(["effusion"])[0], model.tokenize(["effusion"])[0])


def test_saved_encoders_reload_with_plain_timm_and_transformers(tiny_recipe, batch_for,
                                                                 tmp_path) -> None:
    model = AlignmentModel(tiny_recipe("convirt")).eval()
    model.save(tmp_path)
    batch = batch_for(model)
    backbone = timm.create_model(model.recipe.image_encoder, in_chans=1, num_classes=0)
    backbone.load_state_dict(torch.load(tmp_path / "image_encoder.pt", weights_only=True))
    text = AutoModel.from_pretrained(tmp_path / "text_encoder").eval()
    with torch.no_grad():
        assert torch.allclose(backbone.eval()(batch.images),
                              model.image_encoder(batch.images).pooled, atol=1e-6)
        hidden = text(input_ids=batch.report_ids, attention_mask=batch.report_mask)
        ours = model.text_encoder(batch.report_ids, batch.report_mask).tokens
    assert torch.allclose(hidden.last_hidden_state, ours, atol=1e-6)


def test_batch_checks_shapes_and_moves(batch_for, tiny_recipe) -> None:
    model = AlignmentModel(tiny_recipe("convirt"))
    batch = batch_for(model)
    moved = batch.to("cpu")
    assert moved.size == 4 and moved.study_ids == batch.study_ids
    with pytest.raises(ValueError, match="region_sentences"):
        type(batch)(**{**batch.__dict__, "region_sentences": batch.region_sentences[:, :2]})


def test_batch_without_sentences_or_regions_still_trains_every_parameter(tiny_recipe,
                                                                          batch_for) -> None:
    """A micro-batch whose studies have no region–sentence pair gives a zero region term that
    still reaches the region head, so DDP's gradient reduction sees every parameter."""
    model = AlignmentModel(tiny_recipe("asg"))
    batch = batch_for(model)
    empty = replace(batch, sentence_ids=batch.sentence_ids[:0],
                    sentence_mask=batch.sentence_mask[:0], sentence_study=batch.sentence_study[:0],
                    region_boxes=batch.region_boxes[:0], region_image=batch.region_image[:0],
                    region_sentences=torch.zeros(0, 0), region_names=[])
    output = model(empty)
    output.total.backward()
    assert output.terms["region_sentence"].item() == 0.0
    assert [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None] == []
