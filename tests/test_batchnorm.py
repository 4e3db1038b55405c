"""Tests of backprop_utils.batchnorm: forward, staged and closed-form backward, the layer."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop_utils.batchnorm import (
    _BLOCK_BYTES,
    BatchNorm,
    BatchNormCache,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
)
from backprop_utils.gradcheck import numerical_gradient_array

BACKWARDS = [batchnorm_backward, batchnorm_backward_alt]
BACKWARD_IDS = ["staged", "closed_form"]


def random_batch(n_samples, n_features, seed=0, dtype=np.float64, loc=0.0, scale=1.0):
    """x (N, D), gamma, beta, dout from one seed."""
    rng = np.random.default_rng(seed)
    x = loc + scale * rng.standard_normal((n_samples, n_features))
    gamma = rng.uniform(0.5, 2.0, n_features)
    beta = rng.standard_normal(n_features)
    dout = rng.standard_normal((n_samples, n_features))
    return tuple(a.astype(dtype) for a in (x, gamma, beta, dout))


batch_shapes = st.tuples(st.integers(2, 7), st.integers(1, 5))
seeds = st.integers(0, 2**16)


# --- forward ----------------------------------------------------------------------------


@given(shape=batch_shapes, seed=seeds)
def test_forward_matches_definition(shape, seed):
    x, gamma, beta, _ = random_batch(*shape, seed=seed, loc=3.0, scale=2.0)
    out, _ = batchnorm_forward(x, gamma, beta, eps=1e-5)
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    expected = gamma * (x - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@given(shape=batch_shapes, seed=seeds)
def test_forward_output_has_mean_beta_and_variance_gamma_squared(shape, seed):
    x, gamma, beta, _ = random_batch(*shape, seed=seed, scale=5.0)
    out, cache = batchnorm_forward(x, gamma, beta, eps=1e-5)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    expected_var = gamma**2 * cache.var / (cache.var + 1e-5)
    np.testing.assert_allclose(out.var(axis=0), expected_var, rtol=1e-10, atol=1e-12)


def test_cache_holds_batch_statistics():
    x, gamma, beta, _ = random_batch(6, 3)
    _, cache = batchnorm_forward(x, gamma, beta, eps=1e-3)
    assert isinstance(cache, BatchNormCache)
    np.testing.assert_allclose(cache.mean, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(cache.var, x.var(axis=0), rtol=1e-13)
    np.testing.assert_allclose(cache.inv_std, 1 / np.sqrt(x.var(axis=0) + 1e-3), rtol=1e-14)
    assert cache.eps == 1e-3


@pytest.mark.parametrize("dtype, loc", [(np.float64, 1e8), (np.float32, 1e4)])
def test_two_pass_variance_keeps_precision_when_mean_is_large(dtype, loc):
    # E[x^2] - E[x]^2 loses every digit here; mean-then-centred-squares does not
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((256, 3))
    x = (loc + noise).astype(dtype)
    gamma, beta = np.ones(3, dtype), np.zeros(3, dtype)
    _, cache = batchnorm_forward(x, gamma, beta)
    exact_var = (x.astype(np.float64) - x.astype(np.float64).mean(axis=0)).var(axis=0)
    one_pass = (x**2).mean(axis=0) - x.mean(axis=0) ** 2
    assert np.max(np.abs(one_pass / exact_var - 1)) > 0.1  # the one-pass formula fails
    np.testing.assert_allclose(cache.var, exact_var, rtol=1e-3 if dtype == np.float32 else 1e-9)


def test_float32_output_is_accurate_when_mean_is_large():
    # a float32 mean of values near 1e4 is off by several units in the last place; the
    # centred x measure that error and the output corrects for it
    rng = np.random.default_rng(1)
    x = (1e4 + rng.standard_normal((4096, 3))).astype(np.float32)
    out, _ = batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32))
    x64 = x.astype(np.float64)
    expected = (x64 - x64.mean(axis=0)) / np.sqrt(x64.var(axis=0) + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_constant_feature_normalizes_to_beta():
    x = np.array([[2.0, 1.0], [2.0, 3.0], [2.0, 5.0]])
    out, _ = batchnorm_forward(x, np.array([3.0, 1.0]), np.array([0.5, 0.0]))
    np.testing.assert_array_equal(out[:, 0], 0.5)


# --- backward ---------------------------------------------------------------------------


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
@given(shape=batch_shapes, seed=seeds)
def test_backward_matches_finite_differences(backward, shape, seed):
    x, gamma, beta, dout = random_batch(*shape, seed=seed, loc=1.0, scale=2.0)
    _, cache = batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = backward(dout, cache)
    num_dx = numerical_gradient_array(lambda v: batchnorm_forward(v, gamma, beta)[0], x, dout)
    num_dgamma = numerical_gradient_array(lambda g: batchnorm_forward(x, g, beta)[0], gamma, dout)
    num_dbeta = numerical_gradient_array(lambda b: batchnorm_forward(x, gamma, b)[0], beta, dout)
    np.testing.assert_allclose(dx, num_dx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dgamma, num_dgamma, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dbeta, num_dbeta, rtol=1e-6, atol=1e-8)


@given(shape=st.tuples(st.integers(2, 50), st.integers(1, 20)), seed=seeds)
def test_staged_equals_closed_form(shape, seed):
    x, gamma, beta, dout = random_batch(*shape, seed=seed, loc=-2.0, scale=3.0)
    _, cache = batchnorm_forward(x, gamma, beta)
    for staged, closed in zip(
        batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache), strict=True
    ):
        np.testing.assert_allclose(staged, closed, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
@given(shape=batch_shapes, seed=seeds)
def test_dx_sums_to_zero_per_feature(backward, shape, seed):
    x, gamma, beta, dout = random_batch(*shape, seed=seed, scale=3.0)
    _, cache = batchnorm_forward(x, gamma, beta)
    dx, _, _ = backward(dout, cache)
    scale = np.abs(dout).sum(axis=0) * gamma * cache.inv_std
    np.testing.assert_allclose(dx.sum(axis=0) / scale, 0, atol=1e-13)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
@given(shape=batch_shapes, seed=seeds)
def test_dx_is_orthogonal_to_xhat_per_feature(backward, shape, seed):
    # sum_i dx_i xhat_i = gamma inv_std dgamma (1 - sum_i xhat_i^2 / N), and
    # sum_i xhat_i^2 / N = var / (var + eps): orthogonal up to a term of order eps
    x, gamma, beta, dout = random_batch(*shape, seed=seed, scale=3.0)
    _, cache = batchnorm_forward(x, gamma, beta)
    dx, dgamma, _ = backward(dout, cache)
    xhat = (x - cache.mean) * cache.inv_std
    eps_term = gamma * cache.inv_std * dgamma * 1e-5 / (cache.var + 1e-5)
    scale = np.abs(dout).sum(axis=0) * gamma * cache.inv_std * np.abs(xhat).max(axis=0)
    np.testing.assert_allclose(((dx * xhat).sum(axis=0) - eps_term) / scale, 0, atol=1e-12)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_dbeta_and_dgamma_have_closed_forms(backward):
    x, gamma, beta, dout = random_batch(5, 4, seed=3)
    _, cache = batchnorm_forward(x, gamma, beta)
    _, dgamma, dbeta = backward(dout, cache)
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    np.testing.assert_allclose(dbeta, dout.sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(dgamma, (dout * xhat).sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_backward_is_exact_on_a_large_mean(backward):
    # the backward recomputes x - mean from the cache: a large mean must not cost digits
    x, gamma, beta, dout = random_batch(8, 3, seed=4)
    _, small_cache = batchnorm_forward(x, gamma, beta)
    _, large_cache = batchnorm_forward(x + 1e6, gamma, beta)
    for small, large in zip(backward(dout, small_cache), backward(dout, large_cache), strict=True):
        np.testing.assert_allclose(large, small, rtol=1e-8, atol=1e-9)


# --- blocks of rows ---------------------------------------------------------------------


def test_many_blocks_match_definition_and_staged_backward():
    # 2.5 blocks of rows, the last one partial
    n_features = 50
    n_samples = int(2.5 * _BLOCK_BYTES / (n_features * 8))
    x, gamma, beta, dout = random_batch(n_samples, n_features, seed=4, loc=3.0, scale=2.0)
    out, cache = batchnorm_forward(x, gamma, beta, eps=1e-5)
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    expected = gamma * (x - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    for closed, staged in zip(
        batchnorm_backward_alt(dout, cache), batchnorm_backward(dout, cache), strict=True
    ):
        np.testing.assert_allclose(closed, staged, rtol=1e-9, atol=1e-12)


def test_float32_over_many_blocks_is_accurate_when_mean_is_large():
    n_features = 4
    n_samples = int(2.5 * _BLOCK_BYTES / (n_features * 4))
    rng = np.random.default_rng(2)
    x = (1e4 + rng.standard_normal((n_samples, n_features))).astype(np.float32)
    out, cache = batchnorm_forward(x, np.ones(4, np.float32), np.zeros(4, np.float32))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(cache.var, x64.var(axis=0), rtol=1e-5)
    expected = (x64 - x64.mean(axis=0)) / np.sqrt(x64.var(axis=0) + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


# --- dtypes and inputs ------------------------------------------------------------------


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_float32_input_gives_float32_outputs(backward):
    x, gamma, beta, dout = random_batch(6, 3, dtype=np.float32)
    out, cache = batchnorm_forward(x, gamma, beta)
    grads = backward(dout, cache)
    assert out.dtype == np.float32
    assert all(grad.dtype == np.float32 for grad in grads)
    out64, cache64 = batchnorm_forward(*(a.astype(np.float64) for a in (x, gamma, beta)))
    np.testing.assert_allclose(out, out64, rtol=1e-5, atol=1e-5)
    for grad, grad64 in zip(grads, backward(dout.astype(np.float64), cache64), strict=True):
        np.testing.assert_allclose(grad, grad64, rtol=1e-4, atol=1e-4)


def test_float32_x_with_float64_parameters_gives_float32():
    x, gamma, beta, _ = random_batch(4, 2, dtype=np.float32)
    out, _ = batchnorm_forward(x, gamma.astype(np.float64), beta.astype(np.float64))
    assert out.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int64, np.float16])
def test_other_real_input_is_computed_in_float64(dtype):
    x = np.array([[1, 2], [3, 5], [4, 4]], dtype=dtype)
    out, cache = batchnorm_forward(x, [1, 1], [0, 0])
    assert out.dtype == np.float64
    dx, _, _ = batchnorm_backward_alt(np.ones((3, 2), dtype=dtype), cache)
    assert dx.dtype == np.float64


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_inputs_are_not_modified(backward):
    x, gamma, beta, dout = random_batch(5, 3)
    before = [a.copy() for a in (x, gamma, beta, dout)]
    _, cache = batchnorm_forward(x, gamma, beta)
    backward(dout, cache)
    for array, copy in zip((x, gamma, beta, dout), before, strict=True):
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_backward_can_run_twice_on_one_cache(backward):
    x, gamma, beta, dout = random_batch(5, 3)
    _, cache = batchnorm_forward(x, gamma, beta)
    first = backward(dout, cache)
    second = backward(dout, cache)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


# --- the layer --------------------------------------------------------------------------


def test_layer_starts_as_identity_scale_and_zero_shift():
    layer = BatchNorm(3)
    np.testing.assert_array_equal(layer.gamma, np.ones(3))
    np.testing.assert_array_equal(layer.beta, np.zeros(3))
    np.testing.assert_array_equal(layer.running_mean, np.zeros(3))
    np.testing.assert_array_equal(layer.running_var, np.ones(3))


def test_layer_training_forward_equals_function():
    x, gamma, beta, _ = random_batch(6, 3)
    layer = BatchNorm(3, eps=1e-3)
    layer.gamma, layer.beta = gamma, beta
    expected, _ = batchnorm_forward(x, gamma, beta, eps=1e-3)
    np.testing.assert_array_equal(layer.forward(x), expected)


def test_layer_updates_running_statistics_with_momentum_and_unbiased_variance():
    x, _, _, _ = random_batch(5, 3, loc=2.0)
    layer = BatchNorm(3, momentum=0.8)
    layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, 0.2 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, 0.8 + 0.2 * x.var(axis=0, ddof=1), rtol=1e-14)


def test_layer_inference_uses_running_statistics_and_leaves_them_alone():
    x, gamma, beta, _ = random_batch(4, 3)
    layer = BatchNorm(3)
    layer.gamma, layer.beta = gamma, beta
    layer.running_mean = np.array([1.0, -1.0, 0.5])
    layer.running_var = np.array([4.0, 1.0, 0.25])
    out = layer.forward(x, train=False)
    expected = gamma * (x - layer.running_mean) / np.sqrt(layer.running_var + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    np.testing.assert_array_equal(layer.running_mean, [1.0, -1.0, 0.5])


def test_layer_inference_accepts_a_single_sample():
    layer = BatchNorm(2)
    assert layer.forward(np.array([[1.0, 2.0]]), train=False).shape == (1, 2)


def test_layer_running_statistics_converge_to_population_statistics():
    rng = np.random.default_rng(0)
    layer = BatchNorm(2, momentum=0.9)
    for _ in range(300):
        layer.forward(rng.normal([3.0, -1.0], [2.0, 0.5], size=(64, 2)))
    np.testing.assert_allclose(layer.running_mean, [3.0, -1.0], atol=0.2)
    np.testing.assert_allclose(layer.running_var, [4.0, 0.25], rtol=0.15)


def test_layer_backward_returns_dx_and_stores_parameter_gradients():
    x, gamma, beta, dout = random_batch(6, 3, seed=2)
    layer = BatchNorm(3)
    layer.gamma, layer.beta = gamma, beta
    layer.forward(x)
    dx = layer.backward(dout)
    _, cache = batchnorm_forward(x, gamma, beta)
    expected = batchnorm_backward_alt(dout, cache)
    np.testing.assert_allclose(dx, expected[0], rtol=1e-14)
    np.testing.assert_allclose(layer.dgamma, expected[1], rtol=1e-14)
    np.testing.assert_allclose(layer.dbeta, expected[2], rtol=1e-14)


def test_layer_inference_backward_matches_finite_differences():
    x, gamma, beta, dout = random_batch(4, 3, seed=5)
    layer = BatchNorm(3)
    layer.gamma, layer.beta = gamma, beta
    layer.running_mean, layer.running_var = np.array([0.5, 0.0, -1.0]), np.array([2.0, 1, 3])
    layer.forward(x, train=False)
    dx = layer.backward(dout)
    numerical_dx = numerical_gradient_array(lambda v: layer.forward(v, train=False), x, dout)
    np.testing.assert_allclose(dx, numerical_dx, rtol=1e-7, atol=1e-9)
    numerical_dgamma = numerical_gradient_array(
        lambda g: layer.forward(x, train=False), layer.gamma, dout
    )
    np.testing.assert_allclose(layer.dgamma, numerical_dgamma, rtol=1e-7, atol=1e-9)


def test_layer_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm(3).backward(np.zeros((2, 3)))


def test_layer_matches_pytorch_batchnorm1d():
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = random_batch(16, 4, seed=6, loc=1.5)
    layer = BatchNorm(4, momentum=0.9, eps=1e-5)
    layer.gamma, layer.beta = gamma, beta
    reference = torch.nn.BatchNorm1d(4, momentum=0.1, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(gamma))
        reference.bias.copy_(torch.tensor(beta))
    tensor = torch.tensor(x, requires_grad=True)
    expected = reference(tensor)
    expected.backward(torch.tensor(dout))
    out = layer.forward(x)
    dx = layer.backward(dout)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, tensor.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.dgamma, reference.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean, reference.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, reference.running_var.numpy(), rtol=1e-12)
    reference.eval()
    np.testing.assert_allclose(
        layer.forward(x, train=False), reference(tensor).detach().numpy(), rtol=1e-12
    )


# --- bad input --------------------------------------------------------------------------


def forward_args(**changes):
    x, gamma, beta, _ = random_batch(4, 3)
    args = {"x": x, "gamma": gamma, "beta": beta}
    args.update(changes)
    return args


def test_one_dimensional_x_raises():
    with pytest.raises(ValueError, match="2-D"):
        batchnorm_forward(**forward_args(x=np.ones(3)))


def test_empty_batch_raises():
    with pytest.raises(ValueError, match="empty"):
        batchnorm_forward(**forward_args(x=np.ones((0, 3))))


def test_zero_features_raise():
    with pytest.raises(ValueError, match="features"):
        batchnorm_forward(np.ones((4, 0)), np.ones(0), np.zeros(0))


def test_single_sample_in_training_mode_raises():
    with pytest.raises(ValueError, match="at least 2 samples"):
        batchnorm_forward(**forward_args(x=np.ones((1, 3))))


def test_layer_single_sample_in_training_mode_raises():
    with pytest.raises(ValueError, match="at least 2 samples"):
        BatchNorm(3).forward(np.ones((1, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_raises(bad):
    x = np.ones((4, 3))
    x[2, 1] = bad
    with pytest.raises(ValueError, match="finite"):
        batchnorm_forward(**forward_args(x=x))


def test_non_finite_x_in_inference_mode_raises():
    with pytest.raises(ValueError, match="finite"):
        BatchNorm(2).forward(np.array([[1.0, np.nan]]), train=False)


def test_x_whose_mean_overflows_raises():
    x = np.full((4, 3), np.finfo(np.float64).max / 2)
    with pytest.raises(ValueError, match="too large"):
        batchnorm_forward(**forward_args(x=x))


def test_x_whose_variance_overflows_raises():
    x = np.array([[1e20], [-1e20]], dtype=np.float32)
    with pytest.raises(ValueError, match="too large"):
        batchnorm_forward(x, np.ones(1), np.zeros(1))


def test_text_x_raises_type_error():
    with pytest.raises(TypeError, match="x must be a real"):
        batchnorm_forward(**forward_args(x=np.array([["a", "b", "c"]] * 2)))


def test_ragged_x_raises():
    with pytest.raises(ValueError, match="rectangular"):
        batchnorm_forward(**forward_args(x=[[1.0, 2.0, 3.0], [1.0]]))


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_parameter_of_wrong_length_raises(name):
    with pytest.raises(ValueError, match=rf"{name} must have shape \(3,\)"):
        batchnorm_forward(**forward_args(**{name: np.ones(4)}))


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_two_dimensional_parameter_raises(name):
    with pytest.raises(ValueError, match=rf"{name} must have shape \(3,\)"):
        batchnorm_forward(**forward_args(**{name: np.ones((1, 3))}))


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_non_finite_parameter_raises(name):
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        batchnorm_forward(**forward_args(**{name: np.array([1.0, np.nan, 1.0])}))


@pytest.mark.parametrize("eps", [0.0, -1e-5, np.inf, np.nan])
def test_non_positive_or_non_finite_eps_raises(eps):
    with pytest.raises(ValueError, match="eps"):
        batchnorm_forward(**forward_args(), eps=eps)


@pytest.mark.parametrize("eps", ["1e-5", None, np.ones(3)])
def test_non_number_eps_raises_type_error(eps):
    with pytest.raises(TypeError, match="eps"):
        batchnorm_forward(**forward_args(), eps=eps)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
@pytest.mark.parametrize("shape", [(4, 2), (3, 3), (4, 3, 1), (12,)])
def test_dout_of_wrong_shape_raises(backward, shape):
    _, cache = batchnorm_forward(**forward_args())
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 3\)"):
        backward(np.ones(shape), cache)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_dout_of_text_raises_type_error(backward):
    _, cache = batchnorm_forward(**forward_args())
    with pytest.raises(TypeError, match="dout"):
        backward(np.full((4, 3), "a"), cache)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_cache_of_wrong_type_raises_type_error(backward):
    x, gamma, beta, dout = random_batch(4, 3)
    with pytest.raises(TypeError, match="cache"):
        backward(dout, (x, gamma, beta))


def test_layer_dout_of_wrong_shape_raises():
    layer = BatchNorm(3)
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match="dout must have shape"):
        layer.backward(np.ones((3, 4)))


@pytest.mark.parametrize("train", [True, False])
def test_layer_x_of_wrong_width_raises_naming_x(train):
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        BatchNorm(3).forward(np.ones((4, 2)), train=train)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
@pytest.mark.parametrize("field", ["mean", "var", "inv_std", "gamma"])
def test_altered_cache_raises_naming_the_field(backward, field):
    x, gamma, beta, dout = random_batch(4, 3)
    _, cache = batchnorm_forward(x, gamma, beta)
    with pytest.raises(ValueError, match=f"cache.{field} must have shape"):
        backward(dout, cache._replace(**{field: np.ones(5)}))


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_dout_raises(backward, bad):
    x, gamma, beta, dout = random_batch(4, 3)
    _, cache = batchnorm_forward(x, gamma, beta)
    dout[1, 2] = bad
    with pytest.raises(ValueError, match="dout must be finite"):
        backward(dout, cache)


@pytest.mark.parametrize(
    ("name", "value", "word"),
    [
        ("running_var", np.ones(4), "shape"),
        ("running_mean", np.ones(2), "shape"),
        ("running_var", np.array([1.0, -0.5, 1.0]), "non-negative"),
        ("running_mean", np.array([0.0, np.nan, 0.0]), "finite"),
    ],
)
def test_layer_bad_running_statistics_raise_in_inference(name, value, word):
    layer = BatchNorm(3)
    setattr(layer, name, value)
    with pytest.raises(ValueError, match=f"{name} must .*{word}"):
        layer.forward(np.ones((4, 3)), train=False)


@pytest.mark.parametrize("size", [0, -2])
def test_layer_non_positive_size_raises(size):
    with pytest.raises(ValueError, match="D must be a positive integer"):
        BatchNorm(size)


@pytest.mark.parametrize("size", [2.0, "3", True])
def test_layer_non_integer_size_raises_type_error(size):
    with pytest.raises(TypeError, match="D must be a positive integer"):
        BatchNorm(size)


@pytest.mark.parametrize("momentum", [-0.1, 1.5])
def test_layer_momentum_outside_unit_interval_raises(momentum):
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(3, momentum=momentum)


def test_layer_non_positive_eps_raises():
    with pytest.raises(ValueError, match="eps"):
        BatchNorm(3, eps=0.0)


def test_layer_non_bool_train_raises_type_error():
    with pytest.raises(TypeError, match="train"):
        BatchNorm(3).forward(np.ones((4, 3)), train="no")


# --- the edges of issue 15 --------------------------------------------------------------------


def masked(shape):
    return np.ma.masked_array(np.ones(shape), mask=np.ones(shape, dtype=bool))


@pytest.mark.parametrize("name", ["x", "gamma", "beta"])
def test_forward_refuses_a_masked_argument(name):
    arguments = dict(zip(("x", "gamma", "beta"), random_batch(4, 3)[:3], strict=True))
    arguments[name] = masked(arguments[name].shape)
    with pytest.raises(TypeError, match=f"^{name} must not be a masked array"):
        batchnorm_forward(**arguments)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_backward_refuses_a_masked_dout(backward):
    x, gamma, beta, dout = random_batch(4, 3)
    _, cache = batchnorm_forward(x, gamma, beta)
    with pytest.raises(TypeError, match="dout must not be a masked array"):
        backward(masked(dout.shape), cache)


@pytest.mark.parametrize("train", [True, False])
def test_layer_refuses_a_masked_x_and_dout(train):
    layer = BatchNorm(3)
    with pytest.raises(TypeError, match="x must not be a masked array"):
        layer.forward(masked((4, 3)), train=train)
    layer.forward(np.arange(12.0).reshape(4, 3), train=train)
    with pytest.raises(TypeError, match="dout must not be a masked array"):
        layer.backward(masked((4, 3)))


@pytest.mark.parametrize("name", ["gamma", "beta", "running_mean", "running_var"])
def test_layer_refuses_a_masked_attribute(name):
    layer = BatchNorm(3)
    setattr(layer, name, masked(3))
    with pytest.raises(TypeError, match=f"{name} must not be a masked array"):
        layer.forward(np.ones((4, 3)), train=False)


@pytest.mark.parametrize("eps", [1e-50, 1e39])
def test_float32_eps_that_float32_cannot_hold_raises_naming_eps(eps):
    # 1e-50 rounded to 0 in float32, and a constant column came out NaN
    x = np.array([[1.0, 2.0], [1.0, 3.0]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"eps = \S+ is (0|infinite) in float32"):
        batchnorm_forward(x, np.ones(2), np.zeros(2), eps=eps)
    with pytest.raises(ValueError, match="eps = .* in float32"):
        BatchNorm(2, eps=eps).forward(x)


def test_float64_holds_a_tiny_eps_and_a_constant_column_gives_beta():
    x = np.array([[1.0, 2.0], [1.0, 3.0]])
    out, _ = batchnorm_forward(x, np.ones(2), np.array([0.5, 0.0]), eps=1e-50)
    np.testing.assert_allclose(out, [[0.5, -1.0], [0.5, 1.0]])


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_float32_parameter_beyond_float32_raises_naming_it(name):
    x, gamma, beta, _ = random_batch(4, 3, dtype=np.float32)
    parameters = {"gamma": gamma.astype(np.float64), "beta": beta.astype(np.float64)}
    parameters[name][1] = 1e39
    with pytest.raises(ValueError, match=f"^{name} holds values beyond the range of float32"):
        batchnorm_forward(x, **parameters)


@pytest.mark.parametrize("name", ["running_mean", "running_var"])
def test_float32_inference_with_a_running_statistic_beyond_float32_raises_naming_it(name):
    # a running variance of 1e40 became infinity in float32, and the output beta
    layer = BatchNorm(2)
    setattr(layer, name, np.array([1.0, 1e40]))
    with pytest.raises(ValueError, match=f"^{name} holds values beyond the range of float32"):
        layer.forward(np.array([[1e30, 2.0]], dtype=np.float32), train=False)


def test_float64_inference_holds_a_running_variance_of_1e40():
    layer = BatchNorm(2)
    layer.running_var = np.array([1.0, 1e40])
    out = layer.forward(np.array([[1e30, 2.0]]), train=False)
    np.testing.assert_allclose(out, [[1e30 / np.sqrt(1.0 + 1e-5), 2e-20]], rtol=1e-12)


def test_training_output_that_overflows_raises_naming_gamma():
    # gamma * inv_std overflowed for a constant column: 0 * inf gave NaN
    x = np.array([[0.0, 1.0], [0.0, -1.0]])
    with pytest.raises(ValueError, match="gamma or beta is too large"):
        batchnorm_forward(x, np.full(2, 1e308), np.zeros(2), eps=1e-300)


def test_training_output_near_the_largest_float_is_still_computed():
    x = np.array([[0.0], [2.0]])
    out, _ = batchnorm_forward(x, np.array([1e308]), np.zeros(1), eps=1e-300)
    np.testing.assert_allclose(out, [[-1e308], [1e308]])


def test_inference_output_that_overflows_raises_naming_x():
    layer = BatchNorm(1)
    layer.running_var = np.zeros(1)
    with pytest.raises(ValueError, match="x is too far from running_mean"):
        layer.forward(np.array([[1e306]]), train=False)


@pytest.mark.parametrize("train", [True, False])
def test_layer_attributes_set_by_hand_as_lists_work_like_arrays(train):
    x = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, -1.0]])
    by_hand, reference = BatchNorm(2), BatchNorm(2)
    values = {"gamma": [1.5, 0.5], "beta": [0.1, -0.2], "running_mean": [1.0, 2.0]}
    values["running_var"] = [4.0, 0.25]
    for name, value in values.items():
        setattr(by_hand, name, value)  # it raised AttributeError or TypeError
        setattr(reference, name, np.array(value))
    np.testing.assert_array_equal(by_hand.forward(x, train), reference.forward(x, train))
    dout = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]])
    np.testing.assert_array_equal(by_hand.backward(dout), reference.backward(dout))
    np.testing.assert_array_equal(by_hand.running_mean, reference.running_mean)
    np.testing.assert_array_equal(by_hand.running_var, reference.running_var)


@pytest.mark.parametrize(
    ("name", "value", "error", "message"),
    [
        ("momentum", 2.0, ValueError, "momentum must be in"),
        ("momentum", "0.9", TypeError, "momentum must be a number"),
        ("eps", 0.0, ValueError, "eps must be a positive"),
        ("eps", "1e-5", TypeError, "eps must be a positive"),
        ("gamma", 3.0, ValueError, "gamma must have shape"),
        ("beta", [1.0, 2.0, 3.0], ValueError, "beta must have shape"),
        ("running_mean", [[1.0], [2.0, 3.0]], ValueError, "running_mean must be a rectangular"),
        ("running_var", ["a", "b"], TypeError, "running_var must be a real"),
        ("running_var", [1.0, -1.0], ValueError, "running_var must be non-negative"),
    ],
)
@pytest.mark.parametrize("train", [True, False])
def test_layer_attribute_set_by_hand_that_does_not_fit_raises_naming_it(
    name, value, error, message, train
):
    layer = BatchNorm(2)
    setattr(layer, name, value)
    with pytest.raises(error, match=message):
        layer.forward(np.array([[1.0, 2.0], [3.0, 5.0]]), train=train)


@pytest.mark.parametrize("train", [True, False])
def test_layer_ragged_x_raises_naming_x(train):
    # np.shape gave NumPy's "inhomogeneous shape" error
    with pytest.raises(ValueError, match="x must be a rectangular"):
        BatchNorm(2).forward([[1.0, 2.0], [3.0]], train=train)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"eps": -1e-5}, ValueError, "cache.eps must be a positive"),
        ({"eps": 0.0}, ValueError, "cache.eps must be a positive"),
        ({"eps": "1e-5"}, TypeError, "cache.eps must be a positive real number"),
        ({"eps": True}, TypeError, "cache.eps must be a positive real number"),
        ({"x": np.arange(12).reshape(4, 3)}, TypeError, "cache.x must be a float32 or float64"),
        ({"var": -np.ones(3)}, ValueError, "cache.var must be non-negative"),
        ({"inv_std": np.array([1.0, np.nan, 1.0])}, ValueError, "cache.inv_std must be finite"),
        ({"gamma": np.array(["a", "b", "c"])}, TypeError, "cache.gamma must be a real"),
        ({"mean": masked(3)}, TypeError, "cache.mean must not be a masked array"),
    ],
)
def test_altered_cache_is_refused_naming_the_field(backward, change, error, message):
    x, gamma, beta, dout = random_batch(4, 3)
    _, cache = batchnorm_forward(x, gamma, beta)
    with pytest.raises(error, match=message):
        backward(dout, cache._replace(**change))


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_float32_cache_with_a_dout_beyond_float32_raises_naming_dout(backward):
    x, gamma, beta, dout = random_batch(4, 3, dtype=np.float32)
    _, cache = batchnorm_forward(x, gamma, beta)
    dout = dout.astype(np.float64)
    dout[0, 0] = 1e39
    with pytest.raises(ValueError, match="dout holds values beyond the range of float32"):
        backward(dout, cache)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_dout_whose_column_sums_overflow_raises_saying_so(backward):
    # the message said "dout must be finite: found NaN or infinity" for a finite dout
    x, gamma, beta, _ = random_batch(4, 3)
    _, cache = batchnorm_forward(x, gamma, beta)
    dout = np.full((4, 3), 1e308)
    with pytest.raises(ValueError, match="dout is too large: its column sums overflow"):
        backward(dout, cache)


@pytest.mark.parametrize("backward", BACKWARDS, ids=BACKWARD_IDS)
def test_dout_whose_dgamma_overflows_raises_saying_so(backward):
    # the column sums of dout are 0, sum(dout * xhat) is about 1.7e308 * 2.4: infinity
    x = np.array([[-1.0], [0.0], [1.0], [0.0]])
    _, cache = batchnorm_forward(x, np.ones(1), np.zeros(1))
    dout = np.array([[-1.7e308], [0.0], [1.7e308], [0.0]])
    with pytest.raises(ValueError, match=r"dout is too large: dgamma = sum\(dout \* xhat\)"):
        backward(dout, cache)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_layer_inference_backward_refuses_a_dout_that_is_not_finite(bad):
    # NaN went straight into dx, dgamma and dbeta
    layer = BatchNorm(2)
    layer.forward(np.ones((3, 2)), train=False)
    dout = np.ones((3, 2))
    dout[0, 1] = bad
    with pytest.raises(ValueError, match="dout must be finite"):
        layer.backward(dout)


def test_layer_inference_backward_whose_dx_overflows_raises():
    layer = BatchNorm(1)
    layer.running_var = np.zeros(1)
    layer.eps = 1e-300
    layer.forward(np.zeros((2, 1)), train=False)
    with pytest.raises(ValueError, match="dout is too large: dx = dout"):
        layer.backward(np.array([[1e200], [0.0]]))
