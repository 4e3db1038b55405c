"""Tests of backprop_utils.gradcheck: centred differences, relative error, sparse checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop_utils.gradcheck import (
    grad_check_sparse,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
)

finite_floats = st.floats(-10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False)
small_vectors = arrays(np.float64, st.integers(1, 6), elements=finite_floats)


def quadratic(matrix, vector):
    """f(x) = x^T A x / 2 + b^T x and its gradient (A + A^T) x / 2 + b."""

    def f(x):
        return 0.5 * x @ matrix @ x + vector @ x

    def grad(x):
        return 0.5 * (matrix + matrix.T) @ x + vector

    return f, grad


# numerical_gradient ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 6))
def test_centred_difference_is_exact_on_quadratics_even_for_a_large_step(seed, size):
    rng = np.random.default_rng(seed)
    matrix, vector, x = rng.normal(size=(size, size)), rng.normal(size=size), rng.normal(size=size)
    f, grad = quadratic(matrix, vector)
    # A quadratic has no third derivative, so the truncation error is zero for any h.
    np.testing.assert_allclose(numerical_gradient(f, x, h=0.5), grad(x), rtol=1e-10, atol=1e-10)


def test_one_sided_difference_would_not_be_exact_on_a_quadratic():
    # Guards the test above: a forward difference has error h/2 * f'' on x^2, so it would fail.
    x = np.array([1.0])
    forward = ((x[0] + 0.5) ** 2 - x[0] ** 2) / 0.5
    assert abs(forward - 2.0) > 0.1
    assert numerical_gradient(lambda v: v[0] ** 2, x, h=0.5)[0] == pytest.approx(2.0, abs=1e-12)


@pytest.mark.parametrize("h", [1e-2, 4e-3, 1e-3])
def test_error_is_second_order_so_halving_h_quarters_it(h):
    x = np.array([0.3, -0.7, 1.1])

    def f(v):
        return np.sum(np.exp(v) + np.sin(3 * v))

    exact = np.exp(x) + 3 * np.cos(3 * x)
    error_h = np.abs(numerical_gradient(f, x, h=h) - exact)
    error_half = np.abs(numerical_gradient(f, x, h=h / 2) - exact)
    np.testing.assert_allclose(error_h / error_half, 4.0, rtol=0.05)


def test_error_matches_the_taylor_term_h_squared_over_six():
    x = np.array([0.2])
    h = 1e-2
    error = numerical_gradient(lambda v: np.exp(v[0]), x, h=h)[0] - np.exp(0.2)
    assert error == pytest.approx(h**2 / 6 * np.exp(0.2), rel=1e-3)


@settings(max_examples=30, deadline=None)
@given(x=small_vectors)
def test_x_is_unchanged_bit_for_bit(x):
    before = x.copy()
    numerical_gradient(lambda v: np.sum(np.tanh(v) * v), x, h=1e-3)
    np.testing.assert_array_equal(x, before)


def test_x_is_restored_when_f_raises_mid_probe():
    x = np.array([1.0, 2.0, 3.0])
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return float(np.sum(v))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)


def test_a_function_closing_over_x_sees_the_probes():
    weights = np.array([0.5, -1.5])
    gradient = numerical_gradient(lambda _: float(np.sum(weights**3)), weights)
    np.testing.assert_allclose(gradient, 3 * weights**2, rtol=1e-8)


def test_gradient_has_the_shape_of_x_for_a_matrix():
    x = np.arange(6.0).reshape(2, 3)
    gradient = numerical_gradient(lambda v: np.sum(v**2), x)
    assert gradient.shape == (2, 3)
    np.testing.assert_allclose(gradient, 2 * x, atol=1e-8)


def test_gradient_is_float64_for_float32_x():
    x = np.array([1.0, 2.0], dtype=np.float32)
    gradient = numerical_gradient(lambda v: float(np.sum(v**2)), x, h=1e-2)
    assert gradient.dtype == np.float64
    assert x.dtype == np.float32


def test_empty_x_gives_an_empty_gradient():
    gradient = numerical_gradient(lambda v: 0.0, np.zeros((0, 3)))
    assert gradient.shape == (0, 3)


# numerical_gradient_array ---------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 5), cols=st.integers(1, 5))
def test_array_gradient_of_a_linear_map_is_transpose_times_dout(seed, rows, cols):
    rng = np.random.default_rng(seed)
    matrix, x, dout = rng.normal(size=(rows, cols)), rng.normal(size=cols), rng.normal(size=rows)
    gradient = numerical_gradient_array(lambda v: matrix @ v, x, dout)
    np.testing.assert_allclose(gradient, matrix.T @ dout, rtol=1e-7, atol=1e-8)


def test_array_gradient_equals_scalar_gradient_of_the_weighted_sum():
    rng = np.random.default_rng(1)
    x, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    by_array = numerical_gradient_array(np.tanh, x, dout)
    by_scalar = numerical_gradient(lambda v: np.sum(np.tanh(v) * dout), x)
    np.testing.assert_allclose(by_array, by_scalar, rtol=1e-9, atol=1e-12)


def test_array_gradient_is_right_when_f_returns_a_view_of_x():
    x, dout = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(numerical_gradient_array(lambda v: v, x, dout), dout, rtol=1e-9)


def test_array_gradient_leaves_x_unchanged_when_f_raises():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return v * 2

    with pytest.raises(RuntimeError):
        numerical_gradient_array(f, x, np.ones((2, 2)))
    np.testing.assert_array_equal(x, before)


# rel_error ------------------------------------------------------------------------------------


def test_rel_error_of_a_known_pair():
    assert rel_error(1.0, 3.0) == pytest.approx(0.5)
    assert rel_error([1.0, 10.0], [1.0, 11.0]) == pytest.approx(1 / 21)


@settings(max_examples=50, deadline=None)
@given(a=small_vectors, data=st.data())
def test_rel_error_is_symmetric_and_between_zero_and_one(a, data):
    b = data.draw(arrays(np.float64, a.shape, elements=finite_floats))
    error = rel_error(a, b)
    assert error == rel_error(b, a)
    assert 0.0 <= error <= 1.0


@settings(max_examples=50, deadline=None)
@given(a=small_vectors)
def test_rel_error_is_zero_for_equal_arrays(a):
    assert rel_error(a, a.copy()) == 0.0


@settings(max_examples=50, deadline=None)
@given(a=small_vectors, data=st.data())
def test_rel_error_is_positive_for_different_arrays(a, data):
    b = data.draw(arrays(np.float64, a.shape, elements=finite_floats))
    if not np.array_equal(a, b):
        assert rel_error(a, b) > 0.0


@settings(max_examples=50, deadline=None)
@given(scale=st.floats(1e-3, 1e3))
def test_rel_error_is_scale_invariant_away_from_zero(scale):
    a, b = np.array([1.0, -2.0, 3.0]), np.array([1.1, -2.0, 2.5])
    assert rel_error(scale * a, scale * b) == pytest.approx(rel_error(a, b), rel=1e-12)


def test_rel_error_floor_keeps_tiny_values_from_dividing_by_zero():
    assert rel_error(0.0, 0.0) == 0.0
    assert rel_error(1e-12, 0.0) == pytest.approx(1e-4)


# grad_check_sparse ----------------------------------------------------------------------------


def test_sparse_check_passes_a_right_gradient():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 30))
    errors = grad_check_sparse(lambda v: np.sum(np.sin(v)), x, np.cos(x), num_checks=15)
    assert errors.shape == (15,)
    assert np.max(errors) < 1e-7


def test_sparse_check_flags_a_wrong_coordinate_when_it_probes_it():
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    wrong = 2 * x
    wrong[1, 2] += 1.0
    errors = grad_check_sparse(lambda v: np.sum(v**2), x, wrong, num_checks=x.size)
    assert np.sum(errors > 1e-2) == 1


def test_sparse_check_is_reproducible_for_a_seed_and_leaves_x_unchanged():
    rng = np.random.default_rng(3)
    x = rng.normal(size=50)
    before = x.copy()
    noisy_grad = np.cos(x) + rng.normal(scale=1e-3, size=50)
    first = grad_check_sparse(lambda v: np.sum(np.sin(v)), x, noisy_grad, num_checks=5, seed=7)
    second = grad_check_sparse(lambda v: np.sum(np.sin(v)), x, noisy_grad, num_checks=5, seed=7)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(x, before)


# bad arguments --------------------------------------------------------------------------------


def square_sum(v):
    return float(np.sum(v**2))


def test_f_not_callable_raises_type_error():
    with pytest.raises(TypeError, match="callable"):
        numerical_gradient(3.0, np.ones(2))


def test_x_as_a_list_raises_type_error():
    with pytest.raises(TypeError, match="floating-point"):
        numerical_gradient(square_sum, [1.0, 2.0])


def test_integer_x_raises_type_error():
    with pytest.raises(TypeError, match="floating-point"):
        numerical_gradient(square_sum, np.array([1, 2]))


def test_read_only_x_raises_value_error():
    x = np.ones(3)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        numerical_gradient(square_sum, x)


def test_non_finite_x_raises_value_error():
    with pytest.raises(ValueError, match="finite"):
        numerical_gradient(square_sum, np.array([1.0, np.nan]))


@pytest.mark.parametrize("h", [0.0, -1e-5, np.inf, np.nan])
def test_step_not_finite_and_positive_raises_value_error(h):
    with pytest.raises(ValueError, match="h must be"):
        numerical_gradient(square_sum, np.ones(2), h=h)


def test_step_of_the_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="h must be a real number"):
        numerical_gradient(square_sum, np.ones(2), h="0.001")


def test_f_returning_an_array_raises_value_error():
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda v: v * 2, np.ones(2))


def test_f_returning_a_complex_number_raises_type_error():
    with pytest.raises(TypeError, match="real"):
        numerical_gradient(lambda v: complex(np.sum(v)), np.ones(2))


def test_dout_of_the_wrong_shape_raises_value_error():
    with pytest.raises(ValueError, match="shape of f"):
        numerical_gradient_array(lambda v: v * 2, np.ones(3), np.ones(4))


def test_non_finite_dout_raises_value_error():
    with pytest.raises(ValueError, match="dout must be finite"):
        numerical_gradient_array(lambda v: v * 2, np.ones(2), np.array([1.0, np.inf]))


def test_non_numeric_dout_raises_type_error():
    with pytest.raises(TypeError, match="dout"):
        numerical_gradient_array(lambda v: v * 2, np.ones(2), ["a", "b"])


def test_rel_error_of_different_shapes_raises_value_error():
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.ones(3), np.ones((3, 1)))


def test_rel_error_of_empty_arrays_raises_value_error():
    with pytest.raises(ValueError, match="empty"):
        rel_error(np.ones(0), np.ones(0))


def test_rel_error_of_nan_raises_value_error():
    with pytest.raises(ValueError, match="finite"):
        rel_error(np.array([np.nan]), np.array([1.0]))


def test_rel_error_of_non_numbers_raises_type_error():
    with pytest.raises(TypeError, match="real numbers"):
        rel_error("abc", "abd")


def test_sparse_analytic_gradient_of_the_wrong_shape_raises_value_error():
    with pytest.raises(ValueError, match="analytic_grad"):
        grad_check_sparse(square_sum, np.ones(4), np.ones(3), num_checks=2)


@pytest.mark.parametrize("num_checks", [0, 5])
def test_sparse_num_checks_out_of_range_raises_value_error(num_checks):
    with pytest.raises(ValueError, match="num_checks"):
        grad_check_sparse(square_sum, np.ones(4), np.ones(4), num_checks=num_checks)


def test_sparse_num_checks_not_an_integer_raises_type_error():
    with pytest.raises(TypeError, match="num_checks"):
        grad_check_sparse(square_sum, np.ones(4), np.ones(4), num_checks=2.0)


@pytest.mark.parametrize(
    "bad",
    [np.array([1 + 5j]), np.array([True]), "1.0", np.array([1.0], dtype=object), None],
    ids=["complex", "bool", "text", "object", "none"],
)
@pytest.mark.parametrize("name", ["a", "b"])
def test_rel_error_refuses_what_is_not_real_numbers(name, bad):
    # each was once converted: 1+5j lost its imaginary part, "1.0" and True became 1.0
    args = {"a": np.array([1.0]), "b": np.array([1.0]), name: bad}
    with pytest.raises(TypeError, match=f"{name} must be an array of real numbers"):
        rel_error(**args)


def test_rel_error_of_complex_numbers_is_not_silently_zero():
    with pytest.raises(TypeError, match="complex"):
        rel_error(np.array([1 + 5j]), np.array([1.0]))


def test_rel_error_of_ragged_lists_raises_value_error():
    with pytest.raises(ValueError, match="a must be a rectangular"):
        rel_error([[1.0], [1.0, 2.0]], [1.0])


def test_rel_error_accepts_integers():
    assert rel_error(np.array([1, 3]), [1.0, 1.0]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "bad",
    [np.array([1j, 1j]), np.array([True, True]), np.array(["1", "1"])],
    ids=["complex", "bool", "text"],
)
def test_dout_that_is_not_real_numbers_raises_type_error(bad):
    with pytest.raises(TypeError, match="dout must be an array of real numbers"):
        numerical_gradient_array(lambda v: v * 2, np.ones(2), bad)


def test_ragged_dout_raises_value_error():
    with pytest.raises(ValueError, match="dout must be a rectangular"):
        numerical_gradient_array(lambda v: v * 2, np.ones(2), [[1.0], [1.0, 2.0]])


@pytest.mark.parametrize(
    "bad",
    [np.array([1 + 1j, 1.0]), np.array([True, True]), ["1", "1"]],
    ids=["complex", "bool", "text"],
)
def test_sparse_analytic_gradient_that_is_not_real_numbers_raises_type_error(bad):
    with pytest.raises(TypeError, match="analytic_grad must be an array of real numbers"):
        grad_check_sparse(square_sum, np.ones(2), bad, num_checks=1)


def test_sparse_non_finite_analytic_gradient_raises_value_error():
    with pytest.raises(ValueError, match="analytic_grad must be finite"):
        grad_check_sparse(square_sum, np.ones(2), [1.0, np.nan], num_checks=1)


def sum_of_squares_array(v):
    return v**2


@pytest.mark.parametrize(
    "check",
    [
        lambda x: numerical_gradient(square_sum, x),
        lambda x: numerical_gradient_array(sum_of_squares_array, x, np.ones(2)),
        lambda x: grad_check_sparse(square_sum, x, 2 * x, num_checks=1),
    ],
    ids=["numerical_gradient", "numerical_gradient_array", "grad_check_sparse"],
)
def test_float16_x_raises_type_error(check):
    # h = 1e-5 does not move a float16 1.0 at all: the gradient [2, 2] came out [0, 0]
    x = np.ones(2, dtype=np.float16)
    assert x[0] + np.float16(1e-5) == x[0]
    with pytest.raises(TypeError, match="x is float16, too coarse"):
        check(x)


def test_step_below_the_spacing_of_x_gives_zero_as_documented():
    # the round-off regime that chapter 2 plots: 1 + 1e-17 is 1 in float64
    assert numerical_gradient(square_sum, np.ones(2), h=1e-17).tolist() == [0.0, 0.0]


def test_f_returning_a_ragged_list_raises_value_error():
    with pytest.raises(ValueError, match="f must return a rectangular"):
        numerical_gradient_array(lambda v: [[1.0], [1.0, 2.0]], np.ones(2), np.ones(2))


def test_f_returning_none_raises_type_error():
    with pytest.raises(TypeError, match="f must return real numbers"):
        numerical_gradient_array(lambda v: None, np.ones(2), np.ones(2))


def test_an_error_raised_by_f_itself_passes_unchanged():
    def f(v):
        raise ValueError("f's own complaint")

    with pytest.raises(ValueError, match="f's own complaint"):
        numerical_gradient_array(f, np.ones(2), np.ones(2))


@pytest.mark.parametrize("seed", ["a", 1.5, True])
def test_sparse_seed_of_the_wrong_type_raises_type_error(seed):
    with pytest.raises(TypeError, match="seed must be an integer or None"):
        grad_check_sparse(square_sum, np.ones(4), np.ones(4) * 2, num_checks=2, seed=seed)


def test_sparse_negative_seed_raises_value_error():
    with pytest.raises(ValueError, match="seed must be >= 0"):
        grad_check_sparse(square_sum, np.ones(4), np.ones(4) * 2, num_checks=2, seed=-1)


def test_sparse_seed_none_and_numpy_integers_are_accepted():
    for seed in (None, np.int64(3)):
        errors = grad_check_sparse(square_sum, np.ones(4), np.full(4, 2.0), num_checks=2, seed=seed)
        assert np.max(errors) < 1e-7


# the edges of issue 15 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(1e308, -1e308, 1.0), (1e308, 1.5e308, 0.2), (-1.7e308, 1.7e308, 1.0)],
)
def test_rel_error_near_the_largest_float_does_not_overflow(a, b, expected):
    # |a| + |b| overflows: it gave nan for opposite signs and 0.0 for the same sign
    assert rel_error(a, b) == pytest.approx(expected, rel=1e-15)
    assert rel_error([1.0, a], [1.0, b]) == pytest.approx(expected, rel=1e-15)


@settings(max_examples=50, deadline=None)
@given(scale=st.floats(1e300, 1e308))
def test_rel_error_is_scale_invariant_up_to_the_largest_float(scale):
    a, b = np.array([-1.0, 0.5]), np.array([-0.8, 0.5])  # |a| + |b| overflows above 1e308 / 1.8
    assert rel_error(scale * a, scale * b) == pytest.approx(rel_error(a, b), rel=1e-12)


def test_sparse_check_near_the_largest_float_does_not_overflow():
    x = np.zeros(2)
    errors = grad_check_sparse(lambda v: 1e308 * v[0], x, [1.5e308, 0.0], num_checks=2, h=1.0)
    # coordinate 0: numeric 1e308 against 1.5e308; coordinate 1: 0 against 0
    assert sorted(errors.tolist()) == pytest.approx([0.0, 0.2], rel=1e-12)


def test_float32_gradient_divides_by_the_step_actually_taken():
    # 1 + 1e-5 is stored as 1.0000100136 in float32; over 2h the gradient was 2.0027
    x = np.ones(3, dtype=np.float32)
    gradient = numerical_gradient(lambda v: float(np.sum(v.astype(np.float64) ** 2)), x)
    np.testing.assert_allclose(gradient, 2.0, rtol=1e-12)


def test_float32_array_gradient_divides_by_the_step_actually_taken():
    x = np.ones(2, dtype=np.float32)
    gradient = numerical_gradient_array(lambda v: v.astype(np.float64) ** 2, x, np.ones(2))
    np.testing.assert_allclose(gradient, 2.0, rtol=1e-12)


def test_float32_sparse_check_divides_by_the_step_actually_taken():
    x = np.ones(2, dtype=np.float32)
    errors = grad_check_sparse(
        lambda v: float(np.sum(v.astype(np.float64) ** 2)), x, [2.0, 2.0], num_checks=2
    )
    assert errors.max() < 1e-12


def test_a_step_lost_on_one_side_only_is_divided_by_what_was_taken():
    # below 1 the float64 spacing is half that above: 1 + 1.1e-16 rounds to 1, 1 - 1.1e-16 not
    h = 1.1e-16
    assert 1.0 + h == 1.0 and 1.0 - h < 1.0
    gradient = numerical_gradient(lambda v: 2.0 * v[0], np.ones(1), h=h)  # exact products
    assert gradient[0] == 2.0  # over 2h it came out 1.009


def test_a_difference_of_f_beyond_the_largest_float_is_halved_not_infinite():
    # f(x + h) - f(x - h) = 2e308 overflows, the quotient 1e308 does not
    gradient = numerical_gradient(lambda v: 1e308 * v[0], np.zeros(1), h=1.0)
    assert gradient[0] == pytest.approx(1e308, rel=1e-12)
    array_gradient = numerical_gradient_array(lambda v: 1e308 * v, np.zeros(2), [1.5, 1.0], h=1.0)
    np.testing.assert_allclose(array_gradient, [1.5e308, 1e308], rtol=1e-12)


@pytest.mark.parametrize(
    "check",
    [
        lambda f, x: numerical_gradient(f, x, h=1e-6),
        lambda f, x: numerical_gradient_array(lambda v: np.array([f(v)]), x, [1.0], h=1e-6),
        lambda f, x: grad_check_sparse(f, x, [0.0], num_checks=1, h=1e-6),
    ],
    ids=["numerical_gradient", "numerical_gradient_array", "grad_check_sparse"],
)
def test_a_quotient_beyond_the_largest_float_raises_naming_the_coordinate(check):
    # f stays within +-1e308, but its slope at 0 is 1e311
    with pytest.raises(ValueError, match=r"difference quotient at x\[0\] overflows"):
        check(lambda v: 1e308 * np.tanh(1e3 * v[0]), np.zeros(1))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize(
    "check",
    [
        lambda f, x: numerical_gradient(f, x),
        lambda f, x: numerical_gradient_array(lambda v: np.array([f(v), 0.0]), x, [1.0, 1.0]),
        lambda f, x: grad_check_sparse(f, x, [0.0, 0.0], num_checks=2),
    ],
    ids=["numerical_gradient", "numerical_gradient_array", "grad_check_sparse"],
)
def test_f_that_is_not_finite_at_a_probe_raises(check, bad):
    def f(v):
        return bad if v[1] > 0 else 0.0  # not finite only at the probe x + h e_1

    with pytest.raises(ValueError, match=r"f must be finite near x.*x\[1\]"):
        check(f, np.zeros(2))


masked = np.ma.masked_array([1.0, 1e30], mask=[False, True])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: numerical_gradient(np.sum, masked.copy()), "x"),
        (lambda: numerical_gradient_array(np.sin, masked.copy(), np.ones(2)), "x"),
        (lambda: grad_check_sparse(np.sum, masked.copy(), np.ones(2), num_checks=1), "x"),
        (lambda: numerical_gradient_array(np.sin, np.ones(2), masked), "dout"),
        (lambda: rel_error(masked, np.ones(2)), "a"),
        (lambda: rel_error(np.ones(2), masked), "b"),
        (lambda: grad_check_sparse(np.sum, np.ones(2), masked, num_checks=1), "analytic_grad"),
    ],
)
def test_masked_arrays_are_refused_naming_the_argument(call, name):
    with pytest.raises(TypeError, match=f"^{name} must not be a masked array"):
        call()


@pytest.mark.parametrize(
    "check",
    [
        lambda f: numerical_gradient(f, np.ones(2)),
        lambda f: numerical_gradient_array(f, np.ones(2), np.ones(())),
        lambda f: grad_check_sparse(f, np.ones(2), np.ones(2), num_checks=1),
    ],
    ids=["numerical_gradient", "numerical_gradient_array", "grad_check_sparse"],
)
def test_f_returning_a_masked_array_is_refused(check):
    # np.array(masked) drops the mask: np.ma.masked itself would have been read as 0.0
    with pytest.raises(TypeError, match="f must return real numbers, not a masked array"):
        check(lambda v: np.ma.masked_array(np.sum(v), mask=True))
