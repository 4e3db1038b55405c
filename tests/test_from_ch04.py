"""Checks behind chapter 4 (scores, softmax and cross-entropy) that belong in the test suite.

The chapter's "Implement it yourself" exercise stores the checker's report on a skeleton that
skips the max shift; these tests keep that report and the chapter's section names in step.
"""

import numpy as np
import pytest

from backprop_utils import check, mistakes
from backprop_utils.softmax import log_softmax, softmax, softmax_loss


def _skeleton_without_shift(scores, y):
    """The chapter's skeleton as stored: everything but the max shift."""
    n_samples = scores.shape[0]
    rows = np.arange(n_samples)
    shifted = scores
    log_sums = np.log(np.exp(shifted).sum(axis=1))
    loss = np.mean(log_sums - shifted[rows, y])
    dscores = np.exp(shifted - log_sums[:, None])
    dscores[rows, y] -= 1
    return loss, dscores / n_samples


def _solution(scores, y):
    """The chapter's solution: the skeleton with the max shift."""
    return _skeleton_without_shift(scores - scores.max(axis=1, keepdims=True), y)


def test_skeleton_without_the_shift_is_reported_as_no_max_shift():
    result = check.softmax_loss(_skeleton_without_shift)
    assert not result.passed
    report = str(result)
    assert 'Known mistake "no max shift"' in report
    assert "chapter 4, 'Overflow without the shift'" in report


def test_skeleton_without_the_shift_fails_only_on_extreme_scores():
    report = str(check.softmax_loss(_skeleton_without_shift))
    assert "in 1 of 8 cases" in report and "scores of ±1e4" in report


def test_solution_of_the_exercise_passes():
    assert check.softmax_loss(_solution).passed


def test_overflow_section_is_the_one_the_mistake_cites():
    assert mistakes.SECTIONS["overflow"] == (4, "Overflow without the shift")


def test_cross_entropy_with_one_hot_targets_is_the_mean_negative_log_likelihood():
    rng = np.random.default_rng(40)
    scores = rng.normal(scale=3.0, size=(7, 5))
    labels = rng.integers(0, 5, size=7)
    onehot = np.eye(5)[labels]
    cross_entropy = -np.sum(onehot * log_softmax(scores)) / 7
    likelihood = np.prod(softmax(scores)[np.arange(7), labels])
    np.testing.assert_allclose(softmax_loss(scores, labels)[0], cross_entropy, rtol=1e-14)
    np.testing.assert_allclose(cross_entropy, -np.log(likelihood) / 7, rtol=1e-12)


@pytest.mark.parametrize("gap", [710.0, 745.5, 800.0, 5000.0])
def test_loss_is_the_gap_where_the_target_probability_underflows(gap):
    scores = np.array([[0.0, -gap]])
    assert softmax(scores)[0, 1] < np.finfo(np.float64).tiny
    np.testing.assert_allclose(softmax_loss(scores, np.array([1]))[0], gap, rtol=1e-15)
    np.testing.assert_allclose(log_softmax(scores)[0, 1], -gap, rtol=1e-15)
