"""SymPy derivation of the batch-normalization backward pass, one feature column.

For a batch x_1, ..., x_N of one feature the layer computes (training mode)

    mu      = (1/N) sum_k x_k
    sigma^2 = (1/N) sum_k (x_k - mu)^2
    xhat_k  = (x_k - mu) / sqrt(sigma^2 + eps)
    y_k     = gamma * xhat_k + beta

Every function below works on the *surrogate loss* ``L = sum_k dout_k * y_k``: its gradient with
respect to y is exactly ``dout``, so ``dL/dx_i`` is what a backward pass returns for the upstream
gradient ``dout``. SymPy differentiates it and the result is shown to equal the closed form

    dL/dx_i = gamma / (N sqrt(sigma^2 + eps))
              * (N dout_i - sum_k dout_k - xhat_i sum_k dout_k xhat_k)

twice: for a fixed N with one symbol per sample (:func:`closed_form_matches`), and for a symbolic
N with ``sp.Sum`` over ``sp.IndexedBase`` symbols (:func:`general_closed_form_matches`). For a fixed
N, :func:`dx_coefficients` collects SymPy's own derivative by the dout_k, so that the pattern of the
closed form can be read off the derivative rather than typed in.

On the way the variance's own dependence on the mean drops out:
``d sigma^2 / d x_i = (2/N)(x_i - mu) - (2/N) (d mu / d x_i) sum_k (x_k - mu)``, and the second
term is zero for every input because ``sum_k (x_k - mu) = 0`` is the definition of mu
(:func:`variance_gradient_terms`, :func:`centered_sum`).

Symbols are 1-based, as in the book: x_1..x_N, dout_1..dout_N.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import sympy as sp

from backprop_utils._validation import refuse_masked

__all__ = [
    "BatchNormExprs",
    "GeneralDerivation",
    "batchnorm_dx",
    "batchnorm_dx_closed_form",
    "batchnorm_dx_general",
    "batchnorm_exprs",
    "centered_sum",
    "closed_form_compact",
    "closed_form_matches",
    "dx_coefficients",
    "general_centered_sum",
    "general_closed_form_matches",
    "is_identically_zero",
    "lambdify_dx",
    "variance_gradient_terms",
]

MAX_N = 8  # the explicit derivative grows as N^2 terms; 8 keeps every function under a second


class BatchNormExprs(NamedTuple):
    """The symbols and forward expressions of batch norm for an explicit batch size N."""

    #: the inputs x_1, ..., x_N, real symbols
    x: tuple
    #: the upstream gradients dout_1, ..., dout_N, real symbols
    dout: tuple
    #: the scale, a real symbol
    gamma: sp.Symbol
    #: the shift, a real symbol
    beta: sp.Symbol
    #: the constant added to the variance, a positive symbol
    eps: sp.Symbol
    #: mu written out in the x_k
    mean: sp.Expr
    #: sigma^2 (biased) written out in the x_k
    var: sp.Expr
    #: the normalized inputs xhat_1, ..., xhat_N written out in the x_k
    xhat: tuple
    #: the outputs y_k = gamma * xhat_k + beta
    out: tuple
    #: the surrogate loss ``sum_k dout_k * y_k``
    loss: sp.Expr


class GeneralDerivation(NamedTuple):
    """The derivation of dL/dx_i for a symbolic batch size N."""

    #: the batch size N, a positive integer symbol
    n: sp.Symbol
    #: the index of the input we differentiate by, assumed to lie in 1..N
    i: sp.Symbol
    #: the inputs x[k]
    x: sp.IndexedBase
    #: the upstream gradients dout[k]
    dout: sp.IndexedBase
    #: the normalized inputs xhat[k], used only in the closed form
    xhat: sp.IndexedBase
    #: the scale
    gamma: sp.Symbol
    #: the shift
    beta: sp.Symbol
    #: the constant added to the variance
    eps: sp.Symbol
    #: mu, the name ``Sum(x[k]) / N`` gets once the sums are evaluated
    mean: sp.Symbol
    #: sigma^2, the name ``Sum((x[k] - mu)**2) / N`` gets once the sums are evaluated
    var: sp.Symbol
    #: ``Sum(dout[k] * (gamma * xhat_k + beta), (k, 1, N))`` with mu and sigma^2 as sums of x
    loss: sp.Expr
    #: ``sp.diff(loss, x[i])`` as SymPy returns it: nested sums of KroneckerDelta
    dx_raw: sp.Expr
    #: dx_raw with every sum evaluated, in mu, sigma^2, x[i], dout[i], Sum(dout[k]) and
    #: Sum(dout[k] * x[k])
    dx: sp.Expr
    #: ``gamma / (N sqrt(sigma^2 + eps)) (N dout_i - Sum dout_k - xhat_i Sum dout_k xhat_k)``
    closed_form: sp.Expr


def _validate(
    n: object,
    x: object = None,
    dout: object = None,
    gamma: object = 1.0,
    eps: object = 1e-5,
    *,
    i: object = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.dtype]:
    """Check the batch size, the index `i` and, when given, the arrays of a lambdified derivative.

    Returns
    -------
    x, dout, gamma : ndarray of float64, shapes (N,) or (N, D), the same, and () or (D,)
    eps : float
    dtype : numpy.dtype of the result (float32 if x is float32, float64 otherwise)

    Raises
    ------
    TypeError
        If `n` or `i` is not an int, or an array is not real numbers.
    ValueError
        If `n` is outside 2..MAX_N, `i` outside 1..n, or a shape or value is not as documented.
    """
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"n must be an int (the batch size), got {type(n).__name__}")
    if not 2 <= n <= MAX_N:
        raise ValueError(f"n must be between 2 and {MAX_N} (the batch size), got {n}")
    if isinstance(i, bool) or not isinstance(i, Integral):
        raise TypeError(f"i must be an int, got {type(i).__name__}")
    if not 1 <= i <= n:
        raise ValueError(f"i must be between 1 and n = {n}, got {i}")
    if x is None:
        return None, None, None, 0.0, np.dtype(np.float64)
    arrays = {}
    for name, value in (("x", x), ("dout", dout), ("gamma", gamma)):
        refuse_masked(name, value)
        try:
            array = np.asarray(value)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"{name} must be a rectangular array of real numbers") from err
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be finite (no nan or inf)")
        arrays[name] = array
    x_array, dout_array, gamma_array = arrays["x"], arrays["dout"], arrays["gamma"]
    if x_array.ndim not in (1, 2) or x_array.shape[0] != n:
        raise ValueError(f"x must have shape ({n},) or ({n}, D), got {x_array.shape}")
    if dout_array.shape != x_array.shape:
        raise ValueError(f"dout must have the shape of x, {x_array.shape}, got {dout_array.shape}")
    if gamma_array.shape not in ((), x_array.shape[1:]):
        raise ValueError(
            f"gamma must be a scalar or have shape {x_array.shape[1:]}, got {gamma_array.shape}"
        )
    if isinstance(eps, bool) or not isinstance(eps, Real):
        raise TypeError(f"eps must be a real number, got {type(eps).__name__}")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0, got {eps}")
    dtype = np.dtype(np.float32) if x_array.dtype == np.float32 else np.dtype(np.float64)
    return (
        x_array.astype(np.float64),
        dout_array.astype(np.float64),
        gamma_array.astype(np.float64),
        float(eps),
        dtype,
    )


# Explicit batch size --------------------------------------------------------------------------


def batchnorm_exprs(n: int) -> BatchNormExprs:
    """Symbols and forward expressions of batch norm on a batch of `n` scalars.

    Parameters
    ----------
    n : int
        The batch size, 2 <= n <= 8 (with n = 1 the output is beta for every input).

    Returns
    -------
    exprs : BatchNormExprs
        x_1..x_n, dout_1..dout_n, gamma, beta, eps, and mu, sigma^2, xhat_k, y_k and the
        surrogate loss written out in them.

    Raises
    ------
    TypeError
        If `n` is not an int.
    ValueError
        If `n` is outside 2..8.
    """
    _validate(n)
    x = sp.symbols(f"x_1:{n + 1}", real=True)
    dout = tuple(sp.Symbol(rf"\mathrm{{dout}}_{{{k}}}", real=True) for k in range(1, n + 1))
    gamma, beta = sp.symbols("gamma beta", real=True)
    eps = sp.Symbol("epsilon", positive=True)
    mean = sp.Add(*x) / n
    var = sp.Add(*[(x_k - mean) ** 2 for x_k in x]) / n
    inv_std = 1 / sp.sqrt(var + eps)
    xhat = tuple((x_k - mean) * inv_std for x_k in x)
    out = tuple(gamma * xhat_k + beta for xhat_k in xhat)
    loss = sp.Add(*[dout_k * out_k for dout_k, out_k in zip(dout, out, strict=True)])
    return BatchNormExprs(x, dout, gamma, beta, eps, mean, var, xhat, out, loss)


def batchnorm_dx(n: int) -> sp.Matrix:
    """dL/dx_i of the surrogate loss for every i, as SymPy differentiates it.

    Parameters
    ----------
    n : int
        The batch size, 2 <= n <= 8.

    Returns
    -------
    dx : sympy.Matrix, shape (n, 1)
        ``dx[i] = sp.diff(loss, x_{i+1})`` in the symbols of :func:`batchnorm_exprs` (n).

    Raises
    ------
    TypeError, ValueError
        As for :func:`batchnorm_exprs`.
    """
    exprs = batchnorm_exprs(n)
    return sp.Matrix([sp.diff(exprs.loss, x_i) for x_i in exprs.x])


def batchnorm_dx_closed_form(n: int) -> sp.Matrix:
    """The closed form of dL/dx_i for every i, in the symbols of :func:`batchnorm_exprs`.

    ``gamma / (n sqrt(sigma^2 + eps)) * (n dout_i - sum_k dout_k - xhat_i sum_k dout_k xhat_k)``.

    Parameters
    ----------
    n : int
        The batch size, 2 <= n <= 8.

    Returns
    -------
    dx : sympy.Matrix, shape (n, 1)

    Raises
    ------
    TypeError, ValueError
        As for :func:`batchnorm_exprs`.
    """
    exprs = batchnorm_exprs(n)
    sum_dout = sp.Add(*exprs.dout)
    sum_dout_xhat = sp.Add(*[d * h for d, h in zip(exprs.dout, exprs.xhat, strict=True)])
    scale = exprs.gamma / (n * sp.sqrt(exprs.var + exprs.eps))
    return sp.Matrix(
        [
            scale * (n * dout_i - sum_dout - xhat_i * sum_dout_xhat)
            for dout_i, xhat_i in zip(exprs.dout, exprs.xhat, strict=True)
        ]
    )


def _std_renamed(expr: sp.Expr, exprs: BatchNormExprs, std: sp.Symbol) -> sp.Expr:
    """`expr` with every power (sigma^2 + eps)^p written as std^(2p)."""
    base = exprs.var + exprs.eps
    return expr.replace(lambda e: e.is_Pow and e.base == base, lambda e: std ** (2 * e.exp))


def _in_std(expr: sp.Expr, exprs: BatchNormExprs, std: sp.Symbol) -> sp.Expr:
    """`expr` in std = sqrt(sigma^2 + eps): renamed as above, and eps written as std^2 - sigma^2."""
    return _std_renamed(expr, exprs, std).subs(exprs.eps, std**2 - exprs.var)


def is_identically_zero(expr: sp.Expr, exprs: BatchNormExprs) -> bool:
    """True if `expr` is identically zero, proved by expanding it as a polynomial.

    The only non-polynomial piece of a batch-norm expression is a power of (sigma^2 + eps).
    It is renamed to a power of a fresh positive symbol s, which stands for
    sqrt(sigma^2 + eps). If that expands to 0, `expr` is 0 (for every s, so in particular for
    the true one). If not, every eps left is also written as s^2 - sigma^2: what is left is a
    polynomial in the x_k, dout_k, gamma, beta and powers of s, which are independent
    variables, so it is identically zero exactly when it expands to 0.

    Parameters
    ----------
    expr : sympy.Expr
        In the symbols of `exprs`.
    exprs : BatchNormExprs
        From :func:`batchnorm_exprs`, for the batch size that `expr` is written in.

    Returns
    -------
    zero : bool
        True if `expr` expands to 0 after the renaming, that is if it is identically zero.

    Raises
    ------
    TypeError
        If `expr` is not a SymPy expression or `exprs` is not a BatchNormExprs.
    """
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"expr must be a SymPy expression, got {type(expr).__name__}")
    if not isinstance(exprs, BatchNormExprs):
        raise TypeError(f"exprs must be a BatchNormExprs, got {type(exprs).__name__}")
    std = sp.Symbol("s", positive=True)
    if sp.expand(_std_renamed(expr, exprs, std)) == 0:  # enough, and fast, for most identities
        return True
    return sp.expand(_in_std(expr, exprs, std)) == 0


def closed_form_matches(n: int) -> bool:
    """Prove that SymPy's derivative equals the closed form for batch size `n`.

    Parameters
    ----------
    n : int
        The batch size, 2 <= n <= 8.

    Returns
    -------
    matches : bool
        True if ``batchnorm_dx(n) - batchnorm_dx_closed_form(n)`` is identically zero.

    Raises
    ------
    TypeError, ValueError
        As for :func:`batchnorm_exprs`.
    """
    exprs = batchnorm_exprs(n)
    difference = batchnorm_dx(n) - batchnorm_dx_closed_form(n)
    return all(is_identically_zero(entry, exprs) for entry in difference)


def dx_coefficients(n: int, i: int = 1) -> tuple[sp.Symbol, tuple[sp.Expr, ...]]:
    """SymPy's dL/dx_i collected by the upstream gradients, scaled by N s / gamma.

    The derivative :func:`batchnorm_dx` is linear in the dout_k,
    ``dL/dx_i = sum_k c_k dout_k``; each ``c_k = d(dL/dx_i) / d(dout_k)`` is taken from SymPy's
    derivative as it stands (nothing is typed in). Every power of sigma^2 + eps in it is written
    as a power of a positive symbol s, which stands for sqrt(sigma^2 + eps) (and any eps left as
    s^2 - sigma^2), and the result is multiplied by ``n * s / gamma`` and expanded: a polynomial
    in the x_k and 1/s.

    Parameters
    ----------
    n : int
        The batch size, 2 <= n <= 8.
    i : int, optional
        Which input, 1 <= i <= n; 1 if not given.

    Returns
    -------
    s : sympy.Symbol
        The positive symbol standing for sqrt(sigma^2 + eps).
    coefficients : tuple of sympy.Expr, length n
        ``n * s / gamma * c_k`` for k = 1..n, in the x_k of :func:`batchnorm_exprs` (n) and s.

    Raises
    ------
    TypeError
        If `n` or `i` is not an int.
    ValueError
        If `n` is outside 2..8 or `i` outside 1..n.
    """
    exprs = batchnorm_exprs(n)
    _validate(n, i=i)
    std = sp.Symbol("s", positive=True)
    dx_i = sp.diff(exprs.loss, exprs.x[i - 1])
    coefficients = tuple(
        sp.expand(n * std / exprs.gamma * _in_std(sp.diff(dx_i, d), exprs, std)) for d in exprs.dout
    )
    return std, coefficients


def closed_form_compact(n: int, i: int = 1) -> sp.Expr:
    """The closed form of dL/dx_i for batch size `n`, typeset with xhat_k and sigma^2 as symbols.

    Parameters
    ----------
    n : int
        The batch size, 2 <= n <= 8.
    i : int, optional
        Which input, 1 <= i <= n; 1 if not given.

    Returns
    -------
    dx_i : sympy.Expr
        In the symbols ``\\hat{x}_k``, ``\\sigma^{2}``, epsilon, gamma and the dout_k of
        :func:`batchnorm_exprs`. For display: substituting xhat_k and sigma^2 gives entry i
        of :func:`batchnorm_dx_closed_form`.

    Raises
    ------
    TypeError
        If `n` or `i` is not an int.
    ValueError
        If `n` is outside 2..8 or `i` outside 1..n.
    """
    exprs = batchnorm_exprs(n)
    _validate(n, i=i)
    xhat = sp.symbols(rf"\hat{{x}}_1:{n + 1}", real=True)
    var = sp.Symbol("sigma^2", positive=True)
    sum_dout_xhat = sp.Add(*[d * h for d, h in zip(exprs.dout, xhat, strict=True)])
    scale = exprs.gamma / (n * sp.sqrt(var + exprs.eps))
    return scale * (n * exprs.dout[i - 1] - sp.Add(*exprs.dout) - xhat[i - 1] * sum_dout_xhat)


def centered_sum(n: int) -> sp.Expr:
    """``sum_k (x_k - mu)`` for batch size `n`, unevaluated, with mu written out.

    Its ``.doit()`` is 0 for every n: the deviations from the mean sum to zero.

    Parameters
    ----------
    n : int
        The batch size, 2 <= n <= 8.

    Returns
    -------
    total : sympy.Add
        Unevaluated, for display.

    Raises
    ------
    TypeError, ValueError
        As for :func:`batchnorm_exprs`.
    """
    exprs = batchnorm_exprs(n)
    mean = sp.Mul(sp.Rational(1, n), sp.Add(*exprs.x), evaluate=False)
    terms = [sp.Add(x_k, sp.Mul(-1, mean, evaluate=False), evaluate=False) for x_k in exprs.x]
    return sp.Add(*terms, evaluate=False)


def variance_gradient_terms(n: int, i: int = 1) -> tuple[sp.Expr, sp.Expr]:
    """The two terms of d sigma^2 / d x_i, found by SymPy with mu kept as a function of x.

    ``sigma^2 = (1/n) sum_k (x_k - mu(x))^2`` depends on x_i directly and through mu. SymPy's
    derivative is split into the direct term ``(2/n)(x_i - mu)`` and the term through the mean
    ``-(2/n) (d mu / d x_i) sum_k (x_k - mu)``, which is zero for every input.

    Parameters
    ----------
    n : int
        The batch size, 2 <= n <= 8.
    i : int, optional
        Which input, 1 <= i <= n; 1 if not given.

    Returns
    -------
    direct, through_mean : sympy.Expr
        In the x_k and the symbol mu. `through_mean` is a factor times the symbol
        ``\\frac{\\partial \\mu}{\\partial x_i}`` (whose value is 1/n); substituting mu by
        the mean of the x_k makes the factor 0. With that symbol set to 1/n and mu to the mean,
        ``direct + through_mean`` is ``sp.diff(var, x_i)`` for the variance written out in the x_k.

    Raises
    ------
    TypeError
        If `n` or `i` is not an int.
    ValueError
        If `n` is outside 2..8 or `i` outside 1..n.
    """
    exprs = batchnorm_exprs(n)
    _validate(n, i=i)
    mean_function = sp.Function("mu")(*exprs.x)
    var = sp.Add(*[(x_k - mean_function) ** 2 for x_k in exprs.x]) / n
    dvar = sp.expand(sp.diff(var, exprs.x[i - 1]))
    dmean = sp.Derivative(mean_function, exprs.x[i - 1])
    mu = sp.Symbol("mu", real=True)
    factor = sp.factor(dvar.coeff(dmean).subs(mean_function, mu))
    direct = sp.factor(sp.expand(dvar - dvar.coeff(dmean) * dmean).subs(mean_function, mu))
    return direct, factor * sp.Symbol(rf"\frac{{\partial \mu}}{{\partial x_{{{i}}}}}")


def lambdify_dx(n: int) -> Callable[..., np.ndarray]:
    """A NumPy function computing SymPy's derivative :func:`batchnorm_dx` (n).

    Parameters
    ----------
    n : int
        The batch size, 2 <= n <= 8.

    Returns
    -------
    dx_fn : callable
        ``dx_fn(x, dout, gamma=1.0, eps=1e-5) -> dx`` with x and dout of shape (n,) or (n, D)
        (each column is a feature), gamma a scalar or of shape (D,), eps > 0. dx has the shape
        of x, float32 if x is float32 and float64 otherwise. Inputs are not modified. It raises
        TypeError / ValueError naming the argument on bad input (masked arrays and ragged
        lists included), and ValueError where the expression, evaluated in float64, overflows
        (x too large, or a tiny eps with a constant feature) instead of returning 0 or NaN.

    Raises
    ------
    TypeError, ValueError
        As for :func:`batchnorm_exprs`.
    """
    exprs = batchnorm_exprs(n)
    arguments = [*exprs.x, *exprs.dout, exprs.gamma, exprs.eps]
    numeric = sp.lambdify(arguments, list(batchnorm_dx(n)), modules="numpy", cse=True)

    def dx_fn(x, dout, gamma=1.0, eps=1e-5) -> np.ndarray:
        x, dout, gamma, eps, dtype = _validate(n, x, dout, gamma, eps)
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            if _in_safe_range(x, dout, gamma, eps):
                dx = np.stack(
                    [np.broadcast_to(r, x.shape[1:]) for r in numeric(*x, *dout, gamma, eps)]
                )
            else:  # each column as an (n, 1) array: the scales are per feature
                columns = (n, -1)
                dx = _rescaled_dx(numeric, x.reshape(columns), dout.reshape(columns), gamma, eps)
                dx = dx.reshape(x.shape)
            dx = dx.astype(dtype)
        if not np.isfinite(dx).all():
            raise ValueError(
                f"dx overflows {np.dtype(dtype).name}: gamma or dout is too large for the spread "
                "of x and eps; rescale them"
            )
        return dx

    dx_fn.__doc__ = f"dL/dx of batch norm for a batch of {n}, lambdified from SymPy."
    return dx_fn


# SymPy's derivative is a sum of terms such as (x_i - mu)^2 dout_k / (sigma^2 + eps)^(3/2): inside
# these bounds no term overflows or underflows to a wrong result in float64.
_SAFE_MAGNITUDE = 1e30


def _in_safe_range(x: np.ndarray, dout: np.ndarray, gamma: np.ndarray, eps: float) -> bool:
    """True if SymPy's expression can be evaluated on these float64 arguments as they are."""
    largest = max(np.abs(x).max(), np.abs(dout).max(), np.abs(gamma).max(), eps)
    if not largest <= _SAFE_MAGNITUDE:
        return False
    return bool((x.var(axis=0) + eps).min() >= 1 / _SAFE_MAGNITUDE)


def _rescaled_dx(
    numeric: Callable, x: np.ndarray, dout: np.ndarray, gamma: np.ndarray, eps: float
) -> np.ndarray:
    """SymPy's dx evaluated on centred, scaled arguments, where as given they would overflow.

    Batch norm's dx does not change when x is shifted, is linear in dout and gamma, and is
    divided by s when x is multiplied by s and eps by s^2. Each column is therefore evaluated
    at x' = (x - mean) / s with s = sqrt(var + eps), eps' = eps / s^2 (so var' + eps' = 1),
    dout' = dout / max|dout| and gamma' = 1, and the result multiplied back by
    gamma * max|dout| / s. The scales are computed without squaring x, which could overflow.
    """
    x_scale = np.abs(x).max(axis=0)
    x_scale[x_scale == 0] = 1.0
    z = x / x_scale  # in [-1, 1]
    deviations = z - z.mean(axis=0)
    s = np.hypot(x_scale * np.sqrt((deviations**2).mean(axis=0)), np.sqrt(eps))  # sqrt(var + eps)
    ratio = s / x_scale
    x_centred = np.divide(deviations, ratio, out=np.zeros_like(deviations), where=deviations != 0)
    eps_scaled = (np.sqrt(eps) / s) ** 2  # <= 1
    dout_scale = np.abs(dout).max(axis=0)
    dout_scale[dout_scale == 0] = 1.0
    dout_scaled = dout / dout_scale
    rows = numeric(*x_centred, *dout_scaled, np.ones_like(s), eps_scaled)
    dx_scaled = np.stack([np.broadcast_to(row, s.shape) for row in rows])
    return dx_scaled * (dout_scale / s) * np.broadcast_to(gamma, s.shape)


# Symbolic batch size ---------------------------------------------------------------------------


def _evaluate_sum(total: sp.Sum) -> sp.Expr:
    """Evaluate one ``Sum(f, (k, 1, N))`` whose summand is linear in the KroneckerDeltas.

    A term with ``KroneckerDelta(i, k)`` keeps only k = i (the index i lies in 1..N); a term
    free of k is multiplied by N; what is left is split into one Sum per term.
    """
    summand, (index, low, high) = total.function, total.limits[0]
    result = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(summand)):
        deltas = [d for d in term.atoms(sp.KroneckerDelta) if index in d.free_symbols]
        if deltas:
            other = next(a for a in deltas[0].args if a != index)
            result += term.subs(deltas[0], 1).subs(index, other)
        elif index not in term.free_symbols:
            result += term * (high - low + 1)
        else:
            coefficient, rest = term.as_independent(index, as_Add=False)
            result += coefficient * sp.Sum(rest, (index, low, high))
    return result


def _reduce(expr: sp.Expr, names: dict) -> sp.Expr:
    """Evaluate every sum of `expr`, naming sum x_k as N mu and sum (x_k - mu)^2 as N sigma^2.

    Repeats until nothing changes, innermost sums first.
    """
    n, x, mean, var = names["n"], names["x"], names["mean"], names["var"]

    def is_sum_x(e):
        return (
            isinstance(e, sp.Sum) and e.limits[0][1:] == (1, n) and e.function == x[e.limits[0][0]]
        )

    def is_sum_squares(e):
        if not (isinstance(e, sp.Sum) and e.limits[0][1:] == (1, n)):
            return False
        return sp.expand(e.function - (x[e.limits[0][0]] - mean) ** 2) == 0

    def is_other_sum(e):
        return isinstance(e, sp.Sum) and not is_sum_x(e) and not is_sum_squares(e)

    while True:
        new = expr.replace(is_sum_x, lambda e: n * mean)
        new = new.replace(is_sum_squares, lambda e: n * var)
        new = new.replace(is_other_sum, _evaluate_sum)
        if new == expr:
            return expr
        expr = new


def batchnorm_dx_general() -> GeneralDerivation:
    """Differentiate the surrogate loss for a symbolic batch size N, and evaluate the sums.

    SymPy's ``diff`` handles ``Sum`` over ``IndexedBase`` symbols and returns sums of
    KroneckerDelta; its ``doit`` does not finish on them, so a small rule evaluates them
    (a delta keeps only k = i, a constant summand is multiplied by N, a linear summand is split).

    Returns
    -------
    derivation : GeneralDerivation
        The symbols, the loss, SymPy's raw derivative, the derivative with the sums evaluated,
        and the closed form.
    """
    n = sp.Symbol("N", integer=True, positive=True)
    i, j, k, m = sp.symbols("i j k m", integer=True, positive=True)
    x, dout, xhat = (
        sp.IndexedBase("x"),
        sp.IndexedBase(r"\mathrm{dout}"),
        sp.IndexedBase(r"\hat{x}"),
    )
    gamma, beta = sp.symbols("gamma beta", real=True)
    eps = sp.Symbol("epsilon", positive=True)
    mean, var = sp.Symbol("mu", real=True), sp.Symbol("sigma^2", positive=True)
    mean_sum = sp.Sum(x[j], (j, 1, n)) / n  # every sum has its own dummy index
    var_sum = sp.Sum((x[m] - mean_sum) ** 2, (m, 1, n)) / n
    xhat_k = (x[k] - mean_sum) / sp.sqrt(var_sum + eps)
    loss = sp.Sum(dout[k] * (gamma * xhat_k + beta), (k, 1, n))
    dx_raw = sp.diff(loss, x[i])
    names = {"n": n, "x": x, "mean": mean, "var": var}
    dx = _reduce(dx_raw, names)
    closed_form = (
        gamma
        / (n * sp.sqrt(var + eps))
        * (
            n * dout[i]
            - sp.Sum(dout[k], (k, 1, n))
            - xhat[i] * sp.Sum(dout[k] * xhat[k], (k, 1, n))
        )
    )
    return GeneralDerivation(
        n, i, x, dout, xhat, gamma, beta, eps, mean, var, loss, dx_raw, dx, closed_form
    )


def general_centered_sum() -> tuple[sp.Expr, sp.Expr]:
    """``Sum(x_k - mu, (k, 1, N))`` for a symbolic N, unevaluated and evaluated (it is 0).

    Returns
    -------
    total, value : sympy.Expr
        The sum with mu written as ``Sum(x_j) / N``, and its value after evaluating the sums.
    """
    n = sp.Symbol("N", integer=True, positive=True)
    j, k = sp.symbols("j k", integer=True, positive=True)
    x = sp.IndexedBase("x")
    total = sp.Sum(x[k] - sp.Sum(x[j], (j, 1, n)) / n, (k, 1, n))
    names = {"n": n, "x": x, "mean": sp.Symbol("mu", real=True), "var": sp.Symbol("sigma^2")}
    return total, sp.simplify(_reduce(total, names))


def general_closed_form_matches(derivation: GeneralDerivation | None = None) -> bool:
    """Prove that the derivative for a symbolic N equals the closed form.

    The closed form's xhat[k] are written out as ``(x[k] - mu) / sqrt(sigma^2 + eps)``, its
    sums evaluated the same way, and the difference simplified.

    Parameters
    ----------
    derivation : GeneralDerivation, optional
        The result of :func:`batchnorm_dx_general`; computed if not given.

    Returns
    -------
    matches : bool

    Raises
    ------
    TypeError
        If `derivation` is not a GeneralDerivation.
    """
    if derivation is None:
        derivation = batchnorm_dx_general()
    if not isinstance(derivation, GeneralDerivation):
        raise TypeError(f"derivation must be a GeneralDerivation, got {type(derivation).__name__}")
    d = derivation
    std = sp.sqrt(d.var + d.eps)
    closed = d.closed_form.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == d.xhat,
        lambda e: (d.x[e.indices[0]] - d.mean) / std,
    )
    closed = _reduce(closed, {"n": d.n, "x": d.x, "mean": d.mean, "var": d.var})
    return sp.simplify(d.dx - closed) == 0
