"""The untrained baselines an evaluation adds: random-init is truly random even for a recipe that
started from an anatomy detector, whose untrained start is a row of its own (detector-start)."""

from __future__ import annotations

import torch
from eval_fixtures import TINY

from cxralign.eval.run import DETECTOR_START, RANDOM_INIT, model_specs
from cxralign.models.model import AlignmentModel
from cxralign.models.recipes import load_recipe
from cxralign_fixtures.anatomy_detector import save_untrained_detector


def _starts_from(model: AlignmentModel, detector_backbone: torch.nn.Module) -> bool:
    expected = detector_backbone.state_dict()
    return all(torch.equal(value, expected[key])
               for key, value in model.image_encoder.backbone.state_dict().items())


def test_random_init_is_random_and_the_detector_start_is_its_own_row(tmp_path):
    detector = save_untrained_detector(tmp_path)
    recipe = load_recipe("convirt", **TINY, image_encoder="resnet10t",
                         image_init_detector=str(tmp_path))
    specs = model_specs([], True, [0, 1], recipe)
    assert [(spec.label, spec.seed) for spec in specs] == [
        (RANDOM_INIT, 0), (RANDOM_INIT, 1), (DETECTOR_START, 0), (DETECTOR_START, 1)]
    assert not _starts_from(specs[0].build(), detector.backbone)
    assert _starts_from(specs[2].build(), detector.backbone)


def test_no_detector_start_row_without_a_detector_on_disk(tmp_path):
    gone = load_recipe("convirt", **TINY, image_encoder="resnet10t",
                       image_init_detector=str(tmp_path / "deleted"))
    assert [spec.label for spec in model_specs([], True, [0], gone)] == [RANDOM_INIT]
    plain = load_recipe("convirt", **TINY)
    assert [spec.label for spec in model_specs([], True, [0], plain)] == [RANDOM_INIT]
