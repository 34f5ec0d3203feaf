"""The training loop on the tiny recipe: it learns, accumulation is a big batch, and the model
directory holds what the contract lists."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import torch
from torch import nn

from cxralign.io.catalog import Catalog
from cxralign.models.heads import ProjectionHead
from cxralign.models.model import AlignmentModel
from cxralign.models.recipes import load_recipe
from cxralign.train.augment import Augmentation
from cxralign.train.collate import BatchBuilder
from cxralign.train.examples import load_examples
from cxralign.train.loop import RunSpec, _Stream, _train_step, optimizer_groups, pretrain
from cxralign.train.runtime import Runtime
from cxralign.train.sampler import EpochBatchSampler


def test_tiny_run_learns_and_writes_the_model_directory(tiny, tmp_path):
    settings = tiny.settings(steps=24, augment=False, learning_rate=3e-3, warmup_fraction=0.1)
    out = tmp_path / "models" / "asg"
    events = []
    result = pretrain(RunSpec(tiny.data, out, "asg", 0, settings, settings.recipe_config),
                      events.append)
    losses = [row["loss"] for row in result.log]
    assert len(losses) == 24
    assert sum(losses[-4:]) / 4 < 0.8 * sum(losses[:4]) / 4, losses

    log = pq.read_table(out / "training_log.parquet")
    assert log.column_names == ["step", "epoch", "loss", "lr", "pairs_per_second", "loss_global",
                                "loss_region_sentence", "loss_tag_recognition"]
    assert log["step"].to_pylist() == list(range(1, 25))
    assert str(log.schema.field("step").type) == "int64"
    run = json.loads((out / "run.json").read_text())
    assert run["recipe"] == "asg" and run["seed"] == 0 and run["steps"] == 24
    assert run["data"]["partitions"] == ["default"] and run["config"]["image_encoder"] == "test_vit"
    assert run["seconds"] > 0
    reloaded = AlignmentModel.load(out)
    assert reloaded.recipe.image_size == 32
    assert not list(tmp_path.glob("models/.*")), "temporary or checkpoint directories were left"
    # the frozen text encoder's cache is filled before the first step
    assert [e["event"] for e in events][:3] == ["text_cache", "start", "step"]
    assert events[-1]["event"] == "done"
    peak = max(row["lr"] for row in result.log)
    assert abs(peak - 3e-3) < 1e-9 and result.log[-1]["lr"] < 0.2 * peak


def _without_dropout(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if isinstance(module, nn.MultiheadAttention):
            module.dropout = 0.0
    return model


def test_accumulated_micro_batches_equal_one_big_batch(tiny):
    """With a per-study objective (tag recognition on a LayerNorm ViT, dropout off), two
    accumulated micro-batches of 4 make the same optimiser step as one batch of 8."""
    recipe = load_recipe("asg", tiny.recipe_config, image_size=32, global_weight=0.0,
                         region_sentence_weight=0.0, tag_recognition_weight=1.0)
    runtime = Runtime(0, 1, 0, torch.device("cpu"))

    initial: dict[str, torch.Tensor] = {}

    def one_step(accumulation: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        model = _without_dropout(AlignmentModel(recipe))
        initial.update({k: v.detach().clone() for k, v in model.state_dict().items()})
        data = load_examples(Catalog(tiny.data), model.tokenizer, view_positions=(),
                             max_report_tokens=48, max_sentence_tokens=24)
        settings = tiny.settings(accumulation=accumulation, augment=False, grad_clip=0.5)
        micro = 8 // accumulation
        stream = _Stream(BatchBuilder(data, 32, Augmentation.none()),
                         EpochBatchSampler(len(data), micro, seed=0), workers=0)
        # SGD: the update is linear in the gradient, so equal gradients mean equal weights
        # (Adam would blow float noise on zero-gradient entries up to a full step).
        groups = optimizer_groups(model, recipe)
        for group in groups:
            group["lr"] = 0.5
        optimizer = torch.optim.SGD(groups)
        model.train()
        # the heads' batch norm couples the studies of a micro-batch (as any batch norm does);
        # with running statistics the objective is per study again, which this test needs
        for module in model.modules():
            if isinstance(module, ProjectionHead):
                module.eval()
        _train_step(model, model, optimizer, stream, settings, runtime)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    big, accumulated = one_step(1), one_step(2)
    changed = [name for name, value in big.items() if not torch.equal(value, initial[name])]
    assert any(name.startswith("image_encoder") for name in changed)
    for name, value in big.items():
        torch.testing.assert_close(accumulated[name], value, atol=1e-6, rtol=1e-5, msg=name)
