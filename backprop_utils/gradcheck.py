"""Finite-difference gradient checks.

A gradient check compares a gradient computed by hand (the *analytic* gradient) with one
estimated from function values alone (the *numerical* gradient). Every function here uses the
centred difference

    df/dx_k ~ (f(x + h e_k) - f(x - h e_k)) / (2 h),

whose error is O(h^2) for a smooth f, and the relative error of CS231n to compare the two.

The probes change ``x`` in place (so that a function that closes over ``x`` sees them) and put the
original value back after each probe, also when ``f`` raises. ``x`` is therefore unchanged,
bit for bit, when a function returns.

The probes ``x + h`` and ``x - h`` are stored in the dtype of ``x``, so the step they span is
rarely exactly ``2 h``: in float32, 1 + 1e-5 is stored as 1.0000100136. Every quotient divides by
the step actually taken, the difference of the two stored probes (the gradient of sum(x^2) at
1 in float32 comes out 2, not 2.0027). Where ``h`` is below half the spacing of that dtype at
``x_k`` (about 1.1e-16 at ``x_k = 1`` in float64, 6e-8 in float32), both probes round back to
``x_k`` and the gradient there comes out 0: the round-off regime, which chapter 3 plots.
float16 ``x`` is refused: its spacing near 1 is about 1e-3, so the default ``h = 1e-5`` does not
move ``x`` at all, and a step large enough to move it is itself rounded by up to 5e-4.

``f`` must be finite at every probe, and a difference quotient that float64 cannot hold is
refused rather than returned as infinity. Masked arrays are refused with a TypeError, as
arguments and as what ``f`` returns: their mask would be ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike

from backprop_utils._validation import refuse_masked

__all__ = [
    "grad_check_sparse",
    "numerical_gradient",
    "numerical_gradient_array",
    "rel_error",
]


def _validate(f: object, x: object, h: object) -> None:
    """Check the arguments shared by every finite-difference function.

    Raises
    ------
    TypeError
        If `f` is not callable, `x` is not a floating-point ndarray or is float16, or `h` is
        not a real number.
    ValueError
        If `x` is read-only or not finite, or `h` is not a finite positive number.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    refuse_masked("x", x)
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        kind = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(
            f"x must be a floating-point numpy array (it is probed in place), got {kind}; "
            "convert it first, e.g. x = np.asarray(x, dtype=float)"
        )
    if x.dtype == np.float16:
        raise TypeError(
            "x is float16, too coarse for a finite difference: its spacing near 1 is about "
            "1e-3, so x + h rounds back to x there for any h below about 5e-4 (the default "
            "is 1e-5), and a larger step is itself rounded by up to 5e-4; convert it first, "
            "e.g. x = x.astype(np.float64)"
        )
    if not x.flags.writeable:
        raise ValueError("x must be a writeable array: the probes change it in place")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite (no nan or inf)")
    if isinstance(h, bool) or not isinstance(h, Real):
        raise TypeError(f"h must be a real number, got {type(h).__name__}")
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"h must be a finite number > 0, got {h}")


def _as_real_array(value: np.ndarray) -> np.ndarray:
    """Return what f produced as a float64 array, or raise if it is not real numbers."""
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise TypeError(f"f must return real numbers, got dtype {value.dtype}")
    return value.astype(np.float64)


def _real_argument(name: str, value: object) -> np.ndarray:
    """Return an array argument (`a`, `b`, `dout`, `analytic_grad`) as finite float64.

    ``np.asarray(value, dtype=np.float64)`` alone would read the string "1.0" as 1.0 and True
    as 1.0 and drop the imaginary part of a complex number; each is refused here instead, and
    so is a masked array, whose mask would be dropped.
    """
    refuse_masked(name, value)
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of real numbers: {error}") from None
    if array.dtype == np.bool_ or array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no nan or inf)")
    return array


def _evaluate(f: Callable, x: np.ndarray) -> np.ndarray:
    """Return a copy of ``f(x)`` as an array, or raise if it is ragged.

    The copy keeps an f that returns a view of x measured correctly. A masked array is
    refused: the copy would drop its mask and keep the values under it.
    """
    value = f(x)  # outside the try: an error of f's own passes unchanged
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError("f must return real numbers, not a masked array: its mask would be ignored")
    try:
        return np.array(value, copy=True)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"f must return a rectangular array of real numbers: {error}") from None


def _as_scalar(value: np.ndarray) -> float:
    """Return the scalar that f produced as a float, or raise a clear error."""
    if value.ndim != 0:
        raise ValueError(
            f"f must return a scalar, got an array of shape {value.shape}; "
            "use numerical_gradient_array for array-valued functions"
        )
    return float(_as_real_array(value))


def _probe(
    f: Callable, x: np.ndarray, index: tuple, h: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Return f(x + h e_index), f(x - h e_index) and the step between the two stored probes.

    The step is ``(x_k + h) - (x_k - h)`` as the dtype of x stores the two probes, subtracted
    in extended precision (exactly, for float32 and float64 probes): that is the distance over
    which f changed, whatever 2 h rounds to. x[index] is restored even if f raises. Array
    results are copied, so an f that returns a view of x is still measured correctly.
    """
    old_value = x[index]
    try:
        x[index] = old_value + h
        probe_plus = x[index]  # as stored: rounded to the dtype of x
        plus = _evaluate(f, x)
        x[index] = old_value - h
        probe_minus = x[index]
        minus = _evaluate(f, x)
    finally:
        x[index] = old_value
    step = float(np.longdouble(probe_plus) - np.longdouble(probe_minus))
    return plus, minus, step


def _where(index: tuple) -> str:
    """An index as it is written between brackets: ``1, 2`` for (1, 2)."""
    return ", ".join(str(int(i)) for i in index)


def _finite_values(plus: np.ndarray, minus: np.ndarray, index: tuple) -> None:
    """Raise unless f was finite at both probes of x[index]."""
    if not (np.isfinite(plus).all() and np.isfinite(minus).all()):
        raise ValueError(
            f"f must be finite near x: it returned NaN or infinity at a probe of x[{_where(index)}]"
        )


def _quotient(difference: float, step: float, index: tuple, scale: float = 1.0) -> float:
    """scale * difference / step as a float; 0 where the step was lost; raise on overflow.

    ``scale`` is 1 unless the caller had to scale the difference down to compute it; the
    product is then formed in extended precision, so only a quotient that float64 cannot hold
    overflows.
    """
    if step == 0:  # x_k + h and x_k - h both rounded back to x_k: nothing was measured
        return 0.0
    with np.errstate(over="ignore"):
        if scale == 1.0:
            quotient = np.float64(difference) / step
        else:
            quotient = np.float64(np.longdouble(difference) * np.longdouble(scale) / step)
    if not np.isfinite(quotient):
        raise ValueError(
            f"the difference quotient at x[{_where(index)}] overflows float64: f changes by more "
            f"than about {np.finfo(np.float64).max:.1e} times the step {step:.3g}; use a larger h "
            "or rescale f"
        )
    return float(quotient)


def _centred_difference(plus: np.ndarray, minus: np.ndarray, step: float, index: tuple) -> float:
    """(plus - minus) / step for scalar f values, halved first if the difference overflows."""
    plus, minus = _as_scalar(plus), _as_scalar(minus)
    _finite_values(np.float64(plus), np.float64(minus), index)
    difference = plus - minus  # Python floats: inf, not an error, if it overflows
    if math.isinf(difference):  # |plus - minus| above the largest float: halve both
        return _quotient(plus / 2 - minus / 2, step, index, scale=2.0)
    return _quotient(difference, step, index)


def _weighted_difference(
    plus: np.ndarray, minus: np.ndarray, dout: np.ndarray, step: float, index: tuple
) -> float:
    """sum((plus - minus) * dout) / step, scaled first if an intermediate overflows."""
    plus, minus = _as_real_array(plus), _as_real_array(minus)
    _finite_values(plus, minus, index)
    with np.errstate(over="ignore", invalid="ignore"):
        weighted = np.sum((plus - minus) * dout)
    if np.isfinite(weighted):
        return _quotient(weighted, step, index)
    # scale the values and dout into [-1, 1] first, and the two scales back in at the end
    value_scale = max(np.abs(plus).max(), np.abs(minus).max())
    dout_scale = np.abs(dout).max()
    scaled = np.sum((plus / value_scale - minus / value_scale) * (dout / dout_scale))
    return _quotient(scaled, step, index, scale=np.longdouble(value_scale) * dout_scale)


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Centred-difference gradient of a scalar function at every coordinate of `x`.

    Parameters
    ----------
    f : callable
        ``f(x) -> scalar``. It is called with `x` itself, changed in place at one coordinate.
    x : ndarray of float32, float64 or a longer float, any shape
        The point. Changed during the probes, restored after each one (also if `f` raises).
    h : float, default 1e-5
        The step, > 0. The error is O(h^2) from truncation plus about ``eps * abs(f) / h`` from
        rounding, so h near eps^(1/3) (about 6e-6 in float64, 5e-3 in float32) is best. Where
        ``x_k + h`` and ``x_k - h`` both round back to ``x_k`` in the dtype of `x`, ``grad[k]``
        is 0.

    Returns
    -------
    grad : ndarray of float64, same shape as `x`
        ``grad[k] = (f(x + h e_k) - f(x - h e_k)) / step_k``, where ``step_k`` is the step
        actually taken, ``(x_k + h) - (x_k - h)`` as stored in the dtype of `x` (2 h up to
        rounding).

    Raises
    ------
    TypeError
        If `f` is not callable, `x` is not a floating-point ndarray, is float16 (too coarse
        for any step) or is a masked array, `h` is not a real number, or `f` returns something
        other than a real number (a masked array included).
    ValueError
        If `x` is read-only or not finite, `h` is not finite and > 0, `f` returns an array,
        `f` returns NaN or infinity at a probe, or a quotient overflows float64.
    """
    _validate(f, x, h)
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        plus, minus, step = _probe(f, x, index, h)
        grad[index] = _centred_difference(plus, minus, step, index)
    return grad


def numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: ArrayLike, h: float = 1e-5
) -> np.ndarray:
    """Centred-difference gradient of ``sum(f(x) * dout)`` for an array-valued `f`.

    This is what a layer's backward pass returns for the upstream gradient `dout`:
    ``grad[k] = sum((f(x + h e_k) - f(x - h e_k)) * dout) / (2 h)``.

    Parameters
    ----------
    f : callable
        ``f(x) -> ndarray``. It is called with `x` itself, changed in place at one coordinate.
    x : ndarray of float32, float64 or a longer float, any shape
        The point. Changed during the probes, restored after each one (also if `f` raises).
    dout : array_like of float, shape ``f(x).shape``
        The upstream gradient. Use a random one: an all-ones `dout` can hide a wrong backward.
    h : float, default 1e-5
        The step, > 0.

    Returns
    -------
    grad : ndarray of float64, same shape as `x`
        ``grad[k] = sum((f(x + h e_k) - f(x - h e_k)) * dout) / step_k``, with ``step_k`` as
        in :func:`numerical_gradient`.

    Raises
    ------
    TypeError
        As for :func:`numerical_gradient`, or if `dout` is not an array of real numbers (bool,
        complex, text, object and masked arrays are refused), or `f` returns something else.
    ValueError
        As for :func:`numerical_gradient`, or if `dout` is ragged or not finite or its shape
        is not ``f(x).shape``, or `f` returns a ragged array.
    """
    _validate(f, x, h)
    dout = _real_argument("dout", dout)
    out_shape = _as_real_array(_evaluate(f, x)).shape
    if dout.shape != out_shape:
        raise ValueError(f"dout must have the shape of f(x), {out_shape}, got {dout.shape}")
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        plus, minus, step = _probe(f, x, index, h)
        if plus.shape != out_shape or minus.shape != out_shape:
            raise ValueError(f"f must return the same shape at every probe, {out_shape}")
        grad[index] = _weighted_difference(plus, minus, dout, step, index)
    return grad


def rel_error(a: ArrayLike, b: ArrayLike) -> float:
    """Largest elementwise relative error, CS231n's definition.

    ``max(|a - b| / max(1e-8, |a| + |b|))``. It lies in [0, 1], is symmetric, and is 0 only
    when ``a == b``. Where ``|a| + |b|`` would overflow (a and b near 1e308), both are halved
    first, which leaves the ratio unchanged. Rule of thumb for a float64 gradient check: below
    1e-7 is right, around 1e-4 is suspicious unless the function has kinks, above 1e-2 is
    wrong.

    Parameters
    ----------
    a, b : array_like of real numbers, the same shape (scalars allowed), not empty

    Returns
    -------
    error : float

    Raises
    ------
    TypeError
        If `a` or `b` is not an array of real numbers: bool, complex, text, object and masked
        arrays are refused rather than converted.
    ValueError
        If `a` or `b` is ragged, the shapes differ, the arrays are empty, or a value is not
        finite.
    """
    a, b = _real_argument("a", a), _real_argument("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("a and b must not be empty")
    return float(np.max(_relative_errors(a, b)))


def _relative_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| / max(1e-8, |a| + |b|) elementwise, for finite float64 a and b.

    Where |a| + |b| overflows (and with it, possibly, |a - b|), a and b are halved first:
    the ratio is the same, the denominator is then above 1e-8 anyway, and halving a number
    that large is exact.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is handled below
        magnitudes = np.abs(a) + np.abs(b)
        errors = np.array(np.abs(a - b) / np.maximum(1e-8, magnitudes))
    overflow = np.isinf(magnitudes)  # |a - b| <= |a| + |b|: it can only overflow with it
    if overflow.any():
        half_a, half_b = a[overflow] / 2, b[overflow] / 2
        errors[overflow] = np.abs(half_a - half_b) / (np.abs(half_a) + np.abs(half_b))
    return errors


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: ArrayLike,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int | None = 0,
) -> np.ndarray:
    """Check an analytic gradient at a few random coordinates of a large `x`.

    Each check is the relative error between one centred difference and the analytic value,
    ``|num - ana| / max(1e-8, |num| + |ana|)``. Two evaluations of `f` per check, whatever the
    size of `x`.

    Parameters
    ----------
    f : callable
        ``f(x) -> scalar``, called with `x` changed in place at one coordinate.
    x : ndarray of float32, float64 or a longer float, any shape
        The point; restored after each probe.
    analytic_grad : array_like of float, shape ``x.shape``
        The gradient to check.
    num_checks : int, default 10
        How many distinct coordinates to probe, 1 <= num_checks <= x.size.
    h : float, default 1e-5
        The step, > 0.
    seed : int >= 0 or None, default 0
        Seed of the generator that picks the coordinates; None for a fresh one each call.

    Returns
    -------
    errors : ndarray of float64, shape (num_checks,)
        The relative error at each probed coordinate.

    Raises
    ------
    TypeError
        As for :func:`numerical_gradient`, or if `num_checks` is not an integer, `seed` is
        neither an integer nor None, or `analytic_grad` is not an array of real numbers (or is
        a masked array).
    ValueError
        As for :func:`numerical_gradient`, or if `analytic_grad` is ragged, has not the shape
        of `x` or is not finite, `num_checks` is outside 1..x.size, or `seed` is negative.
    """
    _validate(f, x, h)
    analytic_grad = _real_argument("analytic_grad", analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(
            f"analytic_grad must have the shape of x, {x.shape}, got {analytic_grad.shape}"
        )
    if isinstance(num_checks, bool) or not isinstance(num_checks, Integral):
        raise TypeError(f"num_checks must be an integer, got {type(num_checks).__name__}")
    if not 1 <= num_checks <= x.size:
        raise ValueError(f"num_checks must be between 1 and x.size = {x.size}, got {num_checks}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral)):
        raise TypeError(f"seed must be an integer or None, got {type(seed).__name__}")
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    flat_indices = rng.choice(x.size, size=num_checks, replace=False)
    errors = np.empty(num_checks, dtype=np.float64)
    for k, flat_index in enumerate(flat_indices):
        index = np.unravel_index(flat_index, x.shape)
        plus, minus, step = _probe(f, x, index, h)
        numeric = _centred_difference(plus, minus, step, index)
        errors[k] = _relative_errors(np.float64(numeric), analytic_grad[index])
    return errors
