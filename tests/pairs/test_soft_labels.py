"""Soft targets for the soft-label contrastive loss."""

from __future__ import annotations

import numpy as np
import pytest

from cxralign.pairs import soft_targets, tag_similarity, tag_vector

TAGS = np.stack([
    tag_vector([("pneumothorax", "absent"), ("pleural effusion", "absent")]),
    tag_vector([("pneumothorax", "absent"), ("pleural effusion", "absent")]),
    tag_vector([("pneumothorax", "absent"), ("edema", "present")]),
    tag_vector([("cardiomegaly", "present")]),
    tag_vector([]),
])


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_rows_sum_to_one(alpha):
    targets = soft_targets(TAGS, alpha)
    assert targets.shape == (len(TAGS), len(TAGS))
    np.testing.assert_allclose(targets.sum(axis=1), 1.0)
    assert (targets >= 0).all()


def test_alpha_zero_is_the_identity():
    np.testing.assert_array_equal(soft_targets(TAGS, 0.0), np.eye(len(TAGS)))


def test_similar_reports_share_target_mass():
    targets = soft_targets(TAGS, 0.5)
    assert targets[0, 1] > targets[0, 2] > targets[0, 3] == 0.0
    np.testing.assert_allclose(targets[0, 1], 0.5 * 1 / (1 + 1 + 0.5))


def test_a_study_without_tags_keeps_a_one_hot_target():
    np.testing.assert_allclose(soft_targets(TAGS, 0.7)[4], np.eye(len(TAGS))[4])


def test_studies_without_tags_state_the_same_empty_set():
    tags = np.stack([tag_vector([]), tag_vector([("edema", "present")]), tag_vector([])])
    similarity = tag_similarity(tags)
    np.testing.assert_allclose(similarity, [[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    np.testing.assert_allclose(soft_targets(tags, 0.4)[0], [0.6 + 0.2, 0.0, 0.2])


def test_similarity_is_symmetric_cosine_so_one_matrix_serves_both_directions():
    similarity = tag_similarity(TAGS)
    np.testing.assert_allclose(similarity, similarity.T)
    np.testing.assert_allclose(similarity[0, 2], 0.5)
    np.testing.assert_allclose(np.diag(similarity), 1.0)


def test_alpha_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        soft_targets(TAGS, 1.5)
