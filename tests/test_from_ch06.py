"""Claims of chapter 6 (the MAX node) checked on more inputs than the chapter shows."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop_utils.gradcheck import numerical_gradient_array, rel_error
from backprop_utils.softmax import max_node_backward, softmax, softmax_loss, softmax_loss_staged


@st.composite
def tied_batches(draw):
    """Scores (N, C) whose rows often tie at their maximum, and labels."""
    n_samples, n_classes = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    scores = draw(
        arrays(np.float64, (n_samples, n_classes), elements=st.sampled_from([-2.0, 0.5, 3.0]))
    )
    labels = np.array(
        draw(st.lists(st.integers(0, n_classes - 1), min_size=n_samples, max_size=n_samples))
    )
    return scores, labels


@settings(max_examples=40, deadline=None)
@given(batch=tied_batches(), split=st.floats(0.0, 1.0))
def test_any_split_of_the_max_gradient_between_tied_scores_gives_the_same_gradient(batch, split):
    scores, labels = batch
    n_samples, n_classes = scores.shape
    dnormalized = (softmax(scores) - np.eye(n_classes)[labels]) / n_samples
    routed = -dnormalized.sum(axis=1)
    is_max = scores == scores.max(axis=1, keepdims=True)
    # the first tied maximum gets `split`, the others share the rest
    first = is_max & (np.cumsum(is_max, axis=1) == 1)
    others = (is_max & ~first) / np.maximum((is_max & ~first).sum(axis=1, keepdims=True), 1)
    shares = np.where(
        is_max.sum(axis=1, keepdims=True) > 1, split * first + (1 - split) * others, first
    )
    subgradient = dnormalized + routed[:, None] * shares
    np.testing.assert_allclose(subgradient, softmax_loss(scores, labels)[1], atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(batch=tied_batches())
def test_the_max_node_receives_zero_from_the_loss(batch):
    scores, labels = batch
    _, _, nodes = softmax_loss_staged(scores, labels, return_nodes=True)
    assert np.abs(nodes["drow_max"]).max() < 1e-15


def test_node_check_with_a_random_upstream_sees_a_missing_max_backward():
    rng = np.random.default_rng(0)
    scores, upstream = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    numeric = numerical_gradient_array(
        lambda x: x - x.max(axis=1, keepdims=True), scores.copy(), upstream
    )
    right = upstream + max_node_backward(upstream, scores)
    assert rel_error(right, numeric) < 1e-9
    assert rel_error(upstream, numeric) > 1e-2  # the MAX backward left out


def test_node_check_with_a_zero_sum_upstream_cannot_see_a_missing_max_backward():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(5, 4))
    upstream = rng.normal(size=(5, 4))
    upstream -= upstream.mean(axis=1, keepdims=True)  # rows sum to zero, like the loss's
    numeric = numerical_gradient_array(
        lambda x: x - x.max(axis=1, keepdims=True), scores.copy(), upstream
    )
    assert rel_error(upstream, numeric) < 1e-7
