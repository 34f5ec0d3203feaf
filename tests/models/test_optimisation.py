"""Optimisation that suits a frozen pretrained text tower next to a from-scratch image tower:
parameter groups, per-group clipping, the frozen-text cache, non-collapsing heads, MGCA's
prototype freeze and the anatomy-detector initialisation."""

from __future__ import annotations

import pytest
import torch

from cxralign.anatomy.detector import CONFIG_FILE, DetectorConfig
from cxralign.models.heads import ProjectionHead
from cxralign.models.model import AlignmentModel
from cxralign.train.loop import clip_each_group, freeze_prototypes, optimizer_groups
from cxralign_fixtures.anatomy_detector import save_untrained_detector

torch.set_num_threads(1)


def test_every_trainable_parameter_is_in_exactly_one_group_with_its_rate(tiny_recipe) -> None:
    recipe = tiny_recipe("asg", learning_rate=1e-3, text_learning_rate=2e-5)
    model = AlignmentModel(recipe)
    groups = optimizer_groups(model, recipe)
    seen = [id(p) for group in groups for p in group["params"]]
    assert len(seen) == len(set(seen))
    assert set(seen) == {id(p) for p in model.parameters() if p.requires_grad}
    rates = {group["name"]: group["lr"] for group in groups}
    assert rates["text_encoder"] == 2e-5 and rates["image_encoder"] == 1e-3
    assert rates["heads"] == 1e-3 and rates["objectives"] == 1e-3
    for group in groups:  # biases, norm scales and the temperature never decay
        if group["name"].endswith("/no_decay"):
            assert group["weight_decay"] == 0 and all(p.ndim < 2 for p in group["params"])
        else:
            assert group["weight_decay"] == recipe.weight_decay
    temperature = model.objectives["global"].temperature.log_scale
    assert any(temperature is p for g in groups if g["name"] == "objectives/no_decay"
               for p in g["params"])


def test_a_frozen_text_encoder_is_left_out_and_stays_in_eval_mode(tiny_recipe) -> None:
    model = AlignmentModel(tiny_recipe("convirt"))  # text_learning_rate 0 = frozen
    names = {group["name"] for group in optimizer_groups(model, model.recipe)}
    assert not any(name.startswith("text_encoder") for name in names)
    assert not any(p.requires_grad for p in model.text_encoder.parameters())
    model.train()
    assert model.image_encoder.training and not model.text_encoder.training


def test_each_group_is_clipped_on_its_own(tiny_recipe) -> None:
    model = AlignmentModel(tiny_recipe("convirt"))
    optimizer = torch.optim.AdamW(optimizer_groups(model, model.recipe))
    for parameter in model.image_encoder.parameters():
        parameter.grad = torch.full_like(parameter, 10.0)
    for parameter in model.text_head.parameters():
        parameter.grad = torch.full_like(parameter, 1e-4)
    head_grads = [p.grad.clone() for p in model.text_head.parameters()]
    norms = clip_each_group(optimizer, 1.0)
    assert norms["image_encoder"] > 1.0
    image_norm = torch.linalg.vector_norm(torch.stack(
        [torch.linalg.vector_norm(p.grad) for p in model.image_encoder.parameters()]))
    assert image_norm.item() == pytest.approx(1.0, rel=1e-2)
    # one global clip would have scaled the heads' small gradients down with the encoder's
    for before, parameter in zip(head_grads, model.text_head.parameters(), strict=True):
        assert torch.equal(before, parameter.grad)


def test_cached_text_features_equal_the_encoder_and_are_computed_once(tiny_recipe,
                                                                      batch_for) -> None:
    model = AlignmentModel(tiny_recipe("mgca")).eval()
    batch = batch_for(model)
    with torch.no_grad():
        direct = model.text_encoder(batch.report_ids, batch.report_mask)
        cached = model.encode_texts(batch.report_ids, batch.report_mask)
        again = model.encode_texts(batch.report_ids, batch.report_mask)
    assert model.text_cache.misses == len(batch.report_ids)
    assert model.text_cache.hits == len(batch.report_ids)
    assert torch.allclose(model.text_head(direct.pooled), cached.global_, atol=1e-6)
    assert torch.allclose(cached.words, again.words)
    words = model.word_head(direct.tokens)
    mask = cached.word_mask
    assert torch.equal(mask, direct.word_mask)
    # token states are kept in half precision: equal to the encoder's up to fp16 rounding
    assert torch.allclose(words[mask], cached.words[mask], atol=5e-2)
    assert torch.allclose(direct.cls_attention, cached.word_importance, atol=1e-3)


def test_projection_head_cannot_collapse_and_handles_one_row() -> None:
    torch.manual_seed(0)
    head = ProjectionHead(8, 16, 4).train()
    nearly_identical = 3 * torch.randn(1, 8) + 0.1 * torch.randn(32, 8)
    unit = torch.nn.functional.normalize(nearly_identical, dim=1)
    assert (unit @ unit.T).mean() > 0.99  # a collapsed batch, as a random-init encoder gives
    out = head(nearly_identical)
    assert torch.allclose(out.mean(dim=0), torch.zeros(4), atol=1e-4)
    assert torch.allclose(out.std(dim=0, unbiased=False), torch.ones(4), atol=5e-2)
    spread = torch.nn.functional.normalize(out, dim=1)
    assert (spread @ spread.T).mean() < 0.1
    assert head(torch.randn(1, 8)).shape == (1, 4)  # running statistics, no error
    assert head(torch.randn(2, 3, 8)).shape == (2, 3, 4)
    assert not any(name.startswith("norm.") for name, _ in head.named_parameters())


def test_prototypes_are_frozen_during_the_first_epoch(tiny_recipe, batch_for) -> None:
    model = AlignmentModel(tiny_recipe("mgca", prototype_freeze_epochs=1))
    prototypes = model.objectives["prototype"].prototypes
    model(batch_for(model)).total.backward()
    assert prototypes.grad is not None
    freeze_prototypes(model, epoch=1)
    assert prototypes.grad is not None
    freeze_prototypes(model, epoch=0)
    assert prototypes.grad is None


def test_image_encoder_starts_from_the_anatomy_detector_backbone(tiny_recipe, tmp_path) -> None:
    detector = save_untrained_detector(tmp_path)
    model = AlignmentModel(tiny_recipe("convirt", image_init_detector=str(tmp_path)))
    expected = detector.backbone.state_dict()
    for key, value in model.image_encoder.backbone.state_dict().items():
        assert torch.equal(value, expected[key]), key
    with pytest.raises(ValueError, match="resnet10t"):
        AlignmentModel(tiny_recipe("convirt", image_encoder="resnet18",
                                   image_init_detector=str(tmp_path)))


def test_a_run_started_from_a_detector_takes_its_backbone_as_the_encoder(tmp_path) -> None:
    """The pipeline's switch: one setting names the detector; the encoder follows it."""
    from cxralign.train.settings import RunSettings

    config = DetectorConfig("resnet18", 64, ("right lung",))
    (tmp_path / CONFIG_FILE).write_text(config.to_json(), encoding="utf-8")
    overrides = RunSettings(image_init_detector=str(tmp_path)).recipe_overrides()
    assert overrides["image_init_detector"] == str(tmp_path)
    assert overrides["image_encoder"] == "resnet18"
    assert "image_encoder" not in RunSettings().recipe_overrides()
    with pytest.raises(FileNotFoundError, match="no anatomy detector"):
        RunSettings(image_init_detector=str(tmp_path / "missing")).recipe_overrides()


def _head_on_half(rank: int) -> dict[str, torch.Tensor]:
    """Rank ``rank`` projects its half of a fixed batch through the same head and returns the
    head's gradient for the loss of its own rows (DDP would average these)."""
    torch.manual_seed(0)
    head = ProjectionHead(6, 12, 4).train()
    rows = torch.randn(1, 6) + 0.2 * torch.randn(8, 6)
    out = head(rows[rank * 4:(rank + 1) * 4])
    (out * torch.arange(1.0, 5.0)).sum().div(4).backward()
    return {"out": out.detach(), "grad": head.mlp[0].weight.grad,
            "running": head.norm.running_var}


def test_two_ranks_normalise_and_differentiate_as_one_batch(on_two_gloo_ranks) -> None:
    torch.manual_seed(0)
    head = ProjectionHead(6, 12, 4).train()
    rows = torch.randn(1, 6) + 0.2 * torch.randn(8, 6)
    out = head(rows)
    # the same loss: each half's loss a mean over its 4 rows,
    # averaged over the two halves as DDP averages the ranks' gradients
    (out * torch.arange(1.0, 5.0)).sum().div(8).backward()
    ranks = on_two_gloo_ranks(_head_on_half)
    assert torch.allclose(torch.cat([r["out"] for r in ranks]), out.detach(), atol=1e-5)
    averaged = (ranks[0]["grad"] + ranks[1]["grad"]) / 2
    assert torch.allclose(averaged, head.mlp[0].weight.grad, atol=1e-5)
    assert torch.allclose(ranks[0]["running"], head.norm.running_var, atol=1e-6)
