"""Recipes: built-ins switch on the papers' objectives; files and overrides are validated."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cxralign.models.recipes import MINILM_PACKAGE, RECIPES, RecipeConfig, load_recipe


def test_builtin_recipes_and_their_objectives() -> None:
    assert sorted(RECIPES) == ["adamatch", "asg", "convirt", "mgca"]
    assert RECIPES["convirt"].active_terms() == ["global"]
    assert RECIPES["mgca"].active_terms() == ["global", "token_alignment", "prototype"]
    assert RECIPES["asg"].active_terms() == ["global", "region_sentence", "tag_recognition"]
    assert RECIPES["asg"].soft_label_alpha > 0
    assert RECIPES["adamatch"].active_terms() == ["global", "adaptive_patch"]
    for name, recipe in RECIPES.items():
        assert recipe.name == name
        assert recipe.text_encoder == MINILM_PACKAGE and not recipe.image_pretrained


def test_load_recipe_applies_yaml_then_overrides(tmp_path) -> None:
    config = tmp_path / "asg.yaml"
    config.write_text("image_encoder: resnet50\nimage_size: 224\nsoft_label_alpha: 0.5\n")
    recipe = load_recipe("asg", config, image_size=256)
    assert (recipe.image_encoder, recipe.image_size, recipe.soft_label_alpha) == \
        ("resnet50", 256, 0.5)
    assert recipe.region_sentence_weight == RECIPES["asg"].region_sentence_weight


def test_load_recipe_reads_json_and_empty_files(tmp_path) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"embed_dim": 256}))
    (tmp_path / "empty.yml").write_text("")
    assert load_recipe("convirt", tmp_path / "c.json").embed_dim == 256
    assert load_recipe("convirt", tmp_path / "empty.yml") == RECIPES["convirt"]


@pytest.mark.parametrize("bad", [{"temprature": 0.1}, {"temperature": 0.0},
                                 {"uncertain_tags": "zero"}, {"soft_label_alpha": 1.5}])
def test_typos_and_out_of_range_values_fail(bad) -> None:
    with pytest.raises(ValidationError):
        load_recipe("convirt", **bad)


def test_unknown_recipe_and_non_mapping_file_fail(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown recipe"):
        load_recipe("clip")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        load_recipe("convirt", tmp_path / "list.yaml")


def test_recipe_round_trips_through_json() -> None:
    recipe = RECIPES["mgca"]
    assert RecipeConfig.model_validate_json(recipe.model_dump_json()) == recipe
