"""Claims of chapter 7 (loops to vectors) and of the appendix (making it fast), on more inputs.

Memory is measured with tracemalloc (NumPy reports its allocations to it); nothing here is
timed.
"""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils import drafts
from backprop_utils.gradcheck import numerical_gradient, rel_error
from backprop_utils.softmax import softmax_loss, softmax_loss_naive, softmax_loss_staged
from backprop_utils.surfaces import linear_loss


def peak_bytes(func, *args):
    tracemalloc.start()
    try:
        func(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 6), seed=st.integers(0, 1000))
def test_square_batches_agree_across_the_three_implementations(size, seed):
    """N == C, where a wrong-axis broadcast would run silently."""
    rng = np.random.default_rng(seed)
    scores, labels = rng.normal(size=(size, size)), rng.integers(0, size, size=size)
    expected = softmax_loss_naive(scores, labels)[1]
    for implementation in (softmax_loss_staged, drafts.softmax_loss_vectorized, softmax_loss):
        np.testing.assert_allclose(implementation(scores, labels)[1], expected, atol=1e-15)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3)])
def test_wrong_axis_draft_is_caught_on_square_or_raises(shape):
    rng = np.random.default_rng(2)
    scores, labels = rng.normal(size=shape), rng.integers(0, shape[1], size=shape[0])
    if shape[0] != shape[1]:
        with pytest.raises(ValueError, match="broadcast"):
            drafts.draft_wrong_axis(scores, labels)
        return
    _, dscores = drafts.draft_wrong_axis(scores, labels)
    numeric = numerical_gradient(lambda s: drafts.draft_wrong_axis(s, labels)[0], scores)
    assert rel_error(numeric, dscores) > 1e-2


@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_classifier_weight_gradient_is_x_transpose_p_minus_y_over_n(reg):
    rng = np.random.default_rng(3)
    X, W = rng.normal(size=(7, 4)), rng.normal(size=(4, 3))
    labels = rng.integers(0, 3, size=7)
    probs = np.exp(X @ W)
    probs /= probs.sum(axis=1, keepdims=True)
    expected = X.T @ (probs - np.eye(3)[labels]) / 7 + reg * W
    np.testing.assert_allclose(linear_loss(X, labels, W, reg)[1], expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_softmax_loss_peak_memory_is_at_most_one_and_a_half_times_the_scores(dtype, offset):
    rng = np.random.default_rng(4)
    scores = (rng.normal(size=(2000, 500)) + offset).astype(dtype)
    labels = rng.integers(0, 500, size=2000)
    assert peak_bytes(softmax_loss, scores, labels) <= 1.5 * scores.nbytes


@pytest.mark.parametrize("func", [softmax_loss_staged, drafts.softmax_loss_vectorized])
def test_unblocked_versions_need_at_least_three_times_the_scores(func):
    rng = np.random.default_rng(5)
    scores, labels = rng.normal(size=(2000, 500)), rng.integers(0, 500, size=2000)
    assert peak_bytes(func, scores, labels) >= 3 * scores.nbytes
