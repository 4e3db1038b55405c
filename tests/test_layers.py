"""Tests of backprop_utils.layers: the affine and ReLU layers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop_utils.gradcheck import numerical_gradient_array
from backprop_utils.layers import (
    AffineCache,
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
)


def affine_problem(x_shape, n_outputs, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    n_inputs = int(np.prod(x_shape[1:]))
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((n_inputs, n_outputs))
    b = rng.standard_normal(n_outputs)
    dout = rng.standard_normal((x_shape[0], n_outputs))
    return tuple(a.astype(dtype) for a in (x, w, b, dout))


x_shapes = st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple)


# --- affine -----------------------------------------------------------------------------


def test_affine_forward_on_a_small_example():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])
    b = np.array([0.0, 1.0, 2.0])
    out, _ = affine_forward(x, w, b)
    np.testing.assert_array_equal(out, [[2.0, 5.0, 1.0], [5.0, 9.0, -1.0]])


def test_affine_forward_flattens_each_sample():
    x, w, b, _ = affine_problem((3, 2, 4), 5)
    out, _ = affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(3, 8) @ w + b, rtol=1e-14)


@given(x_shape=x_shapes, n_outputs=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_affine_backward_matches_finite_differences(x_shape, n_outputs, seed):
    x, w, b, dout = affine_problem(x_shape, n_outputs, seed)
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    num_dx = numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout)
    num_dw = numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout)
    num_db = numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout)
    np.testing.assert_allclose(dx, num_dx, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(dw, num_dw, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(db, num_db, rtol=1e-7, atol=1e-9)


def test_affine_float32_input_gives_float32_output_and_gradients():
    x, w, b, dout = affine_problem((4, 3), 2, dtype=np.float32)
    out, cache = affine_forward(x, w.astype(np.float64), b)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in affine_backward(dout, cache))


def test_affine_integer_input_is_computed_in_float64():
    out, cache = affine_forward(np.array([[1, 2]]), np.array([[1], [1]]), np.array([0]))
    assert out.dtype == np.float64
    assert affine_backward(np.array([[1]]), cache)[0].dtype == np.float64


def test_affine_does_not_modify_its_inputs():
    x, w, b, dout = affine_problem((3, 4), 2)
    before = [a.copy() for a in (x, w, b, dout)]
    _, cache = affine_forward(x, w, b)
    affine_backward(dout, cache)
    for array, copy in zip((x, w, b, dout), before, strict=True):
        np.testing.assert_array_equal(array, copy)


def test_affine_one_dimensional_x_raises():
    with pytest.raises(ValueError, match="x must have shape"):
        affine_forward(np.ones(3), np.ones((3, 2)), np.ones(2))


def test_affine_empty_batch_raises():
    with pytest.raises(ValueError, match="empty"):
        affine_forward(np.ones((0, 3)), np.ones((3, 2)), np.ones(2))


def test_affine_weights_that_do_not_chain_raise():
    with pytest.raises(ValueError, match=r"w must have shape \(6, any\)"):
        affine_forward(np.ones((2, 2, 3)), np.ones((5, 2)), np.ones(2))


def test_affine_one_dimensional_weights_raise():
    with pytest.raises(ValueError, match=r"w must have shape"):
        affine_forward(np.ones((2, 3)), np.ones(3), np.ones(1))


def test_affine_bias_of_wrong_length_raises():
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        affine_forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(3))


@pytest.mark.parametrize("name", ["x", "w", "b"])
def test_affine_non_finite_argument_raises(name):
    args = {"x": np.ones((2, 3)), "w": np.ones((3, 2)), "b": np.ones(2)}
    args[name] = args[name].copy()
    args[name].flat[0] = np.nan
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        affine_forward(**args)


def test_affine_text_argument_raises_type_error():
    with pytest.raises(TypeError, match="w must be a real"):
        affine_forward(np.ones((2, 3)), np.full((3, 2), "a"), np.ones(2))


def test_affine_dout_of_wrong_shape_raises():
    _, cache = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.ones(4))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4\)"):
        affine_backward(np.ones((4, 2)), cache)


def test_affine_cache_of_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="cache"):
        affine_backward(np.ones((2, 4)), (np.ones((2, 3)), np.ones((3, 4)), np.ones(4)))


def test_affine_dout_error_names_the_cache_it_was_checked_against():
    _, cache = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.ones(4))
    with pytest.raises(ValueError, match=r"\(N, M\) from cache.x \(2, 3\) and cache.w \(3, 4\)"):
        affine_backward(np.ones((2, 5)), cache)


def test_affine_cache_whose_weights_do_not_chain_with_x_raises():
    # once "cannot reshape array of size 6 into shape (2,5)"
    cache = AffineCache(np.ones((2, 5)), np.ones((3, 4)), np.ones(4))
    with pytest.raises(ValueError, match=r"cache.w must have shape \(5, any\)"):
        affine_backward(np.ones((2, 4)), cache)


def test_affine_cache_whose_bias_does_not_chain_with_w_raises():
    cache = AffineCache(np.ones((2, 3)), np.ones((3, 4)), np.ones(5))
    with pytest.raises(ValueError, match=r"cache.b must have shape \(4,\)"):
        affine_backward(np.ones((2, 4)), cache)


def test_affine_cache_with_one_dimensional_x_raises():
    cache = AffineCache(np.ones(3), np.ones((3, 4)), np.ones(4))
    with pytest.raises(ValueError, match=r"cache.x must have shape \(N, d_1"):
        affine_backward(np.ones((2, 4)), cache)


def test_affine_cache_with_one_dimensional_w_raises():
    cache = AffineCache(np.ones((2, 3)), np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"cache.w must have shape \(3, any\)"):
        affine_backward(np.ones((2, 4)), cache)


def test_affine_cache_holding_text_raises_type_error():
    cache = AffineCache(np.full((2, 3), "a"), np.ones((3, 4)), np.ones(4))
    with pytest.raises(TypeError, match="cache.x must be a real"):
        affine_backward(np.ones((2, 4)), cache)


def test_affine_cache_built_by_hand_gives_gradients_in_the_dtype_of_x():
    x, w, b, dout = affine_problem((3, 2), 4, seed=5)
    cache = AffineCache(x.astype(np.float32), w, b.tolist())  # w float64, b a list
    grads = affine_backward(dout, cache)
    assert all(g.dtype == np.float32 for g in grads)
    _, real_cache = affine_forward(x.astype(np.float32), w, b)
    for got, expected in zip(grads, affine_backward(dout, real_cache), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_affine_cache_is_named():
    x, w, b, _ = affine_problem((2, 3), 4)
    _, cache = affine_forward(x, w, b)
    assert isinstance(cache, AffineCache)
    assert cache.x is x and cache.w is w and cache.b is b


# --- ReLU -------------------------------------------------------------------------------


def test_relu_forward_clips_negatives():
    out, _ = relu_forward(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(out, [[0.0, 0.0, 3.0]])


@given(shape=x_shapes, seed=st.integers(0, 2**16))
def test_relu_backward_matches_finite_differences_away_from_zero(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5  # keep the probes off the kink
    dout = rng.standard_normal(shape)
    _, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    numerical = numerical_gradient_array(lambda v: relu_forward(v)[0], x, dout)
    np.testing.assert_allclose(dx, numerical, rtol=1e-9, atol=1e-10)


def test_relu_gradient_at_zero_is_zero():
    _, cache = relu_forward(np.array([0.0, 1.0]))
    np.testing.assert_array_equal(relu_backward(np.array([5.0, 5.0]), cache), [0.0, 5.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_preserves_float_dtype(dtype):
    out, cache = relu_forward(np.array([-1.0, 2.0], dtype=dtype))
    assert out.dtype == dtype
    assert relu_backward(np.array([1.0, 1.0]), cache).dtype == dtype


def test_relu_integer_input_is_computed_in_float64():
    out, _ = relu_forward(np.array([-1, 2]))
    assert out.dtype == np.float64


def test_relu_does_not_modify_its_inputs():
    x = np.array([-1.0, 2.0])
    dout = np.array([3.0, 4.0])
    _, cache = relu_forward(x)
    relu_backward(dout, cache)
    np.testing.assert_array_equal(x, [-1.0, 2.0])
    np.testing.assert_array_equal(dout, [3.0, 4.0])


def test_relu_text_input_raises_type_error():
    with pytest.raises(TypeError, match="x must be a real"):
        relu_forward(np.array(["a"]))


def test_relu_dout_of_wrong_shape_raises():
    _, cache = relu_forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\)"):
        relu_backward(np.ones((3, 2)), cache)


def test_relu_cache_of_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="cache"):
        relu_backward(np.ones(2), [1.0, 2.0])


def test_relu_gradient_is_not_truncated_by_an_integer_cache():
    # once [0 0]: dout was cast to the cache's integer dtype
    dx = relu_backward(np.array([0.5, 0.5]), np.array([1, 1]))
    assert dx.dtype == np.float64
    np.testing.assert_array_equal(dx, [0.5, 0.5])


def test_relu_float16_cache_gives_float64_gradient():
    dx = relu_backward(np.array([0.1, 0.1]), np.array([-1.0, 1.0], dtype=np.float16))
    assert dx.dtype == np.float64
    np.testing.assert_array_equal(dx, [0.0, 0.1])


def test_relu_float32_cache_gives_float32_gradient_for_float64_dout():
    dx = relu_backward(np.array([0.1, 0.1]), np.array([-1.0, 1.0], dtype=np.float32))
    assert dx.dtype == np.float32
    np.testing.assert_array_equal(dx, np.array([0.0, 0.1], dtype=np.float32))


@pytest.mark.parametrize(
    "cache",
    [
        np.array([True, True]),
        np.array(["a", "b"]),
        np.array([1j, 1j]),
        np.array([1.0, 2.0], object),
    ],
    ids=["bool", "text", "complex", "object"],
)
def test_relu_cache_that_is_not_real_numbers_raises_type_error(cache):
    with pytest.raises(TypeError, match="cache must be a real"):
        relu_backward(np.array([0.5, 0.5]), cache)


def test_relu_dout_shape_error_names_the_cache():
    _, cache = relu_forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="the shape of cache"):
        relu_backward(np.ones(6), cache)


# --- masked arrays and values float32 cannot hold (issue 15) --------------------------------


def masked(shape):
    return np.ma.masked_array(np.ones(shape), mask=np.ones(shape, dtype=bool))


@pytest.mark.parametrize("name", ["x", "w", "b"])
def test_affine_forward_refuses_a_masked_argument(name):
    arguments = {"x": np.ones((2, 3)), "w": np.ones((3, 4)), "b": np.ones(4)}
    arguments[name] = masked(arguments[name].shape)
    with pytest.raises(TypeError, match=f"^{name} must not be a masked array"):
        affine_forward(**arguments)


def test_affine_backward_refuses_a_masked_dout():
    _, cache = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.ones(4))
    with pytest.raises(TypeError, match="dout must not be a masked array"):
        affine_backward(masked((2, 4)), cache)


@pytest.mark.parametrize("field", ["x", "w", "b"])
def test_affine_backward_refuses_a_masked_cache_field(field):
    _, cache = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.ones(4))
    cache = cache._replace(**{field: masked(getattr(cache, field).shape)})
    with pytest.raises(TypeError, match=f"cache.{field} must not be a masked array"):
        affine_backward(np.ones((2, 4)), cache)


def test_relu_forward_refuses_a_masked_x():
    with pytest.raises(TypeError, match="x must not be a masked array"):
        relu_forward(masked((2, 2)))


def test_relu_backward_refuses_a_masked_dout_or_cache():
    _, cache = relu_forward(np.ones((2, 2)))
    with pytest.raises(TypeError, match="dout must not be a masked array"):
        relu_backward(masked((2, 2)), cache)
    with pytest.raises(TypeError, match="cache must not be a masked array"):
        relu_backward(np.ones((2, 2)), masked((2, 2)))


@pytest.mark.parametrize("name", ["w", "b"])
def test_affine_parameter_beyond_float32_with_float32_x_raises(name):
    # cast to the float32 of x, 1e39 became infinity and the message said "must be finite"
    arguments = {"x": np.ones((2, 3), np.float32), "w": np.ones((3, 4)), "b": np.ones(4)}
    arguments[name] = np.full_like(arguments[name], 1e39)
    with pytest.raises(ValueError, match=f"^{name} holds values beyond the range of float32"):
        affine_forward(**arguments)


def test_affine_dout_beyond_float32_with_a_float32_cache_raises():
    _, cache = affine_forward(np.ones((2, 3), np.float32), np.ones((3, 4)), np.ones(4))
    with pytest.raises(ValueError, match="dout holds values beyond the range of float32"):
        affine_backward(np.full((2, 4), -1e39), cache)


def test_relu_dout_beyond_float32_with_a_float32_cache_raises():
    # silently infinite before: 1e39 does not fit the float32 gradient
    _, cache = relu_forward(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="dout holds values beyond the range of float32"):
        relu_backward(np.array([1.0, 1e39, 1.0]), cache)


def test_relu_infinite_dout_with_a_float32_cache_is_still_allowed():
    _, cache = relu_forward(np.ones(2, np.float32))
    assert relu_backward(np.array([np.inf, 1.0]), cache).tolist() == [np.inf, 1.0]


def test_relu_of_a_long_double_beyond_float64_raises():
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 on this platform")
    with pytest.raises(ValueError, match="x holds values beyond the range of float64"):
        relu_forward(np.array([np.longdouble("1e400")]))


def test_affine_forward_whose_output_overflows_raises_naming_the_arguments():
    # 1e300 * 1e10 - 1e300 * 1e10 was inf - inf: NaN, returned in silence
    x, w = np.array([[1e300, 1e300]]), np.array([[1e10], [-1e10]])
    with pytest.raises(ValueError, match=r"out = x @ w \+ b overflows float64: x, w or b"):
        affine_forward(x, w, np.zeros(1))


def test_affine_forward_near_the_largest_float_is_still_computed():
    out, _ = affine_forward(np.array([[1e300, 2.0]]), np.array([[1.5], [1.0]]), np.ones(1))
    assert out.tolist() == [[1.5e300]]


def test_affine_backward_whose_gradient_overflows_raises_naming_dout():
    _, cache = affine_forward(np.zeros((1, 2)), np.full((2, 3), 1e308), np.zeros(3))
    with pytest.raises(ValueError, match=r"dx = dout @ w.T overflows float64: dout or cache.w"):
        affine_backward(np.ones((1, 3)), cache)
    _, cache = affine_forward(np.full((3, 1), 1e308), np.ones((1, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"dw = x.T @ dout overflows float64: dout or cache.x"):
        affine_backward(np.ones((3, 2)), cache)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_affine_backward_refuses_a_dout_that_is_not_finite(bad):
    # NaN and infinity went straight into the gradients
    _, cache = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.ones(4))
    dout = np.ones((2, 4))
    dout[1, 2] = bad
    with pytest.raises(ValueError, match="dout must be finite"):
        affine_backward(dout, cache)
