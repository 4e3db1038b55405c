"""Tests of backprop_utils.drafts: the plain reference is right, each draft has its one mistake."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils import drafts
from backprop_utils.gradcheck import numerical_gradient, rel_error
from backprop_utils.softmax import softmax_loss


def batch(n_samples, n_classes, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    scores = scale * rng.standard_normal((n_samples, n_classes))
    return scores, rng.integers(0, n_classes, n_samples)


# the plain vectorized reference ---------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(n_samples=st.integers(1, 7), n_classes=st.integers(1, 6), seed=st.integers(0, 1000))
def test_reference_equals_softmax_loss(n_samples, n_classes, seed):
    scores, y = batch(n_samples, n_classes, seed, scale=3.0)
    loss, dscores = drafts.softmax_loss_vectorized(scores, y)
    expected_loss, expected_dscores = softmax_loss(scores, y)
    assert loss == pytest.approx(float(expected_loss), rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(dscores, expected_dscores, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("shape", [(5, 4), (3, 3), (1, 2)])
def test_reference_gradient_matches_finite_differences(shape):
    scores, y = batch(*shape, seed=1)
    _, dscores = drafts.softmax_loss_vectorized(scores, y)
    numeric = numerical_gradient(lambda s: drafts.softmax_loss_vectorized(s, y)[0], scores)
    assert rel_error(numeric, dscores) < 1e-7


def test_reference_is_finite_for_extreme_scores():
    loss, dscores = drafts.softmax_loss_vectorized(np.array([[0.0, 1e4, -1e4]]), np.array([2]))
    assert loss == 2e4
    assert np.all(np.isfinite(dscores))


def test_reference_rows_of_the_gradient_sum_to_zero():
    scores, y = batch(6, 4, seed=2)
    _, dscores = drafts.softmax_loss_vectorized(scores, y)
    np.testing.assert_allclose(dscores.sum(axis=1), 0.0, atol=1e-16)


def test_reference_does_not_modify_its_input():
    scores, y = batch(4, 3, seed=3)
    kept = scores.copy()
    drafts.softmax_loss_vectorized(scores, y)
    np.testing.assert_array_equal(scores, kept)


def test_reference_computes_exp_once(monkeypatch):
    calls = []
    real_exp = np.exp

    def counting_exp(*args, **kwargs):
        calls.append(np.shape(args[0]))
        return real_exp(*args, **kwargs)

    monkeypatch.setattr(np, "exp", counting_exp)
    drafts.softmax_loss_vectorized(*batch(4, 3, seed=5))
    assert calls == [(4, 3)]


def test_reference_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match="y must hold class indices"):
        drafts.softmax_loss_vectorized(np.zeros((2, 3)), np.array([0, 3]))


def test_reference_rejects_a_list_of_scores():
    with pytest.raises(TypeError, match="scores"):
        drafts.softmax_loss_vectorized([[0.0, 1.0]], np.array([0]))


# each draft: the mistake its docstring names, and nothing else --------------------------------


def test_wrong_axis_raises_when_n_differs_from_c_and_is_silently_wrong_when_equal():
    with pytest.raises(ValueError, match="broadcast"):
        drafts.draft_wrong_axis(*batch(4, 3, seed=0))
    scores, y = batch(3, 3, seed=0)
    loss, dscores = drafts.draft_wrong_axis(scores, y)
    right_loss, right_dscores = softmax_loss(scores, y)
    assert loss == pytest.approx(float(right_loss), rel=1e-12)
    assert np.abs(dscores - right_dscores).max() > 1e-3


@pytest.mark.parametrize("n_samples", [1, 3, 4])
def test_max_node_shape_raises_for_every_batch(n_samples):
    with pytest.raises(ValueError, match="broadcast"):
        drafts.draft_max_node_shape(*batch(n_samples, 3, seed=0))


def test_outer_scope_n_is_right_only_for_its_own_batch_size():
    draft = drafts.make_draft_outer_scope_n(4)
    for n_samples, right in ((4, True), (6, False)):
        scores, y = batch(n_samples, 3, seed=1)
        loss, _ = draft(scores, y)
        assert (loss == pytest.approx(float(softmax_loss(scores, y)[0]), rel=1e-12)) == right


def test_sum_over_samples_gives_rows_that_do_not_sum_to_zero():
    _, dscores = drafts.draft_sum_over_samples(*batch(4, 3, seed=2))
    assert np.abs(dscores.sum(axis=1)).max() > 1e-2


def test_log_of_probs_overflows_only_the_loss():
    with np.errstate(divide="ignore"):
        loss, dscores = drafts.draft_log_of_probs(np.array([[0.0, 1e4, -1e4]]), np.array([2]))
    assert np.isinf(loss)
    np.testing.assert_allclose(dscores, softmax_loss(np.array([[0.0, 1e4, -1e4]]), [2])[1])


def test_modifies_input_changes_the_callers_scores_but_not_the_result():
    scores, y = batch(4, 3, seed=4)
    kept = scores.copy()
    loss, _ = drafts.draft_modifies_input(scores, y)
    assert not np.array_equal(scores, kept)
    assert loss == pytest.approx(float(softmax_loss(kept, y)[0]), rel=1e-12)


# the edges of issue 15 ------------------------------------------------------------------------

EVERY_FUNCTION = [
    drafts.softmax_loss_vectorized,
    drafts.draft_wrong_axis,
    drafts.draft_max_node_shape,
    drafts.draft_sum_over_samples,
    drafts.draft_log_of_probs,
    drafts.draft_modifies_input,
    drafts.make_draft_outer_scope_n(2),
]
EVERY_ID = [
    "reference",
    "wrong_axis",
    "max_node",
    "sum_samples",
    "log_probs",
    "in_place",
    "outer_n",
]


@pytest.mark.parametrize("function", EVERY_FUNCTION, ids=EVERY_ID)
def test_masked_scores_are_refused(function):
    scores = np.ma.masked_array([[1.0, 1e30], [0.0, 1.0]], mask=[[False, True], [False, False]])
    with pytest.raises(TypeError, match="scores must not be a masked array"):
        function(scores, np.array([0, 1]))


@pytest.mark.parametrize("function", EVERY_FUNCTION, ids=EVERY_ID)
def test_masked_labels_are_refused(function):
    labels = np.ma.masked_array([0, 1], mask=[True, False])
    with pytest.raises(TypeError, match="y must not be a masked array"):
        function(np.zeros((2, 2)), labels)


@pytest.mark.parametrize("function", EVERY_FUNCTION, ids=EVERY_ID)
def test_ragged_labels_raise_naming_y(function):
    # np.asarray's own error: "setting an array element with a sequence ... inhomogeneous"
    with pytest.raises(ValueError, match=r"y must be a 1-D integer array of shape \(2,\)"):
        function(np.zeros((2, 2)), [[0], [1, 0]])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("function", EVERY_FUNCTION, ids=EVERY_ID)
def test_scores_that_are_not_finite_are_refused_like_the_real_module(function, bad):
    # the drafts returned NaN; softmax_loss refuses such scores
    scores = np.array([[0.0, bad], [1.0, 2.0]])
    with pytest.raises(ValueError, match="scores must be finite"):
        function(scores, np.array([0, 1]))
