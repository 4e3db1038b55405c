"""Checks of chapter 11 (layer normalization) for many inputs: batch norm on the transpose."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils.batchnorm import batchnorm_backward_alt, batchnorm_forward
from backprop_utils.layernorm import layernorm_backward, layernorm_forward


def _layer(seed, n_samples, n_features):
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 2.0, size=(n_samples, n_features))
    gamma, beta = rng.normal(1.0, 0.5, size=n_features), rng.normal(size=n_features)
    dout = rng.normal(size=(n_samples, n_features))
    return x, gamma, beta, dout


SHAPES = st.tuples(st.integers(0, 2**31), st.integers(1, 6), st.integers(2, 7))


@settings(max_examples=40, deadline=None)
@given(SHAPES)
def test_layer_norm_forward_is_batch_norm_of_the_transpose(case):
    x, gamma, beta, _ = _layer(*case)
    xhat_t, _ = batchnorm_forward(x.T, np.ones(x.shape[0]), np.zeros(x.shape[0]))
    out, _ = layernorm_forward(x, gamma, beta)
    np.testing.assert_allclose(out, gamma * xhat_t.T + beta, rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(SHAPES)
def test_layer_norm_dx_is_batch_norm_dx_of_the_transpose_with_gamma_inside(case):
    x, gamma, beta, dout = _layer(*case)
    _, bn_cache = batchnorm_forward(x.T, np.ones(x.shape[0]), np.zeros(x.shape[0]))
    dx_transpose = batchnorm_backward_alt((dout * gamma).T, bn_cache)[0].T
    _, cache = layernorm_forward(x, gamma, beta)
    dx = layernorm_backward(dout, cache)[0]
    np.testing.assert_allclose(dx, dx_transpose, rtol=1e-9, atol=1e-10)


def test_gamma_outside_the_bracket_is_wrong_when_gamma_varies_along_the_row():
    x, gamma, beta, dout = _layer(11, 4, 6)
    xhat, cache = layernorm_forward(x, np.ones(6), np.zeros(6))
    inv_std = cache.inv_std[:, None]
    centred = dout - dout.mean(axis=1, keepdims=True)
    outside = gamma * inv_std * (centred - xhat * (dout * xhat).mean(axis=1, keepdims=True))
    dx = layernorm_backward(dout, layernorm_forward(x, gamma, beta)[1])[0]
    assert np.abs(dx - outside).max() > 0.1


@pytest.mark.parametrize("n_features", [2, 5])
def test_a_single_sample_gets_the_output_it_has_in_any_batch(n_features):
    x, gamma, beta, _ = _layer(3, 5, n_features)
    alone, _ = layernorm_forward(x[:1], gamma, beta)
    in_batch, _ = layernorm_forward(x, gamma, beta)
    np.testing.assert_array_equal(alone[0], in_batch[0])


def test_batch_norm_refuses_the_single_sample_that_layer_norm_takes():
    x, gamma, beta, _ = _layer(4, 1, 5)
    with pytest.raises(ValueError, match="single sample"):
        batchnorm_forward(x, gamma, beta)
    out, _ = layernorm_forward(x, gamma, beta)
    assert np.isfinite(out).all()


@settings(max_examples=30, deadline=None)
@given(SHAPES)
def test_rows_of_dx_sum_to_zero(case):
    x, gamma, beta, dout = _layer(*case)
    dx = layernorm_backward(dout, layernorm_forward(x, gamma, beta)[1])[0]
    np.testing.assert_allclose(dx.sum(axis=1), 0, atol=1e-9)
