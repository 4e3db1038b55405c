"""Laws that chapter 5 (the quotient rule) derives, checked for many inputs.

The softmax backward for any upstream gradient G is dS = P * (G - rowsum(G * P)); the tests
compare it with centred differences of ``softmax`` and with ``softmax_loss`` and
``surfaces.linear_loss``, which carry the special case (P - Y) / N.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils import surfaces
from backprop_utils.gradcheck import numerical_gradient, numerical_gradient_array, rel_error
from backprop_utils.softmax import softmax, softmax_loss


def _softmax_backward(upstream, probs):
    """dS = P * (G - rowsum(G * P)), the chapter's equation."""
    return probs * (upstream - (upstream * probs).sum(axis=1, keepdims=True))


shapes = st.tuples(st.integers(1, 5), st.integers(1, 5))


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_softmax_backward_matches_finite_differences_of_softmax(shape, seed):
    rng = np.random.default_rng(seed)
    scores, upstream = rng.normal(scale=2.0, size=shape), rng.normal(size=shape)
    numeric = numerical_gradient_array(softmax, scores.copy(), upstream)
    assert rel_error(_softmax_backward(upstream, softmax(scores)), numeric) < 1e-7


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_softmax_backward_of_the_cross_entropy_upstream_is_p_minus_y_over_n(shape, seed):
    rng = np.random.default_rng(seed)
    n_samples, n_classes = shape
    scores = rng.normal(scale=2.0, size=shape)
    labels = rng.integers(0, n_classes, size=n_samples)
    probs = softmax(scores)
    upstream = -np.eye(n_classes)[labels] / (n_samples * probs)
    np.testing.assert_allclose(
        _softmax_backward(upstream, probs), softmax_loss(scores, labels)[1], rtol=1e-12, atol=1e-15
    )


def test_softmax_passes_back_nothing_of_an_upstream_gradient_constant_along_a_row():
    rng = np.random.default_rng(50)
    scores = rng.normal(size=(4, 6))
    upstream = np.repeat(rng.normal(size=(4, 1)), 6, axis=1)
    numeric = numerical_gradient_array(softmax, scores.copy(), upstream)
    np.testing.assert_allclose(numeric, 0.0, atol=1e-9)
    np.testing.assert_allclose(_softmax_backward(upstream, softmax(scores)), 0.0, atol=1e-15)


def test_linear_classifier_weight_gradient_is_xt_p_minus_y_over_n_plus_reg_w():
    rng = np.random.default_rng(51)
    X, W = rng.normal(size=(9, 4)), rng.normal(size=(4, 3))
    labels, reg = rng.integers(0, 3, size=9), 0.3
    expected = X.T @ (softmax(X @ W) - np.eye(3)[labels]) / 9 + reg * W
    _, dW = surfaces.linear_loss(X, labels, W, reg)
    np.testing.assert_allclose(dW, expected, rtol=1e-12, atol=1e-15)
    numeric = numerical_gradient(lambda w: surfaces.linear_loss(X, labels, w, reg)[0], W.copy())
    assert rel_error(dW, numeric) < 1e-7


def test_softmax_of_probabilities_bounds_the_loss_below():
    n_classes = 4
    confident = 30.0 * np.eye(n_classes)
    double_loss, _ = softmax_loss(softmax(confident), np.arange(n_classes))
    np.testing.assert_allclose(double_loss, np.log(1 + (n_classes - 1) / np.e), atol=1e-6)
