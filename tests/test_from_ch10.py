"""Checks moved out of chapter 10 (batch normalization backward): the projection reading."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward

BACKWARDS = [batchnorm_backward, batchnorm_backward_alt]


def _batch(seed, n_samples, n_features, eps=1e-5):
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 3.0, size=(n_samples, n_features))
    gamma, beta = rng.normal(size=n_features), rng.normal(size=n_features)
    dout = rng.normal(size=(n_samples, n_features))
    _, cache = batchnorm_forward(x, gamma, beta, eps)
    return x, dout, cache


@pytest.mark.parametrize("backward", BACKWARDS)
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_samples=st.integers(2, 12), n_features=st.integers(1, 4))
def test_dx_is_orthogonal_to_the_ones_vector(backward, seed, n_samples, n_features):
    _, dout, cache = _batch(seed, n_samples, n_features)
    dx = backward(dout, cache)[0]
    scale = np.abs(dx).sum(axis=0) + 1e-300
    assert np.all(np.abs(dx.sum(axis=0)) <= 1e-12 * scale + 1e-15)


@pytest.mark.parametrize("backward", BACKWARDS)
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_samples=st.integers(3, 12))
def test_dx_along_xhat_is_the_epsilon_term(backward, seed, n_samples):
    eps = 1e-2  # large enough that the term is far above rounding
    x, dout, cache = _batch(seed, n_samples, 3, eps)
    dx = backward(dout, cache)[0]
    xhat = (x - cache.mean) * cache.inv_std
    expected = cache.gamma * cache.inv_std * (dout * xhat).sum(axis=0) * eps / (cache.var + eps)
    np.testing.assert_allclose((dx * xhat).sum(axis=0), expected, rtol=1e-7, atol=1e-12)


def test_dx_is_the_projection_of_the_upstream_gradient():
    x, dout, cache = _batch(7, 9, 2)
    xhat = (x - cache.mean) * cache.inv_std
    for column in range(2):
        h = xhat[:, column]
        projection = np.eye(9) - np.ones((9, 9)) / 9 - np.outer(h, h) / 9
        expected = cache.gamma[column] * cache.inv_std[column] * projection @ dout[:, column]
        for backward in BACKWARDS:
            np.testing.assert_allclose(backward(dout, cache)[0][:, column], expected, rtol=1e-10)
