"""Tests of backprop_utils.layernorm: forward, backward, dtypes, and bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop_utils.batchnorm import batchnorm_backward_alt, batchnorm_forward
from backprop_utils.gradcheck import numerical_gradient_array
from backprop_utils.layernorm import LayerNormCache, layernorm_backward, layernorm_forward


def random_batch(n_samples, n_features, seed=0, dtype=np.float64, loc=0.0, scale=1.0):
    """x (N, D), gamma, beta, dout from one seed."""
    rng = np.random.default_rng(seed)
    x = loc + scale * rng.standard_normal((n_samples, n_features))
    gamma = rng.uniform(0.5, 2.0, n_features)
    beta = rng.standard_normal(n_features)
    dout = rng.standard_normal((n_samples, n_features))
    return tuple(a.astype(dtype) for a in (x, gamma, beta, dout))


# rows of at least 2 features: a row of one feature has variance 0 and normalizes to 0
batch_shapes = st.tuples(st.integers(1, 7), st.integers(2, 6))
seeds = st.integers(0, 2**16)


# --- forward ----------------------------------------------------------------------------


@given(shape=batch_shapes, seed=seeds)
def test_forward_matches_definition(shape, seed):
    x, gamma, beta, _ = random_batch(*shape, seed=seed, loc=3.0, scale=2.0)
    out, _ = layernorm_forward(x, gamma, beta, eps=1e-5)
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    expected = gamma * (x - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@given(shape=batch_shapes, seed=seeds)
def test_normalized_rows_have_mean_zero_and_variance_one(shape, seed):
    # with gamma = 1 and beta = 0 the output is xhat; its row variance is var / (var + eps)
    x, _, _, _ = random_batch(*shape, seed=seed, loc=-4.0, scale=3.0)
    n_features = shape[1]
    out, _ = layernorm_forward(x, np.ones(n_features), np.zeros(n_features), eps=1e-5)
    var = x.var(axis=1)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), var / (var + 1e-5), rtol=1e-10)


@given(shape=batch_shapes, seed=seeds)
def test_output_rows_have_the_mean_of_gamma_times_xhat_plus_beta(shape, seed):
    # each row of (out - beta) / gamma has mean 0: the row means of out are mean(gamma * xhat)
    # plus mean(beta), and gamma = 1 leaves exactly mean(beta)
    x, gamma, beta, _ = random_batch(*shape, seed=seed, scale=2.0)
    out, _ = layernorm_forward(x, gamma, beta)
    np.testing.assert_allclose(((out - beta) / gamma).mean(axis=1), 0, atol=1e-12)
    out_unit_scale, _ = layernorm_forward(x, np.ones(shape[1]), beta)
    np.testing.assert_allclose(out_unit_scale.mean(axis=1), beta.mean(), atol=1e-12)


@given(shape=batch_shapes, seed=seeds, shift_seed=seeds)
def test_output_is_invariant_to_a_shift_of_each_row(shape, seed, shift_seed):
    x, gamma, beta, _ = random_batch(*shape, seed=seed, scale=2.0)
    shifts = np.random.default_rng(shift_seed).uniform(-10, 10, (shape[0], 1))
    out, _ = layernorm_forward(x, gamma, beta)
    shifted, _ = layernorm_forward(x + shifts, gamma, beta)
    np.testing.assert_allclose(shifted, out, rtol=1e-9, atol=1e-9)


@given(shape=batch_shapes, seed=seeds, scale_seed=seeds)
def test_output_is_invariant_to_a_scale_of_each_row_when_eps_scales_too(shape, seed, scale_seed):
    # var_i scales by a_i^2; with eps scaled alike xhat is unchanged exactly. One eps for the
    # whole batch, so every row here takes the same scale a
    x, gamma, beta, _ = random_batch(*shape, seed=seed, scale=2.0)
    scale = np.random.default_rng(scale_seed).uniform(0.01, 100)
    out, _ = layernorm_forward(x, gamma, beta, eps=1e-5)
    scaled, _ = layernorm_forward(scale * x, gamma, beta, eps=1e-5 * scale**2)
    np.testing.assert_allclose(scaled, out, rtol=1e-10, atol=1e-10)


@given(shape=batch_shapes, seed=seeds, scale_seed=seeds)
def test_output_is_nearly_invariant_to_a_positive_scale_of_each_row(shape, seed, scale_seed):
    # with eps tiny against every row's variance, each row may take its own scale
    x, gamma, beta, _ = random_batch(*shape, seed=seed, scale=2.0)
    x[:, :2] = [[-1.0, 1.0]]  # every row has variance at least 1 / D
    scales = np.random.default_rng(scale_seed).uniform(0.1, 10, (shape[0], 1))
    out, _ = layernorm_forward(x, gamma, beta, eps=1e-12)
    scaled, _ = layernorm_forward(scales * x, gamma, beta, eps=1e-12)
    np.testing.assert_allclose(scaled, out, rtol=1e-9, atol=1e-9)


def test_forward_is_batchnorm_on_the_transpose():
    x, _, _, _ = random_batch(3, 5, seed=7, loc=2.0)
    out, _ = layernorm_forward(x, np.ones(5), np.zeros(5))
    out_bn, _ = batchnorm_forward(x.T, np.ones(3), np.zeros(3))
    np.testing.assert_allclose(out, out_bn.T, rtol=1e-12, atol=1e-12)


def test_cache_holds_xhat_inverse_std_and_gamma():
    x, gamma, beta, _ = random_batch(4, 6)
    _, cache = layernorm_forward(x, gamma, beta, eps=1e-3)
    assert isinstance(cache, LayerNormCache)
    inv_std = 1 / np.sqrt(x.var(axis=1) + 1e-3)
    np.testing.assert_allclose(cache.inv_std, inv_std, rtol=1e-13)
    np.testing.assert_allclose(cache.xhat, (x - x.mean(axis=1, keepdims=True)) * inv_std[:, None])
    np.testing.assert_array_equal(cache.gamma, gamma)


def test_batch_of_one_sample_works():
    x, gamma, beta, dout = random_batch(1, 4, seed=2)
    out, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    assert out.shape == dx.shape == (1, 4)
    num_dx = numerical_gradient_array(lambda v: layernorm_forward(v, gamma, beta)[0], x, dout)
    np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dbeta, dout[0], rtol=1e-14)


def test_each_sample_is_normalized_alone():
    # no statistic crosses rows: a sample's output does not depend on the rest of the batch
    x, gamma, beta, _ = random_batch(5, 4, seed=3)
    out, _ = layernorm_forward(x, gamma, beta)
    for i in range(5):
        alone, _ = layernorm_forward(x[i : i + 1], gamma, beta)
        np.testing.assert_array_equal(alone[0], out[i])


def test_single_feature_normalizes_to_beta():
    out, _ = layernorm_forward(np.array([[3.0], [-2.0]]), np.array([5.0]), np.array([0.5]))
    np.testing.assert_array_equal(out, 0.5)


def test_constant_row_normalizes_to_beta():
    x = np.array([[2.0, 2.0, 2.0], [1.0, 3.0, 5.0]])
    out, _ = layernorm_forward(x, np.array([3.0, 1.0, 2.0]), np.array([0.5, 0.0, -1.0]))
    np.testing.assert_array_equal(out[0], [0.5, 0.0, -1.0])


# --- backward ---------------------------------------------------------------------------


@given(shape=batch_shapes, seed=seeds)
def test_backward_matches_finite_differences(shape, seed):
    x, gamma, beta, dout = random_batch(*shape, seed=seed, loc=1.0, scale=2.0)
    _, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    num_dx = numerical_gradient_array(lambda v: layernorm_forward(v, gamma, beta)[0], x, dout)
    num_dgamma = numerical_gradient_array(lambda g: layernorm_forward(x, g, beta)[0], gamma, dout)
    num_dbeta = numerical_gradient_array(lambda b: layernorm_forward(x, gamma, b)[0], beta, dout)
    np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dgamma, num_dgamma, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dbeta, num_dbeta, rtol=1e-6, atol=1e-8)


@given(shape=batch_shapes, seed=seeds)
def test_dx_rows_sum_to_zero(shape, seed):
    # for any gamma: dx projects dout * gamma off the ones vector of each row
    x, gamma, beta, dout = random_batch(*shape, seed=seed, scale=3.0)
    _, cache = layernorm_forward(x, gamma, beta)
    dx, _, _ = layernorm_backward(dout, cache)
    scale = np.abs(dout * gamma).sum(axis=1) * cache.inv_std
    np.testing.assert_allclose(dx.sum(axis=1) / scale, 0, atol=1e-13)


@pytest.mark.parametrize("unit_gamma", [True, False], ids=["gamma_one", "gamma_random"])
@given(shape=batch_shapes, seed=seeds)
def test_dx_rows_are_orthogonal_to_xhat_rows(unit_gamma, shape, seed):
    # sum_j dx_j xhat_j = inv_std * sum_j (g_j xhat_j) * (1 - mean(xhat^2)), g = dout * gamma,
    # and mean(xhat^2) = var / (var + eps): orthogonal up to a term of order eps
    x, gamma, beta, dout = random_batch(*shape, seed=seed, scale=3.0)
    gamma = np.ones_like(gamma) if unit_gamma else gamma
    _, cache = layernorm_forward(x, gamma, beta)
    dx, _, _ = layernorm_backward(dout, cache)
    xhat, inv_std = cache.xhat, cache.inv_std
    var = x.var(axis=1)
    eps_term = inv_std * (dout * gamma * xhat).sum(axis=1) * 1e-5 / (var + 1e-5)
    scale = np.abs(dout * gamma).sum(axis=1) * inv_std * np.abs(xhat).max(axis=1)
    np.testing.assert_allclose(((dx * xhat).sum(axis=1) - eps_term) / scale, 0, atol=1e-12)


def test_dx_is_batchnorm_closed_form_on_the_transpose():
    # rows of x are batches of D numbers; g = dout * gamma is the gradient reaching xhat
    x, gamma, beta, dout = random_batch(4, 6, seed=5, loc=1.0)
    _, cache = layernorm_forward(x, gamma, beta)
    dx, _, _ = layernorm_backward(dout, cache)
    _, bn_cache = batchnorm_forward(x.T, np.ones(4), np.zeros(4))
    dx_bn, _, _ = batchnorm_backward_alt((dout * gamma).T, bn_cache)
    np.testing.assert_allclose(dx, dx_bn.T, rtol=1e-10, atol=1e-12)


def test_dbeta_and_dgamma_have_closed_forms():
    x, gamma, beta, dout = random_batch(5, 4, seed=3)
    _, cache = layernorm_forward(x, gamma, beta)
    _, dgamma, dbeta = layernorm_backward(dout, cache)
    xhat = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(dbeta, dout.sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(dgamma, (dout * xhat).sum(axis=0), rtol=1e-12)


def test_backward_can_run_twice_on_one_cache():
    x, gamma, beta, dout = random_batch(5, 3)
    _, cache = layernorm_forward(x, gamma, beta)
    first = layernorm_backward(dout, cache)
    second = layernorm_backward(dout, cache)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


# --- dtypes and inputs ------------------------------------------------------------------


def test_float32_input_gives_float32_outputs():
    x, gamma, beta, dout = random_batch(6, 5, dtype=np.float32)
    out, cache = layernorm_forward(x, gamma, beta)
    grads = layernorm_backward(dout, cache)
    assert out.dtype == np.float32
    assert all(grad.dtype == np.float32 for grad in grads)
    out64, cache64 = layernorm_forward(*(a.astype(np.float64) for a in (x, gamma, beta)))
    np.testing.assert_allclose(out, out64, rtol=1e-5, atol=1e-5)
    for grad, grad64 in zip(
        grads, layernorm_backward(dout.astype(np.float64), cache64), strict=True
    ):
        np.testing.assert_allclose(grad, grad64, rtol=1e-4, atol=1e-4)


def test_float32_x_with_float64_parameters_and_dout_gives_float32():
    x, gamma, beta, dout = random_batch(4, 3, dtype=np.float32)
    out, cache = layernorm_forward(x, gamma.astype(np.float64), beta.astype(np.float64))
    dx, dgamma, dbeta = layernorm_backward(dout.astype(np.float64), cache)
    assert out.dtype == dx.dtype == dgamma.dtype == dbeta.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int64, np.float16])
def test_other_real_input_is_computed_in_float64(dtype):
    x = np.array([[1, 2, 4], [3, 5, 4]], dtype=dtype)
    out, cache = layernorm_forward(x, [1, 1, 1], [0, 0, 0])
    assert out.dtype == np.float64
    dx, _, _ = layernorm_backward(np.ones((2, 3), dtype=dtype), cache)
    assert dx.dtype == np.float64


def test_lists_are_accepted():
    out, _ = layernorm_forward([[1.0, 3.0]], [1.0, 1.0], [0.0, 0.0], eps=1e-12)
    np.testing.assert_allclose(out, [[-1.0, 1.0]], rtol=1e-10)


def test_inputs_are_not_modified():
    x, gamma, beta, dout = random_batch(5, 3)
    before = [a.copy() for a in (x, gamma, beta, dout)]
    _, cache = layernorm_forward(x, gamma, beta)
    layernorm_backward(dout, cache)
    for array, copy in zip((x, gamma, beta, dout), before, strict=True):
        np.testing.assert_array_equal(array, copy)


def test_cache_does_not_share_memory_with_x():
    x, gamma, beta, dout = random_batch(4, 3)
    _, cache = layernorm_forward(x, gamma, beta)
    expected = layernorm_backward(dout, cache)
    x += 100.0  # changing x after the forward pass does not change the backward pass
    for grad, before in zip(layernorm_backward(dout, cache), expected, strict=True):
        np.testing.assert_array_equal(grad, before)


# --- bad input --------------------------------------------------------------------------


def forward_args(**changes):
    x, gamma, beta, _ = random_batch(4, 3)
    args = {"x": x, "gamma": gamma, "beta": beta}
    args.update(changes)
    return args


def test_one_dimensional_x_raises():
    with pytest.raises(ValueError, match="x must be 2-D"):
        layernorm_forward(**forward_args(x=np.ones(3)))


def test_three_dimensional_x_raises():
    with pytest.raises(ValueError, match="x must be 2-D"):
        layernorm_forward(**forward_args(x=np.ones((4, 3, 1))))


def test_empty_batch_raises():
    with pytest.raises(ValueError, match="empty batch"):
        layernorm_forward(**forward_args(x=np.ones((0, 3))))


def test_zero_features_raise():
    with pytest.raises(ValueError, match="no features"):
        layernorm_forward(np.ones((4, 0)), np.ones(0), np.zeros(0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_raises(bad):
    x = np.ones((4, 3))
    x[2, 1] = bad
    with pytest.raises(ValueError, match="x must be finite"):
        layernorm_forward(**forward_args(x=x))


def test_x_whose_row_variance_overflows_raises():
    x = np.array([[3e38, -3e38, 0.0]], dtype=np.float32)
    with pytest.raises(ValueError, match="x is too large"):
        layernorm_forward(x, np.ones(3), np.zeros(3))


def test_x_whose_row_mean_overflows_raises():
    x = np.full((2, 3), np.finfo(np.float64).max / 2)
    with pytest.raises(ValueError, match="x is too large"):
        layernorm_forward(**forward_args(x=x))


def test_text_x_raises_type_error():
    with pytest.raises(TypeError, match="x must be a real"):
        layernorm_forward(**forward_args(x=np.array([["a", "b", "c"]] * 2)))


def test_boolean_x_raises_type_error():
    with pytest.raises(TypeError, match="x must be a real"):
        layernorm_forward(**forward_args(x=np.ones((4, 3), dtype=bool)))


def test_ragged_x_raises_naming_x():
    with pytest.raises(ValueError, match="x must be a rectangular"):
        layernorm_forward(**forward_args(x=[[1.0, 2.0, 3.0], [1.0]]))


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_ragged_parameter_raises_naming_it(name):
    with pytest.raises(ValueError, match=f"{name} must be a rectangular"):
        layernorm_forward(**forward_args(**{name: [[1.0, 2.0], [3.0]]}))


def test_masked_x_raises_type_error():
    x = np.ma.masked_array(np.ones((4, 3)), mask=np.eye(4, 3, dtype=bool))
    with pytest.raises(TypeError, match="x must .*masked"):
        layernorm_forward(**forward_args(x=x))


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_masked_parameter_raises_type_error(name):
    value = np.ma.masked_array(np.ones(3), mask=[False, True, False])
    with pytest.raises(TypeError, match=f"{name} must .*masked"):
        layernorm_forward(**forward_args(**{name: value}))


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_parameter_of_wrong_length_raises(name):
    with pytest.raises(ValueError, match=rf"{name} must have shape \(3,\)"):
        layernorm_forward(**forward_args(**{name: np.ones(4)}))


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_two_dimensional_parameter_raises(name):
    with pytest.raises(ValueError, match=rf"{name} must have shape \(3,\)"):
        layernorm_forward(**forward_args(**{name: np.ones((1, 3))}))


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_non_finite_parameter_raises(name):
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        layernorm_forward(**forward_args(**{name: np.array([1.0, np.nan, 1.0])}))


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_parameter_beyond_float32_range_raises_for_float32_x(name):
    x = np.ones((2, 3), dtype=np.float32)
    args = {"gamma": np.ones(3), "beta": np.zeros(3), name: np.array([1.0, 1e40, 1.0])}
    with pytest.raises(ValueError, match=f"{name} must be finite.*float32's range"):
        layernorm_forward(x, **args)


def test_output_that_overflows_raises_naming_gamma():
    x = np.array([[0.0, 1.0, 2.0]], dtype=np.float32)
    gamma = np.full(3, 3e38, dtype=np.float32)
    with pytest.raises(ValueError, match="gamma or beta is too large"):
        layernorm_forward(x, gamma, np.zeros(3, np.float32))


@pytest.mark.parametrize("eps", [0.0, -1e-5, np.inf, np.nan, 10**400])
def test_non_positive_or_non_finite_eps_raises(eps):
    with pytest.raises(ValueError, match="eps must be a positive finite"):
        layernorm_forward(**forward_args(), eps=eps)


@pytest.mark.parametrize("eps", [1e-50, 1e300])
def test_eps_that_float32_cannot_hold_raises_for_float32_x(eps):
    # 1e-50 rounds to 0 in float32: a constant row would give 0 / 0
    x = np.full((2, 3), 2.0, dtype=np.float32)
    with pytest.raises(ValueError, match="eps must be .* float32 can hold"):
        layernorm_forward(x, np.ones(3), np.zeros(3), eps=eps)


def test_tiny_eps_is_fine_for_float64_x():
    out, _ = layernorm_forward(np.full((2, 3), 2.0), np.ones(3), np.zeros(3), eps=1e-50)
    np.testing.assert_array_equal(out, 0.0)


@pytest.mark.parametrize("eps", ["1e-5", None, np.ones(3), True])
def test_non_number_eps_raises_type_error(eps):
    with pytest.raises(TypeError, match="eps must be a positive real number"):
        layernorm_forward(**forward_args(), eps=eps)


@pytest.mark.parametrize("shape", [(4, 2), (3, 3), (4, 3, 1), (12,)])
def test_dout_of_wrong_shape_raises(shape):
    _, cache = layernorm_forward(**forward_args())
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 3\)"):
        layernorm_backward(np.ones(shape), cache)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_dout_raises(bad):
    x, gamma, beta, dout = random_batch(4, 3)
    _, cache = layernorm_forward(x, gamma, beta)
    dout[1, 2] = bad
    with pytest.raises(ValueError, match="dout must be finite"):
        layernorm_backward(dout, cache)


def test_dout_beyond_float32_range_raises_for_float32_x():
    x, gamma, beta, dout = random_batch(4, 3, dtype=np.float32)
    _, cache = layernorm_forward(x, gamma, beta)
    with pytest.raises(ValueError, match="dout must be finite.*float32's range"):
        layernorm_backward(np.full((4, 3), 1e40), cache)


def test_dout_whose_gradients_overflow_raises():
    x, gamma, beta, _ = random_batch(4, 3, dtype=np.float32)
    _, cache = layernorm_forward(x, gamma, beta)
    with pytest.raises(ValueError, match="dout is too large"):
        layernorm_backward(np.full((4, 3), 3e38, dtype=np.float32), cache)


def test_dout_of_text_raises_type_error():
    _, cache = layernorm_forward(**forward_args())
    with pytest.raises(TypeError, match="dout must be a real"):
        layernorm_backward(np.full((4, 3), "a"), cache)


def test_ragged_dout_raises_naming_dout():
    _, cache = layernorm_forward(**forward_args())
    with pytest.raises(ValueError, match="dout must be a rectangular"):
        layernorm_backward([[1.0, 2.0, 3.0], [1.0]], cache)


def test_masked_dout_raises_type_error():
    _, cache = layernorm_forward(**forward_args())
    dout = np.ma.masked_array(np.ones((4, 3)), mask=np.eye(4, 3, dtype=bool))
    with pytest.raises(TypeError, match="dout must .*masked"):
        layernorm_backward(dout, cache)


def test_cache_of_wrong_type_raises_type_error():
    x, gamma, beta, dout = random_batch(4, 3)
    with pytest.raises(TypeError, match="cache must be the LayerNormCache"):
        layernorm_backward(dout, (x, gamma, beta))


@pytest.mark.parametrize("xhat", [np.ones(12), np.ones((4, 3), dtype=np.int64), [[1.0] * 3] * 4])
def test_altered_cache_xhat_raises(xhat):
    x, gamma, beta, dout = random_batch(4, 3)
    _, cache = layernorm_forward(x, gamma, beta)
    with pytest.raises(ValueError, match="cache.xhat must be"):
        layernorm_backward(dout, cache._replace(xhat=xhat))


@pytest.mark.parametrize("field", ["inv_std", "gamma"])
@pytest.mark.parametrize("change", ["length", "dtype", "list"])
def test_altered_cache_field_raises_naming_it(field, change):
    x, gamma, beta, dout = random_batch(4, 3)
    _, cache = layernorm_forward(x, gamma, beta)
    value = getattr(cache, field)
    altered = {
        "length": np.ones(5),
        "dtype": value.astype(np.float32),
        "list": value.tolist(),
    }[change]
    with pytest.raises(ValueError, match=f"cache.{field} must be a float64 array"):
        layernorm_backward(dout, cache._replace(**{field: altered}))
