"""Batch normalization: forward in training mode, backward two ways, and a layer.

For a batch ``x`` of ``N`` samples with ``D`` features, training mode normalizes every
feature with the batch mean and the biased batch variance, then scales and shifts:

    mean = (1/N) sum_i x_i,   var = (1/N) sum_i (x_i - mean)^2,
    xhat = (x - mean) / sqrt(var + eps),   out = gamma * xhat + beta.

:func:`batchnorm_backward` walks the layer's graph node by node; :func:`batchnorm_backward_alt`
is the closed form. :class:`BatchNorm` adds running statistics and an inference mode.

Float32 ``x`` gives float32 output; any other real ``x`` is computed in float64. Inputs are
never modified. With float32 ``x`` every parameter must fit float32: a gamma, beta or running
statistic beyond its range (about 3.4e38), or an eps that rounds to 0 or infinity in it, is
refused with a ValueError that names it. Masked arrays are refused with a TypeError: their mask
would be ignored.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from backprop_utils._validation import OverflowValueError, refuse_masked

# The forward and closed-form backward passes work on blocks of rows of about this many
# bytes: half the L2 cache of a typical core, so each block is read from memory once.
_BLOCK_BYTES = 2**19

__all__ = [
    "BatchNorm",
    "BatchNormCache",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
]


class BatchNormCache(NamedTuple):
    """What :func:`batchnorm_forward` keeps for the backward pass.

    It holds a reference to ``x``, not a copy (like PyTorch, the backward pass recomputes
    ``x - mean`` instead of storing it): do not modify ``x`` in place before calling a
    backward function.

    Attributes
    ----------
    x : ndarray, shape (N, D)
        The input, float32 or float64.
    mean : ndarray, shape (D,)
        Batch mean of each feature.
    var : ndarray, shape (D,)
        Biased batch variance of each feature.
    inv_std : ndarray, shape (D,)
        1 / sqrt(var + eps).
    gamma : ndarray, shape (D,)
        Scale, in the dtype of ``x``.
    eps : float
        The constant added to the variance.
    """

    x: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    eps: float


def _as_float_array(value: object, name: str) -> np.ndarray:
    """``value`` as a real numeric array (not yet cast), or raise naming ``name``."""
    refuse_masked(name, value)
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular numeric array") from err
    if array.dtype == np.bool_ or array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {array.dtype}")
    return array


def _column_dot(a: np.ndarray, b: np.ndarray, block: int = 512) -> np.ndarray:
    """sum_i a_ij * b_ij for every column j, shape (D,), with no (N, D) temporary.

    ``einsum`` adds the rows one after another, so its rounding error grows like N; adding
    blocks of rows first and the block sums after keeps float32 results accurate.
    """
    return sum(
        np.einsum("ij,ij->j", a[start : start + block], b[start : start + block])
        for start in range(0, a.shape[0], block)
    )


def _row_blocks(shape: tuple[int, int], itemsize: int) -> tuple[int, list[slice]]:
    """Rows per block, and the slices that cut the rows of an (N, D) array into blocks.

    A block holds about ``_BLOCK_BYTES`` (at most N rows): small enough to stay in the L2
    cache while several passes are made over it, large enough that NumPy's cost per call
    stays small against the work.
    """
    n_rows, n_cols = shape
    block_rows = min(n_rows, max(1, _BLOCK_BYTES // (n_cols * itemsize)))
    return block_rows, [slice(start, start + block_rows) for start in range(0, n_rows, block_rows)]


def _tile(vector: np.ndarray, block_rows: int, n_rows: int) -> np.ndarray:
    """A (D,) vector repeated on ``block_rows`` rows, to update blocks of an (N, D) array.

    Updating a block by the tiled copy is a plain elementwise operation, about twice as
    fast in NumPy as broadcasting the (D,) vector over the rows. When one block holds all
    N rows the copy would cost memory for little gain, and the vector comes back as a
    (1, D) row, which broadcasts.
    """
    if block_rows >= n_rows:
        return vector[None, :]
    return np.tile(vector, (block_rows, 1))


def _beyond_range(name: str, dtype: type) -> OverflowValueError:
    """The error for a finite value that the cast to ``dtype`` made infinite."""
    return OverflowValueError(
        f"{name} holds values beyond the range of {np.dtype(dtype).name} (about "
        f"{float(np.finfo(dtype).max):.1e}), the dtype of x; pass x as float64"
    )


def _finite_in(array: np.ndarray, name: str, dtype: type) -> np.ndarray:
    """A real numeric array cast to ``dtype`` and finite there, or raise naming ``name``.

    A finite value that the cast makes infinite (1e39 to float32) gets its own message.
    """
    if array.dtype == dtype:
        cast = array
    else:
        with np.errstate(over="ignore"):  # an overflowing cast is tested below
            cast = array.astype(dtype)
    if not np.isfinite(cast).all():
        if np.isfinite(array).all():
            raise _beyond_range(name, dtype)
        raise ValueError(f"{name} must be finite: found NaN or infinity")
    return cast


# In float32, a positive float64 at or below _FLOAT32_ZERO rounds to 0 (2^-150 ties to even, 0),
# and one from _FLOAT32_INFINITE (the float32 maximum plus half its last place) to infinity.
_FLOAT32_ZERO = float(np.finfo(np.float32).smallest_subnormal) / 2
_FLOAT32_INFINITE = 2.0**128 - 2.0**103


def _check_eps(eps: object, dtype: type) -> float:
    """eps as a float: a positive real number that is neither 0 nor infinite in ``dtype``."""
    if type(eps) is float and 0 < eps < math.inf:  # the fast path of every training step
        if dtype is np.float64 or _FLOAT32_ZERO < eps < _FLOAT32_INFINITE:
            return eps
    if isinstance(eps, bool) or not isinstance(eps, int | float | np.integer | np.floating):
        raise TypeError(f"eps must be a positive real number, got {type(eps).__name__}")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps}")
    with np.errstate(over="ignore", under="ignore"):
        in_dtype = np.asarray(eps, dtype=np.float64).astype(dtype)
    if in_dtype == 0 or not np.isfinite(in_dtype):
        name = np.dtype(dtype).name
        raise ValueError(
            f"eps = {eps} is {'0' if in_dtype == 0 else 'infinite'} in {name}, the dtype of "
            f"x: use an eps between {float(np.finfo(dtype).smallest_subnormal):.1e} and "
            f"{float(np.finfo(dtype).max):.1e}, or pass x as float64"
        )
    return float(eps)


def _check_batchnorm(
    x: object, gamma: object, beta: object, eps: object, train: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Validate the forward arguments.

    Returns x, gamma and beta in one float dtype (float32 if ``x`` is float32, else float64;
    no copy when already so), eps as a float, and the batch mean of ``x``: its column sums
    are NaN or infinite exactly when some element is, so they are the finiteness test.
    """
    x = _as_float_array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D of shape (N, D), got shape {x.shape}")
    n_samples, n_features = x.shape
    if n_samples == 0:
        raise ValueError("x holds an empty batch: N must be at least 1")
    if n_features == 0:
        raise ValueError("x has no features: D must be at least 1")
    if train and n_samples < 2:
        raise ValueError(
            "x must hold at least 2 samples in training mode: "
            "the batch variance of a single sample is 0"
        )
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    x = x.astype(dtype, copy=False)
    params = []
    for name, param in (("gamma", gamma), ("beta", beta)):
        param = _as_float_array(param, name)
        if param.shape != (n_features,):
            raise ValueError(
                f"{name} must have shape ({n_features},), one value per feature of x, "
                f"got shape {param.shape}"
            )
        params.append(_finite_in(param, name, dtype))
    eps = _check_eps(eps, dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # tested on the next line
        mean = np.ones(n_samples, dtype) @ x / n_samples  # column sums by BLAS: fast
    if not np.isfinite(mean).all():
        if not np.isfinite(x).all():
            raise ValueError("x must be finite: found NaN or infinity")
        raise OverflowValueError(
            f"x is too large: its batch mean overflows {dtype.__name__}; rescale x"
        )
    return x, params[0], params[1], eps, mean


_CACHE_VECTORS = ("mean", "var", "inv_std", "gamma")


def _check_backward(dout: object, cache: object) -> tuple[np.ndarray, BatchNormCache]:
    """Validate the backward arguments; return dout and the cache, all in the dtype of x.

    A cache that was altered after batchnorm_forward returned it is refused, naming the field,
    before NumPy sees it: x must be a float32 or float64 (N, D) array, every vector a finite
    real (D,) array (var >= 0) and eps a positive number. The cache as batchnorm_forward made
    it passes a fast path: the backward passes are called once per training step.
    """
    if not isinstance(cache, BatchNormCache):
        raise TypeError(
            f"cache must be the BatchNormCache returned by batchnorm_forward, "
            f"got {type(cache).__name__}"
        )
    x = cache.x
    if type(x) is not np.ndarray or x.dtype not in _FLOAT_DTYPES or x.ndim != 2 or not len(x):
        _refuse_cache_x(x)
    vectors = [getattr(cache, field) for field in _CACHE_VECTORS]
    shape = (x.shape[1],)
    if not all(
        type(v) is np.ndarray and v.dtype == x.dtype and v.shape == shape for v in vectors
    ):  # altered, or built by hand: check each field, and cast it to the dtype of x
        vectors = [_cache_vector(f, v, x) for f, v in zip(_CACHE_VECTORS, vectors, strict=True)]
        cache = cache._replace(**dict(zip(_CACHE_VECTORS, vectors, strict=True)))
    if not np.isfinite(np.concatenate(vectors)).all():
        field = next(
            f for f, v in zip(_CACHE_VECTORS, vectors, strict=True) if not np.isfinite(v).all()
        )
        raise ValueError(f"cache.{field} must be finite in {x.dtype}: {_UNCHANGED}")
    if cache.var.min() < 0:
        raise ValueError(
            f"cache.var must be non-negative: a variance cannot be below 0; {_UNCHANGED}"
        )
    eps = cache.eps
    if type(eps) is not float or not 0 < eps < math.inf:
        if isinstance(eps, bool) or not isinstance(eps, int | float | np.integer | np.floating):
            raise TypeError(f"cache.eps must be a positive real number, got {type(eps).__name__}")
        if not (np.isfinite(eps) and eps > 0):
            raise ValueError(f"cache.eps must be a positive finite number, got {eps}: {_UNCHANGED}")
    dout = _as_float_array(dout, "dout")
    if dout.shape != x.shape:
        raise ValueError(f"dout must have shape {x.shape}, the shape of x, got shape {dout.shape}")
    if dout.dtype.kind == "f" and dout.dtype.itemsize > x.dtype.itemsize:  # narrowing cast
        if np.isfinite(dout).all():
            dout = _finite_in(dout, "dout", x.dtype.type)
    # otherwise NaN or infinity in dout shows in dbeta, which _check_sums tests
    return dout.astype(x.dtype, copy=False), cache


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_LARGEST = {dtype: float(np.finfo(dtype).max) for dtype in _FLOAT_DTYPES}
_UNCHANGED = "pass the cache that batchnorm_forward returned, unchanged"


def _refuse_cache_x(x: object) -> None:
    """Raise the error that says what is wrong with an altered cache.x."""
    refuse_masked("cache.x", x)
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(
            f"cache.x must be the (N, D) array given to batchnorm_forward: {_UNCHANGED}"
        )
    raise TypeError(
        f"cache.x must be a float32 or float64 array, got dtype {x.dtype}: {_UNCHANGED}"
    )


def _cache_vector(field: str, value: object, x: np.ndarray) -> np.ndarray:
    """One (D,) vector of an altered cache, cast to the dtype of x, or raise naming it."""
    name = f"cache.{field}"
    refuse_masked(name, value)
    if not isinstance(value, np.ndarray) or value.shape != (x.shape[1],):
        raise ValueError(
            f"{name} must have shape ({x.shape[1]},), one value per feature of x: {_UNCHANGED}"
        )
    if value.dtype == np.bool_ or value.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {value.dtype}")
    with np.errstate(over="ignore"):  # the finiteness test of the caller catches an overflow
        return value.astype(x.dtype, copy=False)


def _check_sums(dbeta: np.ndarray, dgamma: np.ndarray, dout: np.ndarray) -> None:
    """Raise unless dbeta (the column sums of dout) and dgamma are finite, saying why.

    They are not finite when dout is not, or when a sum overflows. Only then is dout itself
    tested, so a finite dout costs no pass of its own.
    """
    if np.isfinite(dbeta).all() and np.isfinite(dgamma).all():
        return
    if not np.isfinite(dout).all():
        raise ValueError("dout must be finite: found NaN or infinity")
    if not np.isfinite(dbeta).all():
        raise OverflowValueError("dout is too large: its column sums overflow; rescale it")
    raise OverflowValueError(
        "dout is too large: dgamma = sum(dout * xhat) overflows for this x; rescale dout"
    )


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, BatchNormCache]:
    """Batch normalization forward pass, training mode.

    The variance is the biased batch variance, computed in two passes (the mean, then the
    mean of the centred squares) with the correction of Chan, Golub and LeVeque: the
    one-pass E[x^2] - E[x]^2 loses every digit when the mean is large against the spread.
    The rows are processed in blocks that fit in the L2 cache.

    Parameters
    ----------
    x : array_like of real numbers, shape (N, D), N >= 2
        A batch of N samples with D features, finite.
    gamma : array_like, shape (D,)
        Scale of each feature.
    beta : array_like, shape (D,)
        Shift of each feature.
    eps : float, default 1e-5
        Positive constant added to the variance.

    Returns
    -------
    out : ndarray, shape (N, D), float32 if ``x`` is float32 else float64
        gamma * xhat + beta.
    cache : BatchNormCache
        What the backward functions need (a reference to ``x``, the mean, the variance,
        1/sqrt(var + eps), gamma and eps).

    Raises
    ------
    TypeError
        If an array argument is not real numeric or is a masked array, or ``eps`` is not a
        number.
    ValueError
        If ``x`` is not 2-D, has fewer than 2 rows or no columns, or holds NaN or infinity;
        if ``gamma`` or ``beta`` does not have shape (D,) or is not finite (in float32, when
        ``x`` is float32); if ``eps`` is not positive, or is 0 or infinite in float32 when
        ``x`` is float32; if the batch statistics or the output overflow.
    """
    x, gamma, beta, eps, mean = _check_batchnorm(x, gamma, beta, eps)
    n_samples, n_features = x.shape
    block_rows, blocks = _row_blocks(x.shape, x.itemsize)
    ones = np.ones(block_rows, x.dtype)  # ones @ block: column sums by BLAS (gemv), fast
    mean_rows = _tile(mean, block_rows, n_samples)  # tiled: plain elementwise ops, fast
    out = np.empty_like(x)  # the one full-size buffer: centred x, then the output
    squares = np.empty((block_rows, n_features), x.dtype)  # one block of squares, reused
    centred_sum = np.zeros(n_features, x.dtype)
    square_sum = np.zeros(n_features, x.dtype)
    with np.errstate(over="ignore"):  # an overflowing variance is tested below
        for rows in blocks:  # first sweep: centre x, sum the centred values and squares
            block = out[rows]
            n_rows = len(block)
            np.subtract(x[rows], mean_rows[:n_rows], out=block)
            np.multiply(block, block, out=squares[:n_rows])
            centred_sum += ones[:n_rows] @ block  # summed block by block: accurate in float32
            square_sum += ones[:n_rows] @ squares[:n_rows]
        # The centred x sum to zero in exact arithmetic; their computed mean is the rounding
        # error of the first mean, and correcting for it keeps every digit even in float32.
        residual = centred_sum / n_samples
        var = square_sum / n_samples - residual**2
    del mean_rows, squares  # not needed below: free them before tiling two more
    mean = mean + residual
    if not np.isfinite(var).all():
        raise OverflowValueError(
            f"x is too large: its batch variance overflows {x.dtype}; rescale x"
        )
    inv_std = 1 / np.sqrt(var + eps)
    # Only a huge gamma or beta can make out = gamma * xhat + beta overflow: |xhat| < sqrt(N).
    # Where these bounds come near the largest float, out is tested after the sweep.
    gamma_max = max(float(gamma.max()), -float(gamma.min()))
    out_bound = gamma_max * math.sqrt(n_samples) + max(float(beta.max()), -float(beta.min()))
    scale_bound = gamma_max * float(inv_std.max())
    may_overflow = max(out_bound, scale_bound) >= _LARGEST[x.dtype] / 2
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is tested below
        scale = gamma * inv_std
        scale_rows = _tile(scale, block_rows, n_samples)
        shift_rows = _tile(beta - residual * scale, block_rows, n_samples)  # absorbs residual
        for rows in blocks:  # second sweep, in place: out = gamma * xhat + beta
            block = out[rows]
            n_rows = len(block)
            block *= scale_rows[:n_rows]
            block += shift_rows[:n_rows]
    if may_overflow and not np.isfinite(out).all():
        raise OverflowValueError(
            f"gamma or beta is too large: out = gamma * xhat + beta overflows {x.dtype} "
            "for this x and eps"
        )
    return out, BatchNormCache(x, mean, var, inv_std, gamma, eps)


def batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch normalization backward pass, staged: node by node along the layer's graph.

    Forward graph: mean = sum(x)/N, xc = x - mean, sq = xc^2, var = sum(sq)/N,
    var_eps = var + eps, std = sqrt(var_eps), inv_std = 1/std, xhat = xc * inv_std,
    scaled = gamma * xhat, out = scaled + beta. Backward visits it in reverse; where a
    value feeds two nodes (x, xc) the gradients from both are summed.

    Parameters
    ----------
    dout : array_like of real numbers, shape (N, D)
        Upstream gradient.
    cache : BatchNormCache
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma : ndarray, shape (D,)
    dbeta : ndarray, shape (D,)
        All in the dtype of ``x``.

    Raises
    ------
    TypeError
        If ``dout`` is not real numeric or is a masked array, ``cache`` is not a
        BatchNormCache, or the cache was altered to hold another type (an integer x, a
        non-numeric eps, a masked array).
    ValueError
        If ``dout`` does not have the shape of ``x``, is not finite or does not fit float32
        when ``x`` is float32, or if the cache was altered (its vectors no longer finite of
        shape (D,), a negative variance, an eps that is not positive).
    """
    dout, cache = _check_backward(dout, cache)
    x, mean, var, inv_std, gamma, eps = cache
    n_samples = x.shape[0]

    # recompute the forward nodes that were not stored
    xc = x - mean
    std = np.sqrt(var + eps)
    xhat = xc * inv_std

    # backward, in reverse order
    with np.errstate(over="ignore", invalid="ignore"):  # tested on the next line
        dbeta = dout.sum(axis=0)  # shift node: out = scaled + beta
        dscaled = dout  # ... passes dout on to scaled
        dgamma = (dscaled * xhat).sum(axis=0)  # scale node: scaled = gamma * xhat
    _check_sums(dbeta, dgamma, dout)
    dxhat = dscaled * gamma
    dinv_std = (dxhat * xc).sum(axis=0)  # multiply node: xhat = xc * inv_std
    dxc = dxhat * inv_std  # ... first branch into xc
    dstd = dinv_std * (-1 / std**2)  # inverse node: inv_std = 1 / std
    dvar_eps = dstd * 0.5 / std  # square-root node: std = sqrt(var_eps)
    dvar = dvar_eps  # add-eps node
    dsq = np.broadcast_to(dvar / n_samples, x.shape)  # mean node: var = sum(sq) / N
    dxc += 2 * xc * dsq  # square node: sq = xc^2, second branch into xc
    dx = dxc.copy()  # centring node: xc = x - mean, first branch into x
    dmean = -dxc.sum(axis=0)  # ... and into mean
    dx += dmean / n_samples  # mean node: mean = sum(x) / N, second branch into x
    return dx, dgamma, dbeta


def batchnorm_backward_alt(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch normalization backward pass, closed form.

    With xhat = (x - mean) * inv_std:

        dbeta  = sum_i dout_i,
        dgamma = sum_i dout_i * xhat_i,
        dx     = gamma * inv_std * (dout - dbeta / N - xhat * dgamma / N).

    The rows are processed in blocks that fit in the L2 cache: a first sweep for the two
    sums, a second for dx.

    Parameters
    ----------
    dout : array_like of real numbers, shape (N, D)
        Upstream gradient.
    cache : BatchNormCache
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma : ndarray, shape (D,)
    dbeta : ndarray, shape (D,)
        All in the dtype of ``x``.

    Raises
    ------
    TypeError
        If ``dout`` is not real numeric or is a masked array, ``cache`` is not a
        BatchNormCache, or the cache was altered to hold another type (an integer x, a
        non-numeric eps, a masked array).
    ValueError
        If ``dout`` does not have the shape of ``x``, is not finite or does not fit float32
        when ``x`` is float32, or if the cache was altered (its vectors no longer finite of
        shape (D,), a negative variance, an eps that is not positive).
    """
    dout, cache = _check_backward(dout, cache)
    x, mean, _, inv_std, gamma, _ = cache
    n_samples, n_features = x.shape
    block_rows, blocks = _row_blocks(x.shape, x.itemsize)
    ones = np.ones(block_rows, x.dtype)  # ones @ block: column sums by BLAS (gemv), fast
    mean_rows = _tile(mean, block_rows, n_samples)  # tiled: plain elementwise ops, fast
    dx = np.empty_like(x)  # the one full-size buffer: centred x, then dx
    products = np.empty((block_rows, n_features), x.dtype)  # dout * (x - mean), reused
    dbeta = np.zeros(n_features, x.dtype)
    dgamma = np.zeros(n_features, x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # the sums are tested below
        for rows in blocks:  # first sweep: centre x, and sum dout and dout * (x - mean)
            block = dx[rows]
            n_rows = len(block)
            np.subtract(x[rows], mean_rows[:n_rows], out=block)
            np.multiply(dout[rows], block, out=products[:n_rows])
            dbeta += ones[:n_rows] @ dout[rows]  # summed block by block: accurate in float32
            dgamma += ones[:n_rows] @ products[:n_rows]
        dgamma *= inv_std  # sum_i dout * xhat
    _check_sums(dbeta, dgamma, dout)
    del mean_rows, products  # not needed below: free them before tiling three more
    # dx = gamma * inv_std * (dout - dbeta / N - (x - mean) * inv_std * dgamma / N)
    centred_factor_rows = _tile(-inv_std * dgamma / n_samples, block_rows, n_samples)
    dbeta_mean_rows = _tile(dbeta / n_samples, block_rows, n_samples)
    scale_rows = _tile(gamma * inv_std, block_rows, n_samples)
    for rows in blocks:  # second sweep, in place on the centred x
        block = dx[rows]
        n_rows = len(block)
        block *= centred_factor_rows[:n_rows]
        block += dout[rows]
        block -= dbeta_mean_rows[:n_rows]
        block *= scale_rows[:n_rows]
    return dx, dgamma, dbeta


class BatchNorm:
    """A batch-normalization layer with learnable scale and shift and running statistics.

    In training mode (``train=True``) it normalizes with the batch statistics and updates
    ``running = momentum * running + (1 - momentum) * batch``; as in PyTorch, the running
    variance is updated with the unbiased batch variance (N / (N - 1) times the biased one
    used for normalizing). In inference mode it normalizes with the running statistics.
    ``momentum=0.9`` here is PyTorch's ``momentum=0.1``.

    Parameters
    ----------
    D : int
        Number of features.
    momentum : float, default 0.9
        Weight of the old running statistics, in [0, 1].
    eps : float, default 1e-5
        Positive constant added to the variance.

    Attributes
    ----------
    gamma, beta : ndarray, shape (D,), float64
        Scale (initially ones) and shift (initially zeros).
    running_mean, running_var : ndarray, shape (D,), float64
        Running statistics (initially zeros and ones).
    momentum, eps : float
        As given. Every attribute may be set by hand (arrays as lists too); :meth:`forward`
        checks them all again and names the one that no longer fits.
    dgamma, dbeta : ndarray, shape (D,), or None
        Gradients set by :meth:`backward`.

    Raises
    ------
    TypeError
        If ``D`` is not an integer or ``momentum``, ``eps`` are not numbers.
    ValueError
        If ``D`` < 1, ``momentum`` is outside [0, 1] or ``eps`` is not positive.
    """

    def __init__(self, D: int, momentum: float = 0.9, eps: float = 1e-5) -> None:  # noqa: N803
        if isinstance(D, bool) or not isinstance(D, int | np.integer):
            raise TypeError(f"D must be a positive integer, got {type(D).__name__}")
        if D < 1:
            raise ValueError(f"D must be a positive integer, got {D}")
        if isinstance(momentum, bool) or not isinstance(
            momentum, int | float | np.integer | np.floating
        ):
            raise TypeError(f"momentum must be a number in [0, 1], got {type(momentum).__name__}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        _check_eps(eps, np.float64)
        self.momentum = float(momentum)
        self.eps = float(eps)
        self._n_features = int(D)
        self.gamma = np.ones(D)
        self.beta = np.zeros(D)
        self.running_mean = np.zeros(D)
        self.running_var = np.ones(D)
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None
        self._cache: BatchNormCache | None = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        """Normalize a batch.

        Parameters
        ----------
        x : array_like of real numbers, shape (N, D)
            N >= 2 in training mode, N >= 1 in inference mode; finite.
        train : bool, default True
            Batch statistics (and update the running ones) if True, running ones if False.

        Returns
        -------
        out : ndarray, shape (N, D), float32 if ``x`` is float32 else float64

        Raises
        ------
        TypeError, ValueError
            As :func:`batchnorm_forward`; also TypeError if ``train`` is not a bool, and
            ValueError if ``x`` does not have D columns, or if an attribute set by hand no
            longer fits the layer: ``gamma``, ``beta``, ``running_mean`` and ``running_var``
            must be finite real arrays of shape (D,) (lists are accepted), ``running_var``
            non-negative, ``momentum`` a number in [0, 1] and ``eps`` a positive number. In
            inference mode with float32 ``x``, the running statistics must fit float32, and
            an output that overflows is refused.
        """
        if not isinstance(train, bool | np.bool_):
            raise TypeError(f"train must be a bool, got {type(train).__name__}")
        x = _as_float_array(x, "x")
        width = self._n_features
        if x.ndim == 2 and x.shape[1] != width:
            raise ValueError(
                f"x must have shape (N, {width}): this layer has {width} features, "
                f"got shape {x.shape}"
            )
        momentum, running_mean, running_var = self._check_attributes()
        if train:
            out, cache = batchnorm_forward(x, self.gamma, self.beta, self.eps)
            n_samples = cache.x.shape[0]
            unbiased_var = cache.var * (n_samples / (n_samples - 1))
            self.running_mean = momentum * running_mean + (1 - momentum) * cache.mean
            self.running_var = momentum * running_var + (1 - momentum) * unbiased_var
        else:
            x, gamma, beta, eps, _ = _check_batchnorm(
                x, self.gamma, self.beta, self.eps, train=False
            )
            # copies, as the cache must not change if the running statistics are changed in place
            mean = np.array(_finite_in(running_mean, "running_mean", x.dtype.type))
            var = np.array(_finite_in(running_var, "running_var", x.dtype.type))
            inv_std = 1 / np.sqrt(var + eps)
            with np.errstate(over="ignore", invalid="ignore"):  # tested on the next line
                out = (x - mean) * (gamma * inv_std) + beta
            if not np.isfinite(out).all():
                raise OverflowValueError(
                    f"x is too far from running_mean: out = gamma * (x - running_mean) / "
                    f"sqrt(running_var + eps) + beta overflows {x.dtype}; rescale x"
                )
            cache = BatchNormCache(x, mean, var, inv_std, gamma, eps)
        self._cache = cache
        self._train = bool(train)
        return out

    def _check_attributes(self) -> tuple[float, np.ndarray, np.ndarray]:
        """Attributes set by hand must still fit the layer; gamma, beta, eps are checked later.

        Returns momentum as a float and the running statistics as float64 arrays of shape
        (D,) (lists set by hand included).
        """
        momentum = self.momentum
        if isinstance(momentum, bool) or not isinstance(
            momentum, int | float | np.integer | np.floating
        ):
            raise TypeError(f"momentum must be a number in [0, 1], got {type(momentum).__name__}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        shape = (self._n_features,)
        statistics = []
        for name in ("running_mean", "running_var"):
            value = _as_float_array(getattr(self, name), name)
            if value.shape != shape:
                raise ValueError(f"{name} must be a real array of shape {shape}, got {value.shape}")
            statistics.append(_finite_in(value, name, np.float64))
        if (statistics[1] < 0).any():
            raise ValueError("running_var must be non-negative: a variance cannot be below 0")
        return float(momentum), statistics[0], statistics[1]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Backward pass of the last :meth:`forward`; sets ``dgamma`` and ``dbeta``.

        After a training-mode forward this is the closed form of
        :func:`batchnorm_backward_alt`; after an inference-mode forward the statistics are
        constants and dx = dout * gamma / sqrt(running_var + eps).

        Parameters
        ----------
        dout : array_like of real numbers, shape (N, D)
            Upstream gradient.

        Returns
        -------
        dx : ndarray, shape (N, D), in the dtype of the forward input

        Raises
        ------
        RuntimeError
            If :meth:`forward` has not been called.
        TypeError, ValueError
            If ``dout`` is not real numeric (or is a masked array), does not have the shape of
            ``x`` or is not finite, or if a gradient overflows.
        """
        if self._cache is None:
            raise RuntimeError("BatchNorm.backward called before forward")
        cache = self._cache
        if self._train:
            dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
        else:
            dout, _ = _check_backward(dout, cache)
            with np.errstate(over="ignore", invalid="ignore"):  # tested below
                xhat = (cache.x - cache.mean) * cache.inv_std
                dgamma = _column_dot(dout, xhat)
                dbeta = dout.sum(axis=0)
                dx = dout * (cache.gamma * cache.inv_std)
            _check_sums(dbeta, dgamma, dout)
            if not np.isfinite(dx).all():
                raise OverflowValueError(
                    "dout is too large: dx = dout * gamma / sqrt(running_var + eps) overflows "
                    f"{dx.dtype}; rescale dout"
                )
        self.dgamma, self.dbeta = dgamma, dbeta
        return dx
