"""Labels from tag vectors, zero-shot AUC (prompt ensembles) and the linear probe (stratified
subsets, n/a cells) on constructed features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxralign.eval.auc import auc_per_finding, macro
from cxralign.eval.labels import IGNORE, finding_labels
from cxralign.eval.probe import linear_probe, probe_metric_name, stratified_subset
from cxralign.eval.settings import EvaluationSettings
from cxralign.eval.zero_shot import ensemble, prompt_ensembles, prompts, zero_shot_auc
from cxralign.pairs.tags import tag_vector
from cxralign.vocabulary import FINDINGS

_DEFAULTS = EvaluationSettings()
PROTOCOL = {"c_grid": _DEFAULTS.probe_c_grid, "cv_folds": _DEFAULTS.probe_cv_folds}
"""The evaluation's own choice of C (grid and folds), so the tests probe as ``evaluate`` does."""


def test_labels_follow_the_uncertain_policy():
    tags = np.stack([
        tag_vector([("edema", "present")]),
        tag_vector([("edema", "uncertain")]),
        tag_vector([("edema", "absent")]),
        tag_vector([("edema", "present"), ("edema", "uncertain")]),
        tag_vector([]),
    ])
    edema = FINDINGS.index("edema")
    assert finding_labels(tags, "ignore")[:, edema].tolist() == [1, IGNORE, 0, 1, 0]
    assert finding_labels(tags, "positive")[:, edema].tolist() == [1, 1, 0, 1, 0]
    assert finding_labels(tags, "negative")[:, edema].tolist() == [1, 0, 0, 1, 0]
    with pytest.raises(ValueError):
        finding_labels(tags, "maybe")


def test_auc_skips_ignored_rows_and_single_class_findings():
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.3], [0.95, 0.4]])
    labels = np.array([[1, 0], [1, 0], [0, 0], [IGNORE, 0]])
    auc = auc_per_finding(scores, labels, ["a", "b"])
    assert auc == {"a": 1.0}  # "b" has no positive; the ignored 0.95 does not count
    assert macro(auc) == 1.0 and np.isnan(macro({}))


def test_zero_shot_is_perfect_when_images_sit_on_the_right_prompt():
    findings = ["edema", "pneumothorax"]
    positive, negative = torch.eye(4)[:2], torch.eye(4)[2:]
    labels = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    # an image is the sum of its findings' positive prompts and the others' negative prompts
    images = torch.stack([
        sum(positive[f] if labels[i, f] else negative[f] for f in range(2)) for i in range(4)
    ])
    per_finding = zero_shot_auc(images, positive, negative, labels, findings)
    assert per_finding == {"edema": 1.0, "pneumothorax": 1.0}
    # swapped prompts invert the ranking
    inverted = zero_shot_auc(images, negative, positive, labels, findings)
    assert inverted == {"edema": 0.0, "pneumothorax": 0.0}


def test_prompt_ensemble_averages_each_findings_templates():
    findings = ["edema", "pneumothorax"]
    assert prompts(findings, ["No {finding}.", "{finding} absent."]) == [
        "No edema.", "No pneumothorax.", "edema absent.", "pneumothorax absent."]
    # template-major rows: template 1 (edema, pneumothorax), then template 2 (same order)
    embeddings = torch.tensor([[2.0, 0, 0], [0, 0, 3.0], [0, 5.0, 0], [0, 0, 1.0]])
    merged = ensemble(embeddings, templates=2)
    assert torch.allclose(merged[0], torch.tensor([1.0, 1.0, 0]) / 2**0.5)  # unit-length mean
    assert torch.allclose(merged[1], torch.tensor([0, 0, 1.0]))


def test_prompt_ensembles_embed_both_sides_with_the_given_text_side():
    vocabulary = {"There is edema.": [1.0, 0, 0], "No edema.": [0, 1.0, 0],
                  "There is pneumothorax.": [0, 0, 1.0], "No pneumothorax.": [0, 0, -1.0]}
    seen: list[list[str]] = []

    def embed(texts: list[str]) -> torch.Tensor:
        seen.append(texts)
        return torch.tensor([vocabulary[text] for text in texts])

    positive, negative = prompt_ensembles(embed, ["There is {finding}."], ["No {finding}."],
                                          ["edema", "pneumothorax"])
    assert seen == [["There is edema.", "There is pneumothorax."],
                    ["No edema.", "No pneumothorax."]]
    assert torch.equal(positive, torch.tensor([[1.0, 0, 0], [0, 0, 1.0]]))
    assert torch.equal(negative, torch.tensor([[0, 1.0, 0], [0, 0, -1.0]]))


def _separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features whose first two dimensions encode two findings' labels, plus noise."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 3)) < 0.4).astype(np.int8)
    labels[:, 2] = 0
    labels[:3, 2] = 1  # too few positives to probe
    features = rng.normal(size=(n, 8))
    features[:, :2] += 4.0 * labels[:, :2]
    return features, labels


def test_probe_learns_separable_findings_at_every_fraction_and_seed():
    train_x, train_y = _separable(300, 0)
    test_x, test_y = _separable(100, 1)
    result = linear_probe(train_x, train_y, test_x, test_y, ["a", "b", "rare"],
                          fractions=(0.01, 0.1, 1.0), seeds=(0, 1, 2), min_positives=5,
                          **PROTOCOL)
    assert result.findings == ["a", "b"]
    # 100 % of the labels is one subset, probed once
    assert {(r.fraction, r.seed) for r in result.runs} == {
        (f, s) for f in (0.01, 0.1) for s in (0, 1, 2)} | {(1.0, 0)}
    assert {r.train_images for r in result.runs if r.fraction == 0.01} == {3}
    mean_full, std_full, classes_full = result.macro_auc(1.0)
    assert mean_full > 0.97 and std_full < 0.01 and classes_full == 2
    mean_ten, _, _ = result.macro_auc(0.1)
    assert mean_ten > 0.9
    mean_one, _, classes_one = result.macro_auc(0.01)
    assert 0.4 <= mean_one <= mean_full and 1 <= classes_one <= 2
    assert probe_metric_name(0.01) == "probe_auc_1" and probe_metric_name(1.0) == "probe_auc_100"
    assert probe_metric_name(0.1, "_parser") == "probe_auc_10_parser"


def test_probe_on_noise_is_near_chance():
    rng = np.random.default_rng(3)
    train_y = (rng.random((300, 2)) < 0.5).astype(np.int8)
    test_y = (rng.random((200, 2)) < 0.5).astype(np.int8)
    result = linear_probe(rng.normal(size=(300, 8)), train_y, rng.normal(size=(200, 8)), test_y,
                          ["a", "b"], fractions=(1.0,), seeds=(0,), **PROTOCOL)
    assert result.macro_auc(1.0)[0] == pytest.approx(0.5, abs=0.1)


def _rare_labels(n: int = 1000) -> np.ndarray:
    """Three findings with 5, 20 and 500 positives among ``n`` rows: a random 1 % subset of 10
    rows would usually miss the rarest ones."""
    labels = np.zeros((n, 3), dtype=np.int8)
    labels[:5, 0] = 1
    labels[100:120, 1] = 1
    labels[::2, 2] = 1
    return labels


def test_subsets_differ_by_seed_and_are_reproducible():
    labels = _rare_labels()
    assert stratified_subset(labels, 0.1, 0).tolist() == stratified_subset(labels, 0.1, 0).tolist()
    assert stratified_subset(labels, 0.1, 0).tolist() != stratified_subset(labels, 0.1, 1).tolist()
    assert len(stratified_subset(labels[:50], 0.01, 0)) == 1
    assert len(stratified_subset(labels, 1.0, 0)) == 1000


def test_stratified_subset_gives_every_finding_both_classes_when_there_is_room():
    labels = _rare_labels()
    for seed in range(20):
        rows = stratified_subset(labels, 0.01, seed)
        assert len(rows) == 10 and len(set(rows.tolist())) == 10
        subset = labels[rows]
        assert (subset == 1).any(axis=0).all() and (subset == 0).any(axis=0).all(), seed


def test_findings_a_subset_cannot_fit_are_na_not_half():
    """A one-image subset holds one class of every finding: no probe can be fitted, so every
    cell is n/a and the fraction's macro AUC is NaN, not a constant 0.5."""
    train_x, train_y = _separable(300, 0)
    test_x, test_y = _separable(100, 1)
    result = linear_probe(train_x, train_y[:, :2], test_x, test_y[:, :2], ["a", "b"],
                          fractions=(1 / 300, 1.0), seeds=(0, 1), min_positives=5, **PROTOCOL)
    tiny = [run for run in result.runs if run.train_images == 1]
    assert len(tiny) == 2
    for run in tiny:
        assert run.auc == {} and set(run.not_fitted) == {"a", "b"} and np.isnan(run.macro_auc)
    mean, spread, classes = result.macro_auc(1 / 300)
    assert np.isnan(mean) and np.isnan(spread) and classes == 0
    assert result.macro_auc(1.0)[2] == 2


def _correlated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels carried only by ``x1 - x2``: both features share a strong noise. A nearly
    unregularised probe finds the difference (AUC ~1); a heavily regularised one leans
    towards the class-mean difference, i.e. ``x1`` alone, which the noise swamps."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 1)) < 0.5).astype(np.int8)
    shared = rng.normal(scale=3.0, size=n)
    features = np.stack([labels[:, 0] * 2.0 - 1.0 + shared, shared], axis=1)
    return features, labels


def test_probe_chooses_c_by_cross_validation_on_its_training_images():
    train_x, train_y = _correlated(400, 0)
    test_x, test_y = _correlated(400, 1)
    grid = [1e-6, 100.0]
    chosen = linear_probe(train_x, train_y, test_x, test_y, ["a"], fractions=(1.0,),
                          seeds=(0,), c_grid=grid, cv_folds=3)
    assert chosen.runs[0].c == {"a": 100.0}
    assert chosen.macro_auc(1.0)[0] > 0.97
    too_strong = linear_probe(train_x, train_y, test_x, test_y, ["a"], fractions=(1.0,),
                              seeds=(0,), c_grid=[1e-6], cv_folds=3)
    assert too_strong.runs[0].c == {"a": 1e-6}
    assert too_strong.macro_auc(1.0)[0] < 0.9
    # the evaluated split never takes part in the choice
    shuffled = linear_probe(train_x, train_y, test_x, np.random.default_rng(2).permutation(test_y),
                            ["a"], fractions=(1.0,), seeds=(0,), c_grid=grid, cv_folds=3)
    assert shuffled.runs[0].c == chosen.runs[0].c


def test_a_subset_too_small_to_cross_validate_uses_the_grids_middle_value():
    train_x, train_y = _separable(300, 0)
    test_x, test_y = _separable(100, 1)
    result = linear_probe(train_x, train_y[:, :2], test_x, test_y[:, :2], ["a", "b"],
                          fractions=(0.01,), seeds=(0, 1, 2), min_positives=5,
                          c_grid=[0.01, 0.1, 1.0], cv_folds=3)
    assert any(run.c for run in result.runs)
    for run in result.runs:
        assert set(run.c) == set(run.auc) and set(run.c.values()) <= {0.1}, run
