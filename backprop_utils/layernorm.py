"""Layer normalization: batch normalization applied to the rows instead of the columns.

For a batch ``x`` of ``N`` samples with ``D`` features, every sample (row) is normalized
with its own mean and biased variance over its D features, then scaled and shifted per
feature:

    mean_i = (1/D) sum_j x_ij,   var_i = (1/D) sum_j (x_ij - mean_i)^2,
    xhat_i = (x_i - mean_i) / sqrt(var_i + eps),   out_i = gamma * xhat_i + beta.

No statistic is shared between samples, so training and inference are the same computation,
there are no running statistics, and a batch of one sample works. This is
``torch.nn.functional.layer_norm`` over the last dimension.

Float32 ``x`` gives float32 output; any other real ``x`` is computed in float64. Inputs are
never modified.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["LayerNormCache", "layernorm_backward", "layernorm_forward"]


class LayerNormCache(NamedTuple):
    """What :func:`layernorm_forward` keeps for the backward pass.

    Attributes
    ----------
    xhat : ndarray, shape (N, D)
        The normalized rows, float32 or float64 (a new array, not a view of ``x``).
    inv_std : ndarray, shape (N,)
        1 / sqrt(var + eps) of each row.
    gamma : ndarray, shape (D,)
        Scale, in the dtype of ``xhat``.
    """

    xhat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray


def _check_array(name: str, value: object, dtype: type | None = None) -> np.ndarray:
    """Return ``value`` as a finite float array: float32 if it is float32, else float64
    (or ``dtype`` when given); raise naming ``name`` if it cannot be one."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"{name} must be a plain array, not a masked array: fill it first")
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular numeric array") from err
    if array.dtype == np.bool_ or array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {array.dtype}")
    if dtype is None:
        dtype = np.float32 if array.dtype == np.float32 else np.float64
    with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf: refused below
        array = array.astype(dtype, copy=False)
    if not np.isfinite(array).all():
        beyond = " or a value beyond float32's range" if dtype == np.float32 else ""
        raise ValueError(f"{name} must be finite: found NaN or infinity{beyond}")
    return array


def _check_forward(
    x: object, gamma: object, beta: object, eps: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.floating]:
    """Validate the forward arguments; return them in the float dtype of the result."""
    x = _check_array("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D of shape (N, D), got shape {x.shape}")
    n_samples, n_features = x.shape
    if n_samples == 0:
        raise ValueError("x holds an empty batch: N must be at least 1")
    if n_features == 0:
        raise ValueError("x has no features: D must be at least 1")
    gamma = _check_array("gamma", gamma, x.dtype.type)
    beta = _check_array("beta", beta, x.dtype.type)
    for name, param in (("gamma", gamma), ("beta", beta)):
        if param.shape != (n_features,):
            raise ValueError(
                f"{name} must have shape ({n_features},), one value per feature of x, "
                f"got shape {param.shape}"
            )
    if isinstance(eps, bool) or not isinstance(eps, int | float | np.integer | np.floating):
        raise TypeError(f"eps must be a positive real number, got {type(eps).__name__}")
    with np.errstate(over="ignore"):  # 1e-50 is 0 in float32, 1e300 is inf: refused below
        try:
            eps_in_dtype = x.dtype.type(eps)
        except OverflowError:  # an int beyond float64's range
            eps_in_dtype = x.dtype.type(np.inf)
    if not (np.isfinite(eps_in_dtype) and eps_in_dtype > 0):
        raise ValueError(f"eps must be a positive finite number that {x.dtype} can hold, got {eps}")
    return x, gamma, beta, eps_in_dtype


def _check_backward(dout: object, cache: object) -> tuple[np.ndarray, LayerNormCache]:
    """Validate the backward arguments; return dout in the dtype of xhat, and the cache."""
    if not isinstance(cache, LayerNormCache):
        raise TypeError(
            "cache must be the LayerNormCache returned by layernorm_forward, "
            f"got {type(cache).__name__}"
        )
    xhat, inv_std, gamma = cache
    if not (
        isinstance(xhat, np.ndarray) and xhat.ndim == 2 and xhat.dtype in (np.float32, np.float64)
    ):
        raise ValueError("cache.xhat must be the (N, D) float array that layernorm_forward made")
    n_samples, n_features = xhat.shape
    for field, value, shape in (
        ("inv_std", inv_std, (n_samples,)),
        ("gamma", gamma, (n_features,)),
    ):
        if not (
            isinstance(value, np.ndarray) and value.shape == shape and value.dtype == xhat.dtype
        ):
            raise ValueError(
                f"cache.{field} must be a {xhat.dtype} array of shape {shape}: "
                "pass the cache that layernorm_forward returned, unchanged"
            )
    dout = _check_array("dout", dout, xhat.dtype.type)
    if dout.shape != xhat.shape:
        raise ValueError(f"dout must have shape {xhat.shape}, the shape of x, got {dout.shape}")
    return dout, cache


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, LayerNormCache]:
    """Layer normalization forward pass: each row normalized over its D features.

    Parameters
    ----------
    x : array_like of real numbers, shape (N, D), N >= 1
        A batch of N samples with D features, finite.
    gamma : array_like, shape (D,)
        Scale of each feature.
    beta : array_like, shape (D,)
        Shift of each feature.
    eps : float, default 1e-5
        Positive constant added to each row's variance.

    Returns
    -------
    out : ndarray, shape (N, D), float32 if ``x`` is float32 else float64
        gamma * xhat + beta.
    cache : LayerNormCache
        What :func:`layernorm_backward` needs: xhat, 1/sqrt(var + eps) per row, gamma.

    Raises
    ------
    TypeError
        If an array argument is not real numeric or is a masked array, or ``eps`` is not a
        number.
    ValueError
        If ``x`` is ragged, not 2-D, has no rows or no columns, or holds NaN or infinity;
        if ``gamma`` or ``beta`` does not have shape (D,) or is not finite in the dtype of
        the result; if ``eps`` is not positive there; if a row's variance or the output
        overflows.
    """
    x, gamma, beta, eps = _check_forward(x, gamma, beta, eps)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is tested just below
        mean = x.mean(axis=1, keepdims=True)
        centred = x - mean
        var = (centred**2).mean(axis=1)
    if not np.isfinite(var).all():
        raise ValueError(f"x is too large: the variance of a row overflows {x.dtype}; rescale x")
    inv_std = 1 / np.sqrt(var + eps)
    xhat = centred * inv_std[:, None]
    with np.errstate(over="ignore"):
        out = gamma * xhat + beta
    if not np.isfinite(out).all():
        raise ValueError(f"gamma or beta is too large: gamma * xhat + beta overflows {x.dtype}")
    return out, LayerNormCache(xhat, inv_std, gamma)


def layernorm_backward(
    dout: np.ndarray, cache: LayerNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer normalization backward pass: batch norm's closed form, applied to each row.

    Within a row, xhat = (x - mean) / s with s = sqrt(var + eps) is the batch-norm
    normalization of a batch of D numbers. So with g = dout * gamma, the gradient that
    reaches xhat, batch norm's closed form gives each row of dx, means taken over the row:

        dx     = (1/s) * (g - mean(g) - xhat * mean(g * xhat)),
        dgamma = sum_i dout_i * xhat_i,
        dbeta  = sum_i dout_i.

    gamma is inside g here, not a factor in front as in batch norm, because it varies
    along the row. dx projects g / s onto the directions orthogonal to the ones vector and
    to xhat: each row of dx sums to zero and, up to a term of order eps, is orthogonal to
    its row of xhat.

    Parameters
    ----------
    dout : array_like of real numbers, shape (N, D)
        Upstream gradient.
    cache : LayerNormCache
        From :func:`layernorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma : ndarray, shape (D,)
    dbeta : ndarray, shape (D,)
        All in the dtype of ``x``.

    Raises
    ------
    TypeError
        If ``dout`` is not real numeric or is a masked array, or ``cache`` is not a
        LayerNormCache.
    ValueError
        If ``dout`` is ragged, does not have the shape of ``x`` or is not finite, if the
        cache was altered, or if a gradient overflows.
    """
    dout, (xhat, inv_std, gamma) = _check_backward(dout, cache)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is tested just below
        dbeta = dout.sum(axis=0)
        dgamma = (dout * xhat).sum(axis=0)
        dxhat = dout * gamma  # g
        dxhat_mean = dxhat.mean(axis=1, keepdims=True)  # mean(g), one per row
        projection = (dxhat * xhat).mean(axis=1, keepdims=True)  # mean(g * xhat), one per row
        dx = inv_std[:, None] * (dxhat - dxhat_mean - xhat * projection)
    if not all(np.isfinite(grad).all() for grad in (dx, dgamma, dbeta)):
        raise ValueError(f"dout is too large: the gradients overflow {xhat.dtype}")
    return dx, dgamma, dbeta
