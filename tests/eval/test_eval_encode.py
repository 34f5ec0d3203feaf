"""Every encode path runs the model in eval mode and without gradients, whatever mode the
model was left in (a projection head's batch norm must use its running statistics)."""

from __future__ import annotations

import numpy as np
import torch
from eval_fixtures import TINY

from cxralign.eval.encode import encode_images, encode_strings, feature_maps
from cxralign.models.model import AlignmentModel
from cxralign.models.recipes import load_recipe


def test_encoders_switch_to_eval_mode_and_need_no_gradients():
    torch.manual_seed(0)
    model = AlignmentModel(load_recipe("asg", **TINY))
    staged = np.random.default_rng(0).integers(0, 255, size=(3, 64, 64), dtype=np.uint8)
    boxes = [[(4.0, 4.0, 30.0, 30.0)], [], [(10.0, 12.0, 60.0, 50.0), (0.0, 0.0, 20.0, 20.0)]]

    model.train()
    first = encode_images(model, staged, boxes, batch_size=2)
    assert not model.training
    model.train()
    second = encode_images(model, staged, boxes, batch_size=3)  # other batch: same embeddings
    assert torch.allclose(first.global_, second.global_, atol=1e-5)
    assert [len(r) for r in first.regions] == [1, 0, 2]
    assert not first.global_.requires_grad and not first.regions[2].requires_grad

    model.train()
    texts = encode_strings(model, ["No edema.", "There is pleural effusion."], 16, batch_size=1)
    assert not model.training and not texts.requires_grad and texts.shape[0] == 2
    model.train()
    assert not feature_maps(model, staged, batch_size=2).requires_grad and not model.training
