"""Affine and ReLU layers, each a forward/backward pair.

``forward(...) -> (out, cache)`` and ``backward(dout, cache) -> gradients``, as in CS231n.
Float32 input gives float32 output (for the affine layer: when ``x`` is float32); any
other real input is computed in float64. Inputs are never modified. Masked arrays are
refused with a TypeError (their mask would be ignored), and so is, with a ValueError, a finite
value that the dtype computed in cannot hold (1e39 with float32 ``x``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from backprop_utils._validation import OverflowValueError, refuse_masked

__all__ = [
    "AffineCache",
    "affine_backward",
    "affine_forward",
    "relu_backward",
    "relu_forward",
]


class AffineCache(NamedTuple):
    """What :func:`affine_forward` keeps: references to its (converted) inputs.

    Attributes
    ----------
    x : ndarray, shape (N, d_1, ..., d_k)
    w : ndarray, shape (D, M) with D = d_1 * ... * d_k
    b : ndarray, shape (M,)
    """

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray


def _check_array(
    name: str,
    value: object,
    shape: tuple[int | None, ...] | None = None,
    dtype: type | None = None,
    finite: bool = False,
    shape_note: str = "",
) -> np.ndarray:
    """Validate one array argument; return it as a float array.

    ``shape`` (None entries match any size) is checked when given; ``shape_note`` says in the
    message where that shape comes from. The result is float32 if ``value`` is float32 and
    float64 otherwise (float16 and integers included), unless ``dtype`` says which. A finite
    value that the cast to ``dtype`` would turn into infinity (1e39 cast to float32) is
    refused: the result could not hold it. Masked arrays are refused: their mask would be
    ignored.
    """
    refuse_masked(name, value)
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular numeric array") from err
    if array.dtype == np.bool_ or array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {array.dtype}")
    if shape is not None and (
        array.ndim != len(shape)
        or any(size not in (None, got) for size, got in zip(shape, array.shape, strict=True))
    ):
        wanted = ", ".join("any" if size is None else str(size) for size in shape)
        wanted += "," if len(shape) == 1 else ""
        raise ValueError(f"{name} must have shape ({wanted}){shape_note}, got shape {array.shape}")
    if dtype is None:
        dtype = np.float32 if array.dtype == np.float32 else np.float64
    original = array
    with np.errstate(over="ignore"):  # an overflowing cast is tested below
        array = array.astype(dtype, copy=False)
    if finite and not np.isfinite(array).all():
        if np.isfinite(original).all():
            raise _beyond_range(name, dtype)
        raise ValueError(f"{name} must be finite: found NaN or infinity")
    if not finite and original.dtype.itemsize > array.dtype.itemsize and original.dtype.kind == "f":
        # a narrowing float cast: what was finite must stay finite
        if not np.array_equal(np.isfinite(array), np.isfinite(original)):
            raise _beyond_range(name, dtype)
    return array


def _beyond_range(name: str, dtype: type) -> ValueError:
    """The error for a finite value that the cast to ``dtype`` would make infinite."""
    largest = float(np.finfo(dtype).max)
    return ValueError(
        f"{name} holds values beyond the range of {np.dtype(dtype).name} (about {largest:.1e}), "
        "the dtype the layer computes in (float32 only when x is float32)"
    )


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """Affine layer: out = x @ w + b, each sample flattened to a row.

    Parameters
    ----------
    x : array_like of real numbers, shape (N, d_1, ..., d_k), N >= 1
        A batch; each sample is reshaped to a vector of length D = d_1 * ... * d_k.
    w : array_like of real numbers, shape (D, M)
        Weights.
    b : array_like of real numbers, shape (M,)
        Biases.

    Returns
    -------
    out : ndarray, shape (N, M), float32 if ``x`` is float32 else float64
    cache : AffineCache
        References to x, w, b for :func:`affine_backward`.

    Raises
    ------
    TypeError
        If an argument is not a real numeric array, or is a masked array.
    ValueError
        If ``x`` has fewer than 2 dimensions or no rows, if the shapes do not chain
        (w must be (D, M), b must be (M,)), if any argument holds NaN or infinity, if
        ``w`` or ``b`` holds a value beyond the range of float32 when ``x`` is float32, or if
        ``out`` overflows (the arguments are too large).
    """
    x = _check_array("x", x, finite=True)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, d_1, ..., d_k) with k >= 1, got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("x holds an empty batch: N must be at least 1")
    n_inputs = int(np.prod(x.shape[1:]))
    w = _check_array("w", w, (n_inputs, None), x.dtype.type, finite=True)
    b = _check_array("b", b, (w.shape[1],), x.dtype.type, finite=True)
    with np.errstate(over="ignore", invalid="ignore"):  # tested on the next line
        out = x.reshape(x.shape[0], n_inputs) @ w + b
    _check_result(out, "out = x @ w + b", "x, w or b")
    return out, AffineCache(x, w, b)


def affine_backward(
    dout: np.ndarray, cache: AffineCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`affine_forward`.

    Parameters
    ----------
    dout : array_like of real numbers, shape (N, M)
        Upstream gradient.
    cache : AffineCache
        From :func:`affine_forward`.

    Returns
    -------
    dx : ndarray, shape of x (N, d_1, ..., d_k)
    dw : ndarray, shape (D, M)
    db : ndarray, shape (M,)
        All in the dtype of the forward output.

    Raises
    ------
    TypeError
        If ``dout`` is not a real numeric array, ``cache`` is not an AffineCache or one of its
        fields is not a real numeric array (masked arrays are refused).
    ValueError
        If the cache's shapes do not chain (cache.x (N, d_1, ..., d_k) with N >= 1, cache.w
        (D, M), cache.b (M,)), ``dout`` does not have shape (N, M) or is not finite, a value
        is beyond the range of float32 when cache.x is float32, or a gradient overflows.
    """
    if not isinstance(cache, AffineCache):
        raise TypeError(
            f"cache must be the AffineCache returned by affine_forward, got {type(cache).__name__}"
        )
    x = _check_array("cache.x", cache.x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(
            f"cache.x must have shape (N, d_1, ..., d_k) with N >= 1, got shape {x.shape}"
        )
    n_inputs = int(np.prod(x.shape[1:]))
    from_x = f" to chain with cache.x of shape {x.shape}"
    w = _check_array("cache.w", cache.w, (n_inputs, None), x.dtype.type, shape_note=from_x)
    from_w = f" to chain with cache.w of shape {w.shape}"
    _check_array("cache.b", cache.b, (w.shape[1],), x.dtype.type, shape_note=from_w)
    from_cache = f", (N, M) from cache.x {x.shape} and cache.w {w.shape}"
    dout = _check_array(
        "dout", dout, (x.shape[0], w.shape[1]), x.dtype.type, finite=True, shape_note=from_cache
    )
    x_rows = x.reshape(x.shape[0], -1)
    with np.errstate(over="ignore", invalid="ignore"):  # tested below
        dx = (dout @ w.T).reshape(x.shape)
        dw = x_rows.T @ dout
        db = dout.sum(axis=0)
    _check_result(dx, "dx = dout @ w.T", "dout or cache.w")
    _check_result(dw, "dw = x.T @ dout", "dout or cache.x")
    _check_result(db, "db, the column sums of dout,", "dout")
    return dx, dw, db


def _check_result(result: np.ndarray, what: str, names: str) -> None:
    """Raise if a result computed from finite arguments overflowed (inf, or inf - inf)."""
    if not np.isfinite(result).all():
        raise OverflowValueError(
            f"{what} overflows {result.dtype}: {names} is too large; rescale them"
        )


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ReLU: out = max(0, x), element-wise.

    NaN passes through as NaN; infinities are valid inputs.

    Parameters
    ----------
    x : array_like of real numbers, any shape

    Returns
    -------
    out : ndarray, shape of x, float32 if ``x`` is float32 else float64
    cache : ndarray
        ``x`` (converted), for :func:`relu_backward`.

    Raises
    ------
    TypeError
        If ``x`` is not a real numeric array, or is a masked array.
    ValueError
        If ``x`` has a float type wider than float64 and holds values beyond its range.
    """
    x = _check_array("x", x)
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of :func:`relu_forward`: dx = dout where x > 0, else 0.

    The gradient at x == 0 is taken as 0.

    Parameters
    ----------
    dout : array_like of real numbers, shape of x
        Upstream gradient.
    cache : ndarray of real numbers
        From :func:`relu_forward`: its input x.

    Returns
    -------
    dx : ndarray, shape of x, float32 if ``cache`` is float32 else float64
        Whatever the dtype of ``dout``: an integer, boolean or float16 cache does not make
        the gradient integer, boolean or float16.

    Raises
    ------
    TypeError
        If ``dout`` or ``cache`` is not a real numeric array (bool, complex, text, object
        and masked arrays are refused).
    ValueError
        If ``dout`` does not have the shape of the cached x, or holds finite values beyond the
        range of float32 when the cache is float32.
    """
    if not isinstance(cache, np.ndarray):
        raise TypeError(
            f"cache must be the array returned by relu_forward, got {type(cache).__name__}"
        )
    x = _check_array("cache", cache)
    dout = _check_array("dout", dout, x.shape, x.dtype.type, shape_note=", the shape of cache")
    return np.where(x > 0, dout, 0)
