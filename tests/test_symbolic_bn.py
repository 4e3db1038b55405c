"""Tests of backprop_utils.symbolic_bn: the SymPy derivation of the batch-norm backward pass."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from backprop_utils.gradcheck import numerical_gradient_array
from backprop_utils.symbolic_bn import (
    GeneralDerivation,
    batchnorm_dx,
    batchnorm_dx_closed_form,
    batchnorm_dx_general,
    batchnorm_exprs,
    centered_sum,
    closed_form_compact,
    closed_form_matches,
    dx_coefficients,
    general_centered_sum,
    general_closed_form_matches,
    is_identically_zero,
    lambdify_dx,
    variance_gradient_terms,
)

SIZES = [2, 3, 4, 5]


@pytest.fixture(scope="module")
def dx_fns():
    return {n: lambdify_dx(n) for n in SIZES}


@pytest.fixture(scope="module")
def general():
    return batchnorm_dx_general()


# Explicit batch size --------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_closed_form_equals_sympy_derivative(n):
    assert closed_form_matches(n)


def test_closed_form_check_can_fail_without_the_xhat_term():
    # Guards the test above: dropping the xhat term of the closed form must be detected.
    exprs = batchnorm_exprs(3)
    scale = exprs.gamma / (3 * sp.sqrt(exprs.var + exprs.eps))
    wrong = scale * (3 * exprs.dout[0] - sp.Add(*exprs.dout))
    numeric = {s: v for s, v in zip(exprs.x, [0.3, -1.2, 2.0], strict=True)}
    numeric |= {s: v for s, v in zip(exprs.dout, [0.7, 0.1, -0.4], strict=True)}
    numeric |= {exprs.gamma: 1.5, exprs.eps: sp.Rational(1, 100)}
    assert abs(float((batchnorm_dx(3)[0] - wrong).subs(numeric))) > 1e-3


def test_derivative_has_one_entry_per_input():
    assert batchnorm_dx(4).shape == (4, 1)
    assert batchnorm_dx_closed_form(4).shape == (4, 1)


def test_derivative_does_not_depend_on_beta():
    exprs = batchnorm_exprs(3)
    assert not batchnorm_dx(3).has(exprs.beta)


def test_outputs_have_zero_mean_and_unit_variance_as_eps_goes_to_zero():
    exprs = batchnorm_exprs(3)
    values = {exprs.x[0]: 1, exprs.x[1]: 4, exprs.x[2]: -2, exprs.gamma: 1, exprs.beta: 0}
    xhat = [sp.limit(h.subs(values), exprs.eps, 0) for h in exprs.xhat]
    assert sp.simplify(sum(xhat)) == 0
    assert sp.simplify(sum(h**2 for h in xhat) / 3) == 1


@pytest.mark.parametrize("n", SIZES)
def test_deviations_from_the_mean_sum_to_zero(n):
    total = centered_sum(n)
    assert total.doit() == 0
    assert total != 0  # unevaluated, for display


@pytest.mark.parametrize("n", SIZES)
def test_variance_term_through_the_mean_is_zero(n):
    exprs = batchnorm_exprs(n)
    _, through_mean = variance_gradient_terms(n, i=2)
    assert sp.expand(through_mean.subs(sp.Symbol("mu", real=True), exprs.mean)) == 0


@pytest.mark.parametrize("n", SIZES)
def test_variance_terms_add_up_to_the_derivative_of_the_variance(n):
    exprs = batchnorm_exprs(n)
    direct, through_mean = variance_gradient_terms(n, i=2)
    dmean = sp.Symbol(r"\frac{\partial \mu}{\partial x_{2}}")
    total = (direct + through_mean).subs({dmean: sp.Rational(1, n)})
    total = total.subs(sp.Symbol("mu", real=True), exprs.mean)
    assert sp.expand(total - sp.diff(exprs.var, exprs.x[1])) == 0
    assert through_mean.has(dmean)


def test_variance_term_through_the_mean_is_not_zero_for_another_centre():
    # The term vanishes because mu is the mean: replaced by another centre it does not.
    exprs = batchnorm_exprs(3)
    _, through_mean = variance_gradient_terms(3)
    assert sp.expand(through_mean.subs(sp.Symbol("mu", real=True), exprs.x[0])) != 0


def test_compact_closed_form_gives_the_explicit_one():
    exprs = batchnorm_exprs(3)
    compact = closed_form_compact(3, i=2)
    names = {sp.Symbol(rf"\hat{{x}}_{k + 1}", real=True): h for k, h in enumerate(exprs.xhat)}
    names[sp.Symbol("sigma^2", positive=True)] = exprs.var
    assert compact.subs(names) == batchnorm_dx_closed_form(3)[1]


def _pattern(n, i, s):
    exprs = batchnorm_exprs(n)
    xhat = [(x_k - exprs.mean) / s for x_k in exprs.x]
    return [n * (k == i - 1) - 1 - xhat[i - 1] * xhat[k] for k in range(n)]


@pytest.mark.parametrize("n", SIZES)
def test_coefficients_of_the_derivative_follow_the_jacobian_pattern(n):
    for i in (1, n):
        s, coefficients = dx_coefficients(n, i=i)
        for coefficient, expected in zip(coefficients, _pattern(n, i, s), strict=True):
            assert sp.expand(coefficient - expected) == 0


def test_coefficients_rebuild_sympys_derivative():
    exprs = batchnorm_exprs(3)
    s, coefficients = dx_coefficients(3, i=2)
    std = sp.sqrt(exprs.var + exprs.eps)
    rebuilt = sum(c.subs(s, std) * d for c, d in zip(coefficients, exprs.dout, strict=True))
    assert is_identically_zero(rebuilt * exprs.gamma / (3 * std) - batchnorm_dx(3)[1], exprs)


def test_coefficients_hold_only_the_inputs_and_s():
    exprs = batchnorm_exprs(4)
    s, coefficients = dx_coefficients(4)
    for coefficient in coefficients:
        assert coefficient.free_symbols <= set(exprs.x) | {s}


def test_coefficient_pattern_check_can_fail_without_the_xhat_term():
    s, coefficients = dx_coefficients(3)
    wrong = [3 * (k == 0) - 1 for k in range(3)]
    assert sp.expand(coefficients[1] - wrong[1]) != 0


def test_identically_zero_detects_a_nonzero_expression():
    exprs = batchnorm_exprs(3)
    assert is_identically_zero(batchnorm_dx(3)[0] - batchnorm_dx_closed_form(3)[0], exprs)
    assert not is_identically_zero(batchnorm_dx(3)[0], exprs)


def test_identically_zero_knows_that_eps_is_s_squared_minus_the_variance():
    # For N = 2 the derivative is eps * gamma * (dout_1 - dout_2) / (2 (sigma^2 + eps)^(3/2)):
    # equal only because eps and sigma^2 + eps are tied together.
    exprs = batchnorm_exprs(2)
    expected = exprs.eps * exprs.gamma * (exprs.dout[0] - exprs.dout[1])
    expected /= 2 * (exprs.var + exprs.eps) ** sp.Rational(3, 2)
    assert is_identically_zero(batchnorm_dx(2)[0] - expected, exprs)
    assert not is_identically_zero(batchnorm_dx(2)[0] - 2 * expected, exprs)


def test_identically_zero_rejects_another_type():
    with pytest.raises(TypeError, match="BatchNormExprs"):
        is_identically_zero(sp.Integer(0), "exprs")
    with pytest.raises(TypeError, match="SymPy expression"):
        is_identically_zero(0.0, batchnorm_exprs(2))


def test_coefficient_index_must_be_within_the_batch():
    with pytest.raises(ValueError, match="i must be between 1 and n"):
        dx_coefficients(3, i=0)


# Symbolic batch size --------------------------------------------------------------------------


def test_general_derivative_reduces_to_the_closed_form(general):
    assert general_closed_form_matches(general)


def test_general_raw_derivative_holds_kronecker_deltas(general):
    assert general.dx_raw.has(sp.KroneckerDelta)
    assert not general.dx.has(sp.KroneckerDelta)


def test_general_check_can_fail(general):
    wrong_closed = general.closed_form + general.gamma * general.dout[general.i] / general.n
    assert not general_closed_form_matches(general._replace(closed_form=wrong_closed))


def test_general_deviations_from_the_mean_sum_to_zero():
    total, value = general_centered_sum()
    assert total.has(sp.Sum)
    assert value == 0


def test_general_derivative_agrees_with_the_explicit_one_for_n_3(general):
    x, dout, gamma, eps = [0.5, -1.0, 2.5], [1.0, -2.0, 0.25], 1.5, 0.1
    exprs = batchnorm_exprs(3)
    values = dict(zip(exprs.x + exprs.dout, x + dout, strict=True))
    explicit = batchnorm_dx(3)[1].subs(values | {exprs.gamma: gamma, exprs.eps: eps})
    g, k = general, sp.Symbol("k", integer=True, positive=True)
    sums = {
        sp.Sum(g.dout[k], (k, 1, g.n)): sum(dout),
        sp.Sum(g.dout[k] * g.x[k], (k, 1, g.n)): float(np.dot(x, dout)),
    }
    scalars = {
        g.x[g.i]: x[1],
        g.dout[g.i]: dout[1],
        g.n: 3,
        g.gamma: gamma,
        g.eps: eps,
        g.mean: np.mean(x),
        g.var: np.var(x),
    }
    assert float(g.dx.subs(sums).subs(scalars)) == pytest.approx(float(explicit), rel=1e-12)


def _sums_reuse_an_index(expr, enclosing=()):
    if isinstance(expr, sp.Sum):
        index = expr.limits[0][0]
        if index in enclosing:
            return True
        enclosing = (*enclosing, index)
    return any(_sums_reuse_an_index(arg, enclosing) for arg in expr.args)


def test_nested_sums_have_distinct_dummy_indices(general):
    # Sum_m (x_m - Sum_j x_j / N)^2, never Sum_j (x_j - Sum_j x_j / N)^2
    for expr in (general.loss, general.dx_raw, general_centered_sum()[0]):
        assert not _sums_reuse_an_index(expr)
    j = sp.Symbol("j", integer=True, positive=True)
    reused = sp.Sum(general.x[j] - sp.Sum(general.x[j], (j, 1, general.n)), (j, 1, general.n))
    assert _sums_reuse_an_index(reused)


def test_general_check_rejects_another_type():
    with pytest.raises(TypeError, match="GeneralDerivation"):
        general_closed_form_matches("closed form")


def test_general_derivation_is_a_named_tuple(general):
    assert isinstance(general, GeneralDerivation)
    assert general.loss.has(sp.Sum)


# Lambdified derivative against the module and finite differences ------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_lambdified_derivative_matches_closed_form_backward(n, dx_fns):
    rng = np.random.default_rng(100 + n)
    x, dout = rng.normal(2.0, 3.0, size=(n, 4)), rng.normal(size=(n, 4))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    _, cache = batchnorm_forward(x, gamma, beta, eps=1e-5)
    dx_module, _, _ = batchnorm_backward_alt(dout, cache)
    np.testing.assert_allclose(dx_fns[n](x, dout, gamma, 1e-5), dx_module, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("n", SIZES)
def test_lambdified_derivative_matches_staged_backward(n, dx_fns):
    rng = np.random.default_rng(200 + n)
    x, dout, gamma = rng.normal(size=(n, 3)), rng.normal(size=(n, 3)), rng.normal(size=3)
    _, cache = batchnorm_forward(x, gamma, np.zeros(3), eps=1e-3)
    dx_module, _, _ = batchnorm_backward(dout, cache)
    np.testing.assert_allclose(dx_fns[n](x, dout, gamma, 1e-3), dx_module, rtol=1e-9, atol=1e-10)


def test_lambdified_derivative_matches_finite_differences(dx_fns):
    rng = np.random.default_rng(7)
    x, dout, gamma = rng.normal(size=(4, 2)), rng.normal(size=(4, 2)), rng.normal(size=2)

    def forward(v):
        return batchnorm_forward(v, gamma, np.zeros(2), eps=1e-5)[0]

    numeric = numerical_gradient_array(forward, x.copy(), dout)
    np.testing.assert_allclose(dx_fns[4](x, dout, gamma, 1e-5), numeric, rtol=1e-6, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.1, 100.0))
def test_lambdified_gradient_is_orthogonal_to_ones_and_xhat(dx_fns, seed, scale):
    # Shifting x does not change the output, so dx is orthogonal to the direction 1 (exactly).
    # Scaling x does not change it either when eps -> 0, so dx is orthogonal to x - mu up to a
    # term of relative size eps / sigma^2 (here eps = 1e-12 and sigma^2 >= about 1e-3).
    rng = np.random.default_rng(seed)
    x, dout = scale * rng.normal(size=5), rng.normal(size=5)
    dx = dx_fns[5](x, dout, 1.3, 1e-12)
    xhat = (x - x.mean()) / x.std()
    size = np.abs(dx).sum() + 1.3 * np.abs(dout).sum() / x.std()
    assert abs(dx.sum()) <= 1e-9 * size
    assert abs(dx @ xhat) <= 1e-7 * size


def test_all_ones_upstream_gradient_gives_zero_dx(dx_fns):
    rng = np.random.default_rng(3)
    dx = dx_fns[3](rng.normal(size=3), np.ones(3), 2.0, 1e-5)
    np.testing.assert_allclose(dx, 0.0, atol=1e-12)


def test_lambdified_keeps_float32(dx_fns):
    x = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    dout = np.array([0.5, -1.0, 0.25], dtype=np.float32)
    assert dx_fns[3](x, dout, 1.0).dtype == np.float32
    assert dx_fns[3](x.astype(np.float64), dout, 1.0).dtype == np.float64


def test_lambdified_accepts_integers_as_float64(dx_fns):
    assert dx_fns[3](np.array([1, 2, 4]), np.array([1, 0, 0]), 1).dtype == np.float64


def test_lambdified_does_not_modify_inputs(dx_fns):
    x, dout, gamma = np.array([[1.0], [2.0], [4.0]]), np.array([[0.5], [-1.0], [0.2]]), np.ones(1)
    copies = [x.copy(), dout.copy(), gamma.copy()]
    dx_fns[3](x, dout, gamma)
    for before, after in zip(copies, [x, dout, gamma], strict=True):
        np.testing.assert_array_equal(before, after)


def test_lambdified_output_has_the_shape_of_x(dx_fns):
    assert dx_fns[2](np.array([1.0, 3.0]), np.array([1.0, 0.0])).shape == (2,)
    assert dx_fns[2](np.ones((2, 5)) * [[1.0], [3.0]], np.ones((2, 5))).shape == (2, 5)


# Bad input ------------------------------------------------------------------------------------


def test_size_must_be_an_int():
    with pytest.raises(TypeError, match="n must be an int"):
        batchnorm_exprs(3.0)


def test_size_must_not_be_a_bool():
    with pytest.raises(TypeError, match="n must be an int"):
        batchnorm_dx(True)


@pytest.mark.parametrize("n", [1, 0, -2, 9])
def test_size_must_be_between_2_and_8(n):
    with pytest.raises(ValueError, match="between 2 and 8"):
        closed_form_matches(n)


def test_index_must_be_within_the_batch():
    with pytest.raises(ValueError, match="i must be between 1 and n"):
        closed_form_compact(3, i=4)


def test_index_must_be_an_int():
    with pytest.raises(TypeError, match="i must be an int"):
        variance_gradient_terms(3, i=1.0)


def test_x_must_have_n_rows(dx_fns):
    with pytest.raises(ValueError, match=r"x must have shape \(3,\)"):
        dx_fns[3](np.ones(4), np.ones(4))


def test_x_must_be_one_or_two_dimensional(dx_fns):
    with pytest.raises(ValueError, match="x must have shape"):
        dx_fns[3](np.ones((3, 2, 2)), np.ones((3, 2, 2)))


def test_dout_must_have_the_shape_of_x(dx_fns):
    with pytest.raises(ValueError, match="dout must have the shape of x"):
        dx_fns[3](np.ones(3), np.ones((3, 1)))


def test_gamma_must_match_the_features(dx_fns):
    with pytest.raises(ValueError, match="gamma must be a scalar or have shape"):
        dx_fns[3](np.ones((3, 2)), np.ones((3, 2)), np.ones(3))


def test_x_must_be_numeric(dx_fns):
    with pytest.raises(TypeError, match="x must be an array of real numbers"):
        dx_fns[3](np.array(["a", "b", "c"]), np.ones(3))


def test_x_must_be_finite(dx_fns):
    with pytest.raises(ValueError, match="x must be finite"):
        dx_fns[3](np.array([1.0, np.nan, 2.0]), np.ones(3))


@pytest.mark.parametrize("eps", [0.0, -1e-5, float("inf")])
def test_eps_must_be_positive_and_finite(dx_fns, eps):
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        dx_fns[3](np.array([1.0, 2.0, 4.0]), np.ones(3), 1.0, eps)


def test_eps_must_be_a_number(dx_fns):
    with pytest.raises(TypeError, match="eps must be a real number"):
        dx_fns[3](np.array([1.0, 2.0, 4.0]), np.ones(3), 1.0, "small")


# The edges of issue 15 -------------------------------------------------------------------------


def closed_form_dx(x, dout, gamma, eps):
    """dx of batch norm by the closed form, in float64, for x (n, D)."""
    _, cache = batchnorm_forward(x, gamma, np.zeros_like(gamma), eps=eps)
    return batchnorm_backward_alt(dout, cache)[0]


@settings(max_examples=30, deadline=None)
@given(exponent=st.integers(-150, 150), seed=st.integers(0, 1000))
def test_lambdified_derivative_is_right_for_any_scale_of_x(dx_fns, exponent, seed):
    # x * s and eps * s^2 give dx / s; unscaled, SymPy's terms such as (x_i - mu)^2 /
    # (var + eps)^(3/2) overflowed for |x| above about 1e100 and gave a wrong dx in silence
    rng = np.random.default_rng(seed)
    x, dout, gamma = rng.normal(2.0, 3.0, size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=3)
    scale = 10.0**exponent
    dx = dx_fns[4](x * scale, dout, gamma, 1e-5 * scale**2)
    np.testing.assert_allclose(dx * scale, closed_form_dx(x, dout, gamma, 1e-5), rtol=1e-9)


def test_lambdified_derivative_of_a_huge_spread_is_right(dx_fns):
    # the sum of squares overflows float64, dx itself is about 1e-308
    x, dout = np.array([[1.7e308], [-1.7e308], [0.0]]), np.array([[1.0], [2.0], [3.0]])
    expected = closed_form_dx(x / 1e300, dout, np.ones(1), 1e-5) / 1e300
    np.testing.assert_allclose(dx_fns[3](x, dout, np.ones(1)), expected, rtol=1e-9)


@pytest.mark.parametrize("level", [1.0, 1e300])
def test_lambdified_derivative_of_a_constant_feature_with_a_tiny_eps(dx_fns, level):
    # xhat is 0 and dx = gamma (dout - mean(dout)) / sqrt(eps); the terms over
    # (var + eps)^(3/2) = 1e-450 gave 0 * inf
    dout = np.array([1.0, 2.0, 3.0])
    dx = dx_fns[3](np.full(3, level), dout, 1.0, 1e-300)
    np.testing.assert_allclose(dx, (dout - 2.0) / 1e-150, rtol=1e-12)


def test_lambdified_derivative_that_overflows_raises_naming_gamma_and_dout(dx_fns):
    with pytest.raises(ValueError, match="dx overflows float64: gamma or dout is too large"):
        dx_fns[3](np.ones(3), np.array([1.0, 2.0, 3.0]), 1e200, 1e-300)


def test_lambdified_derivative_beyond_float32_raises(dx_fns):
    x = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    with pytest.raises(ValueError, match="dx overflows float32"):
        dx_fns[3](x, np.array([1.0, 2.0, 3.0]), 1e40)


@pytest.mark.parametrize("name", ["x", "dout", "gamma"])
def test_lambdified_refuses_a_masked_argument(dx_fns, name):
    arguments = {"x": np.array([1.0, 2.0, 4.0]), "dout": np.ones(3), "gamma": np.array(2.0)}
    arguments[name] = np.ma.masked_array(arguments[name], mask=np.zeros_like(arguments[name]))
    with pytest.raises(TypeError, match=f"^{name} must not be a masked array"):
        dx_fns[3](**arguments)


@pytest.mark.parametrize("name", ["x", "dout"])
def test_lambdified_refuses_a_ragged_list_naming_it(dx_fns, name):
    # np.asarray's own error: "setting an array element with a sequence ... inhomogeneous"
    arguments = {"x": np.ones((3, 2)), "dout": np.ones((3, 2))}
    arguments[name] = [[1.0, 2.0], [3.0], [4.0, 5.0]]
    with pytest.raises(ValueError, match=f"^{name} must be a rectangular array"):
        dx_fns[3](**arguments)
