"""One default per setting: the settings models hold each default once, and the command line,
the recipe overrides, the loss modules and the augmentation refer to them instead of writing a
second value that could drift (``params.yaml`` is checked in ``test_dvc.py``)."""

from __future__ import annotations

import argparse
import dataclasses
import inspect

import pytest
from pydantic import BaseModel

from cxralign.anatomy.settings import AnatomySettings
from cxralign.cli import build_parser
from cxralign.errors import UsageError
from cxralign.eval.labels import finding_labels
from cxralign.eval.settings import EvaluationSettings
from cxralign.io.ingest import IngestSettings
from cxralign.io.locate import locate_inputs
from cxralign.models.objectives.adaptive_patches import (
    AdaptivePatchExtractor,
    PatchWordMatchingLoss,
    sample_patches,
)
from cxralign.models.objectives.global_contrastive import GlobalContrastiveLoss, symmetric_info_nce
from cxralign.models.objectives.prototypes import PrototypeAlignmentLoss, sinkhorn_knopp
from cxralign.models.objectives.region_sentence import RegionSentenceLoss
from cxralign.models.objectives.soft_label import similarity_tags, soft_label_targets
from cxralign.models.objectives.tag_recognition import TagRecognitionHead, tag_bce
from cxralign.models.objectives.token_alignment import TokenAlignmentLoss
from cxralign.models.recipes import RecipeConfig
from cxralign.synthetic import synthesize
from cxralign.synthetic.settings import SynthesisSettings
from cxralign.text.settings import TextLimits, TextSettings
from cxralign.train.augment import Augmentation
from cxralign.train.commands import settings_from_args
from cxralign.train.examples import load_examples
from cxralign.train.settings import PretrainSettings

COMMANDS: dict[tuple[str, ...], tuple[type[BaseModel], dict[str, str]]] = {
    ("synthesize",): (SynthesisSettings, {}),
    ("ingest",): (IngestSettings, {}),
    ("locate-input",): (IngestSettings, {}),
    ("pretrain",): (PretrainSettings, {}),
    ("anatomy", "train"): (AnatomySettings, {"synthetic": "synthetic_studies"}),
    ("anatomy", "detect"): (AnatomySettings, {}),
    ("anatomy", "boxes"): (AnatomySettings, {}),
    ("evaluate",): (EvaluationSettings, {"ground_truth_dir": "ground_truth_dirs"}),
}
"""Command -> (its settings model, flag destinations named unlike their field)."""

def _subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = choices.choices[name]
    return parser


def _backed_flags(parser: argparse.ArgumentParser, model: type[BaseModel],
                  renamed: dict[str, str]) -> dict[str, argparse.Action]:
    """The optional arguments of ``parser`` that set a field of ``model``, by field."""
    return {renamed.get(action.dest, action.dest): action for action in parser._actions
            if action.option_strings
            and renamed.get(action.dest, action.dest) in model.model_fields}


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_flags_backed_by_a_settings_model_have_no_default_of_their_own(path):
    """A flag's argparse default is None, so an omitted flag leaves the model's default."""
    model, renamed = COMMANDS[path]
    flags = _backed_flags(_subparser(path), model, renamed)
    assert flags, f"{' '.join(path)} sets no field of {model.__name__}"
    written = {field: action.default for field, action in flags.items()
               if action.default is not None}
    assert written == {}, f"{' '.join(path)}: defaults written again for {sorted(written)}"


@pytest.mark.parametrize(("path", "model"), [(("triplets",), TextSettings),
                                             (("triplets",), TextLimits),
                                             (("sections",), TextLimits)], ids=str)
def test_flags_that_read_their_default_from_the_model_agree_with_it(path, model):
    """The text commands take their default from the model object (not written again); their
    argparse default must at least be the model's."""
    flags = _backed_flags(_subparser(path), model, {})
    assert flags
    for field, action in flags.items():
        assert action.default == model.model_fields[field].default, field


def test_pretraining_overrides_nothing_of_the_recipe_by_default():
    """The model/optimisation defaults live in the recipe; pre-training only overrides them
    when a value is set, so a run, its saved recipe.json and a random-init baseline agree."""
    assert PretrainSettings().recipe_overrides() == {}
    for field in ("image_size", "image_output_stride", "batch_size", "learning_rate", "epochs",
                  "text_layers"):
        assert field in RecipeConfig.model_fields, field
        assert PretrainSettings.model_fields[field].default == 0, field


def test_one_name_for_the_learning_rate_and_for_the_staged_side():
    models = (SynthesisSettings, IngestSettings, TextSettings, AnatomySettings, PretrainSettings,
              RecipeConfig, EvaluationSettings)
    assert not [m.__name__ for m in models if "lr" in m.model_fields]
    assert "learning_rate" in PretrainSettings.model_fields
    assert "learning_rate" in AnatomySettings.model_fields
    # The staged square (ingestion) and the model input (recipe) are different settings.
    assert "staged_size" in IngestSettings.model_fields
    assert "image_size" not in IngestSettings.model_fields


NOT_RECIPE_SETTINGS = {"dim", "channels", "weight", "num_tags", "feedforward_dim", "dropout",
                       "clip_quantiles", "hidden", "max_offset", "min_size", "max_size",
                       "pos_weight"}
"""Constructor arguments of the loss modules that no recipe field sets (they may keep a default)."""


@pytest.mark.parametrize("function", [
    GlobalContrastiveLoss, RegionSentenceLoss, TagRecognitionHead, TokenAlignmentLoss,
    PrototypeAlignmentLoss, PatchWordMatchingLoss, AdaptivePatchExtractor, symmetric_info_nce,
    sinkhorn_knopp, sample_patches, tag_bce, similarity_tags, soft_label_targets, finding_labels,
], ids=lambda f: f.__name__)
def test_loss_modules_take_the_recipes_hyper_parameters_without_defaults(function):
    """Temperatures, Sinkhorn settings, grids, heads ...: the recipe's default only."""
    defaulted = {name for name, parameter in inspect.signature(function).parameters.items()
                 if parameter.default is not inspect.Parameter.empty}
    assert defaulted <= NOT_RECIPE_SETTINGS, sorted(defaulted - NOT_RECIPE_SETTINGS)


def test_augmentation_strengths_come_from_the_settings():
    strengths = [f.name for f in dataclasses.fields(Augmentation)
                 if f.default is dataclasses.MISSING]
    assert strengths == ["crop_scale_min", "rotation_degrees", "brightness", "contrast", "gamma"]
    settings = PretrainSettings(rotation_degrees=3.0)
    assert Augmentation.from_settings(settings) == Augmentation(
        settings.crop_scale_min, 3.0, settings.brightness, settings.contrast, settings.gamma)
    assert Augmentation.from_settings(PretrainSettings(augment=False)) == Augmentation.none()


@pytest.mark.parametrize(("function", "sources"), [
    (synthesize, (SynthesisSettings(),)),
    (locate_inputs, (IngestSettings(),)),
    (load_examples, (PretrainSettings(), RecipeConfig())),
], ids=lambda f: getattr(f, "__name__", ""))
def test_library_defaults_are_the_settings_defaults(function, sources):
    """A library function may default an argument only to the settings' own value."""
    for name, parameter in inspect.signature(function).parameters.items():
        owners = [source for source in sources if name in type(source).model_fields]
        if parameter.default is inspect.Parameter.empty or not owners:
            continue
        assert parameter.default == getattr(owners[0], name), name


def test_renamed_settings_keep_their_flags(tmp_path):
    """``learning_rate`` keeps ``--lr`` and the staged side keeps ``--image-size``; a settings
    file still naming ``lr`` is refused rather than silently ignored."""
    pretrain = _subparser(("pretrain",))
    for flag in ("--lr", "--learning-rate"):
        assert settings_from_args(pretrain.parse_args([flag, "0.002", "--out", "m"])
                                  ).learning_rate == 0.002
    old = tmp_path / "settings.yaml"
    old.write_text("lr: 0.002\nrecipe: convirt\n", encoding="utf-8")
    with pytest.raises(UsageError, match="unknown setting.*lr"):
        settings_from_args(pretrain.parse_args(["--settings", str(old), "--out", "m"]))
    old.write_text("learning_rate: 0.002\nrecipe: convirt\n", encoding="utf-8")
    from_file = settings_from_args(pretrain.parse_args(["--settings", str(old), "--out", "m"]))
    assert (from_file.learning_rate, from_file.recipe) == (0.002, "convirt")
    ingest = _subparser(("ingest",))
    for flag in ("--image-size", "--staged-size"):
        assert ingest.parse_args(["in", "--out", "d", flag, "128"]).staged_size == 128


def test_pretrain_takes_the_detector_to_start_from_as_a_flag():
    """``--image-init-detector DIR`` is the setting, without writing a settings file."""
    pretrain = _subparser(("pretrain",))
    args = pretrain.parse_args(["--image-init-detector", "data/models/anatomy", "--out", "m"])
    assert settings_from_args(args).image_init_detector == "data/models/anatomy"
    assert settings_from_args(pretrain.parse_args(["--out", "m"])).image_init_detector == ""


def test_evaluate_takes_the_generator_budget_as_a_flag():
    """``--generation-epochs`` sets the generator's budget (0 leaves it out); omitted, the
    settings' default holds; a negative budget is refused naming the flag."""
    from cxralign.eval.commands import evaluation_settings
    evaluate = _subparser(("evaluate",))
    assert evaluation_settings(evaluate.parse_args(["--out", "o", "--generation-epochs", "0"])
                               ).generation_epochs == 0
    assert evaluation_settings(evaluate.parse_args(["--out", "o"])).generation_epochs == (
        EvaluationSettings.model_fields["generation_epochs"].default)
    with pytest.raises(UsageError, match="--generation-epochs"):
        evaluation_settings(evaluate.parse_args(["--out", "o", "--generation-epochs", "-1"]))
