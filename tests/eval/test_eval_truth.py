"""Phantom ground-truth labels: found beside the catalog, joined to image ids with the
ingestion key, and equal to what the generator drew."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from eval_fixtures import DEID_KEY

from cxralign.eval.data import load_splits
from cxralign.eval.evaluate import ground_truth_source
from cxralign.eval.settings import EvaluationSettings
from cxralign.eval.truth import ground_truth_dirs, split_truth, truth_labels
from cxralign.io.secret_key import KEY_ENV_VAR
from cxralign.models.recipes import load_recipe
from cxralign.models.text_encoder import load_tokenizer
from cxralign.vocabulary import FINDINGS


def test_ground_truth_is_found_beside_the_phantom_catalog(eval_catalog, tmp_path):
    folders = ground_truth_dirs(eval_catalog, eval_catalog.partitions("images"))
    assert folders == [(eval_catalog.root.parent / "incoming" / "ground_truth").resolve()]
    assert ground_truth_dirs(eval_catalog, [], explicit=[tmp_path]) == []  # nothing there


def test_truth_labels_cover_every_image_and_match_the_drawn_lesions(eval_catalog):
    folder = ground_truth_dirs(eval_catalog, eval_catalog.partitions("images"))[0]
    labels = truth_labels([folder], DEID_KEY.encode())
    image_ids = eval_catalog.read_table("images")["image_id"].to_pylist()
    truth = split_truth(labels, image_ids)
    assert truth is not None and truth.shape == (len(image_ids), len(FINDINGS))
    drawn = pq.read_table(folder / "findings.parquet").to_pylist()
    for finding in ("pleural effusion", "cardiomegaly"):
        expected = {row["image_key"] for row in drawn
                    if row["finding"] == finding and row["existence"] != "absent"}
        assert truth[:, FINDINGS.index(finding)].sum() == len(expected)
    assert set(np.unique(truth)) <= {0, 1}


def test_a_wrong_key_or_a_partly_covered_split_gives_no_truth(eval_catalog):
    folders = ground_truth_dirs(eval_catalog, eval_catalog.partitions("images"))
    image_ids = eval_catalog.read_table("images")["image_id"].to_pylist()
    assert split_truth(truth_labels(folders, b"another-key"), image_ids) is None
    labels = truth_labels(folders, DEID_KEY.encode())
    assert split_truth(labels, [*image_ids, "not-a-phantom-image"]) is None
    assert split_truth(labels, []) is None


def test_ground_truth_source_covers_both_splits_or_says_why_not(eval_catalog, monkeypatch):
    recipe = load_recipe("asg")
    settings = EvaluationSettings()
    test, train = load_splits(eval_catalog, load_tokenizer(recipe.text_encoder), recipe, settings)
    monkeypatch.setenv(KEY_ENV_VAR, DEID_KEY)
    truth = ground_truth_source(eval_catalog, test, train, settings)
    assert truth.name == "ground truth"
    assert truth.test.shape == (len(test.examples.examples), len(FINDINGS))
    assert truth.train is not None and len(truth.train) == len(train.examples.examples)
    monkeypatch.setenv(KEY_ENV_VAR, "another-key")
    with pytest.raises(ValueError, match="does not cover every held-out image"):
        ground_truth_source(eval_catalog, test, train, settings)
