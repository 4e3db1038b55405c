"""Loss surfaces and gradient fields of the softmax loss, evaluated on grids.

Two kinds of surface:

* the loss of **one sample** as two of its scores vary (:func:`two_score_loss`,
  :func:`two_score_gradient`);
* the loss of a **linear classifier** ``scores = X @ W`` on a 2-D slice
  ``W(a, b) = W0 + a D1 + b D2`` of its weight space (:func:`slice_loss`,
  :func:`slice_gradient`), with random directions scaled to the weights as in Li et al. (2018),
  "Visualizing the Loss Landscape of Neural Nets" (:func:`random_directions`).

Every grid is evaluated at once: the scores of all grid points are stacked into one array and
passed to :func:`backprop_utils.softmax.log_softmax` or :func:`backprop_utils.softmax.softmax_loss`,
so there is no Python loop over grid points. The gradient on a slice is the chain rule applied to
the gradient ``dscores`` that ``softmax_loss`` returns:

    dL/da = sum_ij (dL/dW)_ij (D1)_ij = sum_nc dscores_nc (X @ D1)_nc  (+ the L2 term).

L2 regularization is ``reg / 2 * ||W||^2`` (Frobenius norm, every entry of ``W`` including a
bias row), so its gradient is ``reg * W``. A bias is added with the bias trick: append a column
of ones to ``X`` and a row to ``W``.

A grid of ``G`` points with ``N`` samples and ``C`` classes holds ``G * N * C`` scores in memory.
Float32 inputs (all of ``X``, ``W0``, ``D1``, ``D2``, or ``scores``) give float32 results; any
other real input is computed in float64. Inputs are never modified.

Bad input raises a TypeError or ValueError that names the argument: masked arrays (their mask
would be ignored), ragged nested lists, and values the computation cannot hold. When a score,
a loss, a penalty or a gradient overflows, the error names the arguments it was computed from
(never an intermediate array); when gradient descent overflows after its first step, the error
says that it diverged and names ``learning_rate``. With ``reg = 0`` the penalty is 0, also for
weights whose squares overflow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np

from backprop_utils._validation import refuse_masked
from backprop_utils.softmax import log_softmax, softmax_loss

__all__ = [
    "linear_loss",
    "random_directions",
    "slice_descent",
    "slice_gradient",
    "slice_loss",
    "train_linear_classifier",
    "two_score_gradient",
    "two_score_loss",
]


# --- validation -------------------------------------------------------------------------------


def _as_array(name: str, value: object) -> np.ndarray:
    """``np.asarray(value)``, refusing masked arrays and ragged nested lists by ``name``."""
    refuse_masked(name, value)
    try:
        return np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array, not a ragged nested list") from err


def _real_array(name: str, value: object, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a finite real ndarray (no copy), or raise naming ``name``."""
    array = _as_array(name, value)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no nan or inf)")
    return array


def _labels(name: str, value: object, n_samples: int, n_classes: int) -> np.ndarray:
    """Return integer labels of shape (n_samples,) in [0, n_classes), or raise."""
    labels = _as_array(name, value)
    if labels.dtype == np.bool_ or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
    if labels.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{name} must hold class labels in [0, {n_classes - 1}]")
    return labels.astype(np.int64)


def _class_index(name: str, value: object, n_classes: int) -> int:
    """Return ``value`` as an int in [0, n_classes), or raise naming ``name``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer class index, got {type(value).__name__}")
    if not 0 <= value < n_classes:
        raise ValueError(f"{name} must be a class index in [0, {n_classes - 1}], got {value}")
    return int(value)


def _nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a float >= 0, or raise naming ``name``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number >= 0, got {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite real number >= 0, got {value}")
    return float(value)


def _grid(dtype: type, **coordinates: object) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast the two coordinate arrays together, cast to ``dtype``, or raise."""
    (name_a, a), (name_b, b) = coordinates.items()
    a, b = _real_array(name_a, a), _real_array(name_b, b)
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(
            f"{name_a} and {name_b} must have broadcastable shapes, got {a.shape} and {b.shape}"
        ) from None
    if a.size == 0:
        raise ValueError(f"{name_a} and {name_b} must hold at least one grid point")
    return _cast(name_a, a, dtype), _cast(name_b, b, dtype)


def _cast(name: str, array: np.ndarray, dtype: type) -> np.ndarray:
    """A finite array cast to ``dtype`` (a copy), or raise if the dtype cannot hold it."""
    with np.errstate(over="ignore"):  # tested on the next line
        cast = array.astype(dtype)
    if not np.isfinite(cast).all():
        raise ValueError(
            f"{name} holds values beyond the range of {np.dtype(dtype).name} (about "
            f"{float(np.finfo(dtype).max):.1e}), the dtype of the computation (float32 only "
            "when every array argument is float32)"
        )
    return cast


def _finite(result: np.ndarray, what: str, names: str) -> np.ndarray:
    """``result``, or raise naming the arguments if computing it overflowed."""
    if not np.all(np.isfinite(result)):
        raise ValueError(
            f"{what} overflows {np.asarray(result).dtype}: {names} are too large; rescale them"
        )
    return result


def _half_squared_norm(reg: float, weights: np.ndarray, axis: tuple | None = None) -> np.ndarray:
    """``reg / 2 * ||weights||^2`` in the dtype of ``weights``, over ``axis`` (all by default).

    Not computed when ``reg`` is 0: the penalty is 0, where 0 * ||W||^2 would be NaN once the
    squares overflow. When they overflow and the penalty itself does not, the weights are
    scaled by their largest magnitude first. An infinite result means the penalty overflows.
    """
    dtype = weights.dtype.type
    if not reg:
        return dtype(0) if axis is None else np.zeros(weights.shape[0], dtype)
    with np.errstate(over="ignore"):  # tested on the next line
        penalty = dtype(0.5 * reg) * np.sum(weights * weights, axis=axis)
    if np.all(np.isfinite(penalty)):
        return penalty
    largest = np.max(np.abs(weights), axis=axis, keepdims=True)
    scaled = np.sum((weights / np.where(largest > 0, largest, 1)) ** 2, axis=axis)
    scaled = scaled.astype(np.float64)
    largest = np.squeeze(largest, axis=axis).astype(np.float64)
    with np.errstate(over="ignore"):  # an infinite penalty is the caller's to report
        return (0.5 * reg * largest * largest * scaled).astype(dtype)


def _result_dtype(*arrays: np.ndarray) -> type:
    """float32 if every array is float32, else float64."""
    return np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64


def _check_two_score(
    scores: object, label: object, classes: object
) -> tuple[np.ndarray, int, int, int]:
    """Validate the arguments of the two-score functions.

    Returns
    -------
    scores : ndarray, shape (C,), float32 or float64
    label, i, j : int
        The true class and the two varied classes.
    """
    scores = _real_array("scores", scores, ndim=1)
    if scores.size < 2:
        raise ValueError(f"scores must have shape (C,) with C >= 2, got {scores.shape}")
    n_classes = scores.size
    label = _class_index("label", label, n_classes)
    if not isinstance(classes, tuple | list) or len(classes) != 2:
        raise TypeError(f"classes must be a pair (i, j) of class indices, got {classes!r}")
    i = _class_index("classes[0]", classes[0], n_classes)
    j = _class_index("classes[1]", classes[1], n_classes)
    if i == j:
        raise ValueError(f"classes must name two different classes, got ({i}, {j})")
    return scores.astype(_result_dtype(scores)), label, i, j


def _check_linear(
    X: object, y: object, W: object, *directions: object, w_name: str = "W0"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Validate a linear classifier's data, weights and slice directions.

    Returns
    -------
    X : ndarray, shape (N, D); y : ndarray, shape (N,), int64; W : ndarray, shape (D, C);
    directions : list of ndarray, shape (D, C). Arrays are float32 if X, W and every direction
    are float32, else float64.

    Raises
    ------
    TypeError
        If an array does not hold real numbers or ``y`` not integers, or is a masked array.
    ValueError
        If an array is ragged, a shape does not match, an array is not finite or a label is out
        of range.
    """
    X = _real_array("X", X, ndim=2)
    if X.shape[0] < 1:
        raise ValueError(f"X must have shape (N, D) with N >= 1, got {X.shape}")
    W = _real_array(w_name, W, ndim=2)
    if W.shape[0] != X.shape[1] or W.shape[1] < 2:
        raise ValueError(
            f"{w_name} must have shape (D, C) = ({X.shape[1]}, C) "
            f"with C >= 2 to match X of shape {X.shape}, got {W.shape}"
        )
    named = [
        _real_array(name, d, ndim=2) for name, d in zip(("D1", "D2"), directions, strict=False)
    ]
    for name, d in zip(("D1", "D2"), named, strict=False):
        if d.shape != W.shape:
            raise ValueError(f"{name} must have the shape of {w_name}, {W.shape}, got {d.shape}")
    y = _labels("y", y, X.shape[0], W.shape[1])
    dtype = _result_dtype(X, W, *named)
    return X.astype(dtype), y, W.astype(dtype), [d.astype(dtype) for d in named]


# --- one sample, two scores -------------------------------------------------------------------


def _two_score_stack(
    scores: np.ndarray, i: int, j: int, values_i: np.ndarray, values_j: np.ndarray
) -> np.ndarray:
    """Scores of every grid point, shape (G, C): ``scores`` with entries i and j replaced."""
    stacked = np.tile(scores, (values_i.size, 1))
    stacked[:, i] = values_i.ravel()
    stacked[:, j] = values_j.ravel()
    return stacked


def two_score_loss(
    scores: np.ndarray,
    label: int,
    values_i: np.ndarray,
    values_j: np.ndarray,
    classes: tuple[int, int] = (0, 1),
) -> np.ndarray:
    """Softmax loss of one sample as two of its scores vary.

    Parameters
    ----------
    scores : ndarray
        Shape (C,) with C >= 2.
        The sample's raw scores; entries ``classes[0]`` and ``classes[1]`` are replaced.
    label : int
        In [0, C).
        The sample's true class.
    values_i, values_j : array_like
        Broadcastable to a common shape S.
        Values of score ``classes[0]`` and of score ``classes[1]``, e.g. from ``np.meshgrid``.
    classes : tuple of int
        A pair (i, j) of distinct class indices in [0, C).
        Which two scores vary.

    Returns
    -------
    loss : ndarray
        Shape S.
        ``-log softmax(scores)[label]`` at every grid point.

    Raises
    ------
    TypeError
        If an array does not hold real numbers or is a masked array, or ``label``/``classes``
        are not integers.
    ValueError
        If an array is ragged, ``scores`` is not 1-D with C >= 2, a value is not finite (or,
        with float32 ``scores``, beyond the range of float32), an index is out of range, the
        two classes coincide or the value arrays do not broadcast.
    """
    scores, label, i, j = _check_two_score(scores, label, classes)
    values_i, values_j = _grid(scores.dtype, values_i=values_i, values_j=values_j)
    log_probs = log_softmax(_two_score_stack(scores, i, j, values_i, values_j))
    return -log_probs[:, label].reshape(values_i.shape)


def two_score_gradient(
    scores: np.ndarray,
    label: int,
    values_i: np.ndarray,
    values_j: np.ndarray,
    classes: tuple[int, int] = (0, 1),
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of :func:`two_score_loss` with respect to the two varied scores.

    Taken from the ``dscores`` of ``softmax_loss`` on the stacked grid: with G grid points,
    ``softmax_loss`` averages over G rows, so its ``dscores`` times G is each point's gradient.

    Parameters
    ----------
    scores, label, values_i, values_j, classes
        As in :func:`two_score_loss`.

    Returns
    -------
    dloss_di, dloss_dj : ndarray
        Shape S.
        Partial derivatives of the loss with respect to score ``classes[0]`` and
        score ``classes[1]``, i.e. ``p_i - [i == label]`` and ``p_j - [j == label]``.

    Raises
    ------
    TypeError, ValueError
        As :func:`two_score_loss`.
    """
    scores, label, i, j = _check_two_score(scores, label, classes)
    values_i, values_j = _grid(scores.dtype, values_i=values_i, values_j=values_j)
    stacked = _two_score_stack(scores, i, j, values_i, values_j)
    labels = np.full(stacked.shape[0], label, dtype=np.int64)
    _, dscores = softmax_loss(stacked, labels)
    dscores = dscores * stacked.shape[0]
    return dscores[:, i].reshape(values_i.shape), dscores[:, j].reshape(values_j.shape)


# --- a linear classifier on a slice of weight space -------------------------------------------


def linear_loss(
    X: np.ndarray, y: np.ndarray, W: np.ndarray, reg: float = 0.0
) -> tuple[float, np.ndarray]:
    """Softmax loss of the linear classifier ``scores = X @ W`` and its weight gradient.

    Parameters
    ----------
    X : ndarray
        Shape (N, D).
        Samples (append a column of ones for a bias).
    y : ndarray
        Shape (N,), integer.
        Labels in ``0 .. C-1``.
    W : ndarray
        Shape (D, C).
        Weights.
    reg : float
        At least 0.
        L2 strength; adds ``reg / 2 * ||W||^2`` to the loss and ``reg * W`` to the gradient.

    Returns
    -------
    loss : numpy.floating
        The dtype of ``dW``.
    dW : ndarray
        Shape (D, C), float32 if ``X`` and ``W`` are float32, else float64.
        ``X.T @ dscores + reg * W`` with ``dscores`` from ``softmax_loss``.

    Raises
    ------
    TypeError
        If an array does not hold real numbers or is a masked array, ``y`` not integers or
        ``reg`` not a number.
    ValueError
        If an array is ragged, the shapes do not match, a value is not finite, a label is out
        of range, ``reg < 0``, or the scores ``X @ W``, the penalty, the loss or the gradient
        overflow (the message names the arguments that are too large).
    """
    X, y, W, _ = _check_linear(X, y, W, w_name="W")
    reg = _nonnegative("reg", reg)
    return _linear_loss(X, y, W, reg, "W")


def _linear_loss(
    X: np.ndarray, y: np.ndarray, W: np.ndarray, reg: float, w_name: str
) -> tuple[np.floating, np.ndarray]:
    """:func:`linear_loss` on validated arguments; an overflow names X, ``w_name`` and reg."""
    with np.errstate(over="ignore", invalid="ignore"):  # every overflow is tested below
        scores = _finite(X @ W, f"the scores X @ {w_name}", f"X and {w_name}")
        data_loss, dscores = softmax_loss(scores, y)
        penalty = _half_squared_norm(reg, W)
        _finite(penalty, f"the L2 penalty reg / 2 * ||{w_name}||^2", f"reg and {w_name}")
        loss = _finite(data_loss + penalty, "the loss", f"X, {w_name} and reg")
        dW = X.T @ dscores + W.dtype.type(reg) * W
    return loss, _finite(dW, f"the gradient X^T dscores + reg * {w_name}", f"reg and {w_name}")


def random_directions(
    weights: np.ndarray, seed: int = 0, normalization: str = "filter"
) -> tuple[np.ndarray, np.ndarray]:
    """Two random directions in weight space, scaled to the weights.

    With ``normalization="filter"`` each direction is drawn from a standard Gaussian and then
    every column (one class's weight template: the incoming weights of one output unit, a
    "filter" in the sense of Li et al. 2018) is rescaled to the norm of the same column of
    ``weights``: ``d[:, c] *= ||weights[:, c]|| / ||d[:, c]||``. A step of ``a = 1`` along a
    direction then changes each class template by as much as its own size, so slices of
    differently scaled weights are comparable. A zero column of ``weights`` gives a zero column
    of the direction. With ``normalization="none"`` the Gaussian directions are returned as
    drawn.

    With the bias trick the last row of ``weights`` holds the biases; it belongs to each column
    and is rescaled with it, so the directions move the biases too. (The reference code of
    Li et al. sets the direction of every bias to zero by default; chapter 8 says why the book
    does not.)

    Parameters
    ----------
    weights : ndarray
        Shape (D, C).
        The weights the slice is centred at.
    seed : int
        At least 0.
        Seed of ``np.random.default_rng``.
    normalization : str
        ``"filter"`` or ``"none"``.

    Returns
    -------
    D1, D2 : ndarray
        Shape (D, C), the dtype of ``weights`` (float32 or float64).

    Raises
    ------
    TypeError
        If ``weights`` does not hold real numbers or is a masked array, or ``seed`` is not an
        integer.
    ValueError
        If ``weights`` is not 2-D and finite, ``seed < 0``, ``normalization`` is unknown,
        ``weights`` is all zeros with ``normalization="filter"``, or a column of ``weights``
        has a norm beyond the range of its dtype.
    """
    weights = _real_array("weights", weights, ndim=2)
    if weights.size == 0:
        raise ValueError(f"weights must have shape (D, C) with D, C >= 1, got {weights.shape}")
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, Integral):
        raise TypeError(f"seed must be a non-negative integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if normalization not in ("filter", "none"):
        raise ValueError(f"normalization must be 'filter' or 'none', got {normalization!r}")
    dtype = _result_dtype(weights)
    directions = np.random.default_rng(seed).standard_normal((2, *weights.shape))
    if normalization == "filter":
        column_norms = _column_norms(weights.astype(np.float64))
        if not np.any(column_norms > 0):
            raise ValueError(
                "weights must not be all zeros for normalization='filter' "
                "(the directions would be zero); use normalization='none'"
            )
        directions *= column_norms / np.linalg.norm(directions, axis=1, keepdims=True)
    too_large = "a direction scaled to the columns of weights"
    return tuple(_finite(_cast_quietly(d, dtype), too_large, "weights") for d in directions)


def _column_norms(weights: np.ndarray) -> np.ndarray:
    """The Euclidean norm of every column, also where the sum of squares overflows.

    ``np.linalg.norm`` adds the squares, which overflow for entries above about 1e154 even
    when the norm does not; such columns are scaled by their largest magnitude first.
    """
    with np.errstate(over="ignore"):  # tested on the next line
        norms = np.linalg.norm(weights, axis=0)
    overflow = np.isinf(norms)
    if overflow.any():
        columns = weights[:, overflow]
        largest = np.abs(columns).max(axis=0)
        with np.errstate(over="ignore"):  # a norm beyond the largest float stays infinite
            norms[overflow] = largest * np.linalg.norm(columns / largest, axis=0)
    return norms


def _cast_quietly(array: np.ndarray, dtype: type) -> np.ndarray:
    """``array.astype(dtype)``, an overflow to infinity left for the caller to report."""
    with np.errstate(over="ignore"):
        return array.astype(dtype)


def _slice_scores(
    X: np.ndarray,
    W0: np.ndarray,
    D1: np.ndarray,
    D2: np.ndarray,
    alphas: np.ndarray,
    betas: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores at every grid point, shape (G, N, C), and the score directions X @ D1, X @ D2."""
    along_1, along_2 = X @ D1, X @ D2
    a = alphas.reshape(-1, 1, 1)
    b = betas.reshape(-1, 1, 1)
    return X @ W0 + a * along_1 + b * along_2, along_1, along_2


def slice_loss(
    X: np.ndarray,
    y: np.ndarray,
    W0: np.ndarray,
    D1: np.ndarray,
    D2: np.ndarray,
    alphas: np.ndarray,
    betas: np.ndarray,
    reg: float = 0.0,
) -> np.ndarray:
    """Loss of ``scores = X @ W`` at ``W = W0 + a D1 + b D2`` for every grid point ``(a, b)``.

    Parameters
    ----------
    X : ndarray
        Shape (N, D).
        Samples (append a column of ones for a bias).
    y : ndarray
        Shape (N,), integer.
        Labels in ``0 .. C-1``.
    W0 : ndarray
        Shape (D, C).
        Centre of the slice.
    D1, D2 : ndarray
        Shape (D, C).
        Directions of the slice, e.g. from :func:`random_directions`.
    alphas, betas : array_like
        Broadcastable to a common shape S.
        Coordinates ``a`` and ``b`` of the grid points, e.g. ``np.meshgrid(a_axis, b_axis)``.
    reg : float
        At least 0.
        L2 strength; the loss includes ``reg / 2 * ||W||^2``.

    Returns
    -------
    loss : ndarray
        Shape S.

    Raises
    ------
    TypeError
        If an array does not hold real numbers or is a masked array, ``y`` not integers or
        ``reg`` not a number.
    ValueError
        If an array is ragged, the shapes do not match, a value is not finite, a label is out
        of range, ``reg < 0``, the coordinates do not broadcast, or the scores or the loss
        overflow at some grid point (the message names the arguments).
    """
    X, y, W0, (D1, D2) = _check_linear(X, y, W0, D1, D2)
    reg = _nonnegative("reg", reg)
    alphas, betas = _grid(X.dtype, alphas=alphas, betas=betas)
    return _slice_loss(X, y, W0, D1, D2, alphas, betas, reg)


_SLICE_NAMES = "X, W0, D1, D2, alphas and betas"
_DESCENT_NAMES = "X, W0, D1, D2 and start"


def _slice_loss(
    X: np.ndarray,
    y: np.ndarray,
    W0: np.ndarray,
    D1: np.ndarray,
    D2: np.ndarray,
    alphas: np.ndarray,
    betas: np.ndarray,
    reg: float,
    names: str = _SLICE_NAMES,
) -> np.ndarray:
    """:func:`slice_loss` on validated arguments; an overflow names the arguments, ``names``."""
    with np.errstate(over="ignore", invalid="ignore"):  # every overflow is tested below
        scores, _, _ = _slice_scores(X, W0, D1, D2, alphas, betas)
        _finite(scores, "the scores X @ (W0 + a D1 + b D2) at some grid point", names)
        n_grid, n_samples, n_classes = scores.shape
        log_probs = log_softmax(scores.reshape(-1, n_classes)).reshape(scores.shape)
        loss = -log_probs[:, np.arange(n_samples), y].mean(axis=1)
        if reg:
            weights = W0 + alphas.reshape(-1, 1, 1) * D1 + betas.reshape(-1, 1, 1) * D2
            loss = loss + _half_squared_norm(reg, weights, axis=(1, 2))
    return _finite(loss, "the loss at some grid point", f"reg, {names}").reshape(alphas.shape)


def slice_gradient(
    X: np.ndarray,
    y: np.ndarray,
    W0: np.ndarray,
    D1: np.ndarray,
    D2: np.ndarray,
    alphas: np.ndarray,
    betas: np.ndarray,
    reg: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of :func:`slice_loss` with respect to the slice coordinates ``(a, b)``.

    The weight gradient ``dL/dW`` at each grid point, projected on the directions:
    ``dL/da = <dL/dW, D1>`` and ``dL/db = <dL/dW, D2>`` (Frobenius inner products), computed
    from the ``dscores`` of ``softmax_loss`` on the stacked grid without forming ``dL/dW``.

    Parameters
    ----------
    X, y, W0, D1, D2, alphas, betas, reg
        As in :func:`slice_loss`.

    Returns
    -------
    dloss_dalpha, dloss_dbeta : ndarray
        Shape S.

    Raises
    ------
    TypeError, ValueError
        As :func:`slice_loss`.
    """
    X, y, W0, (D1, D2) = _check_linear(X, y, W0, D1, D2)
    reg = _nonnegative("reg", reg)
    alphas, betas = _grid(X.dtype, alphas=alphas, betas=betas)
    return _slice_gradient(X, y, W0, D1, D2, alphas, betas, reg)


def _slice_gradient(
    X: np.ndarray,
    y: np.ndarray,
    W0: np.ndarray,
    D1: np.ndarray,
    D2: np.ndarray,
    alphas: np.ndarray,
    betas: np.ndarray,
    reg: float,
    names: str = _SLICE_NAMES,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`slice_gradient` on validated arguments; an overflow names the arguments."""
    with np.errstate(over="ignore", invalid="ignore"):  # every overflow is tested below
        scores, along_1, along_2 = _slice_scores(X, W0, D1, D2, alphas, betas)
        _finite(scores, "the scores X @ (W0 + a D1 + b D2) at some grid point", names)
        n_grid, n_samples, n_classes = scores.shape
        _, dscores = softmax_loss(scores.reshape(-1, n_classes), np.tile(y, n_grid))
        dscores = dscores.reshape(scores.shape) * n_grid
        dloss_dalpha = np.einsum("gnc,nc->g", dscores, along_1)
        dloss_dbeta = np.einsum("gnc,nc->g", dscores, along_2)
        if reg:
            a, b = alphas.ravel(), betas.ravel()
            dloss_dalpha = dloss_dalpha + reg * (
                np.sum(W0 * D1) + a * np.sum(D1 * D1) + b * np.sum(D1 * D2)
            )
            dloss_dbeta = dloss_dbeta + reg * (
                np.sum(W0 * D2) + a * np.sum(D1 * D2) + b * np.sum(D2 * D2)
            )
    for gradient in (dloss_dalpha, dloss_dbeta):
        _finite(gradient, "the gradient at some grid point", f"reg, {names}")
    return dloss_dalpha.reshape(alphas.shape), dloss_dbeta.reshape(betas.shape)


def _check_steps(learning_rate: object, n_steps: object) -> tuple[float, int]:
    """Validate a learning rate (> 0) and a step count (>= 0)."""
    if isinstance(learning_rate, bool | np.bool_) or not isinstance(learning_rate, Real):
        raise TypeError(
            f"learning_rate must be a real number > 0, got {type(learning_rate).__name__}"
        )
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a finite real number > 0, got {learning_rate}")
    if isinstance(n_steps, bool | np.bool_) or not isinstance(n_steps, Integral):
        raise TypeError(f"n_steps must be an integer >= 0, got {type(n_steps).__name__}")
    if n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps}")
    return float(learning_rate), int(n_steps)


def slice_descent(
    X: np.ndarray,
    y: np.ndarray,
    W0: np.ndarray,
    D1: np.ndarray,
    D2: np.ndarray,
    start: tuple[float, float],
    learning_rate: float,
    n_steps: int,
    reg: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient descent on the slice: ``(a, b) <- (a, b) - learning_rate * (dL/da, dL/db)``.

    The path stays in the plane of the slice, so it can be drawn on the contour of
    :func:`slice_loss` and follows the arrows of :func:`slice_gradient`.

    Parameters
    ----------
    X, y, W0, D1, D2, reg
        As in :func:`slice_loss`.
    start : tuple of float
        The starting coordinates ``(a, b)``.
    learning_rate : float
        Greater than 0.
    n_steps : int
        At least 0.

    Returns
    -------
    path : ndarray
        Shape (n_steps + 1, 2).
        The coordinates ``(a, b)`` before the first step and after every step.
    losses : ndarray
        Shape (n_steps + 1,).
        The loss at every point of the path.

    Raises
    ------
    TypeError, ValueError
        As :func:`slice_loss`, or if ``start`` is not a pair of finite numbers,
        ``learning_rate <= 0`` or ``n_steps < 0``; ValueError if the descent diverges until
        the path or its loss overflows (the message names ``learning_rate``).
    """
    X, y, W0, (D1, D2) = _check_linear(X, y, W0, D1, D2)
    reg = _nonnegative("reg", reg)
    learning_rate, n_steps = _check_steps(learning_rate, n_steps)
    point = _real_array("start", start, ndim=1)
    if point.shape != (2,):
        raise ValueError(f"start must be a pair (a, b), got shape {point.shape}")
    path = np.empty((n_steps + 1, 2), dtype=X.dtype)
    path[0] = _cast("start", point, X.dtype)
    for step in range(n_steps):
        alphas, betas = _grid(X.dtype, alphas=path[step, 0], betas=path[step, 1])
        with _diverged_after(step, "the path (a, b)"):
            da, db = _slice_gradient(X, y, W0, D1, D2, alphas, betas, reg, _DESCENT_NAMES)
            with np.errstate(over="ignore", invalid="ignore"):  # tested on the next line
                path[step + 1] = path[step] - learning_rate * np.array([da, db])
            _finite(path[step + 1], "the path (a, b)", "learning_rate and reg")
    with _diverged_after(n_steps, "the path (a, b)"):
        losses = _slice_loss(X, y, W0, D1, D2, path[:, 0], path[:, 1], reg, _DESCENT_NAMES)
    return path, losses


@contextmanager
def _diverged_after(step: int, what: str) -> Iterator[None]:
    """Report an overflow after the first step of gradient descent as its divergence.

    At step 0 an overflow is the arguments' own, and its error names them; after that, the
    steps made the iterates grow until something overflowed.
    """
    try:
        yield
    except ValueError as error:
        if step == 0:
            raise
        raise ValueError(
            f"gradient descent diverged: {what} grew until the computation overflowed after "
            f"{step} steps; lower learning_rate (or reg)"
        ) from error


def train_linear_classifier(
    X: np.ndarray,
    y: np.ndarray,
    W_init: np.ndarray,
    learning_rate: float,
    n_steps: int,
    reg: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch gradient descent on the linear classifier's loss, :func:`linear_loss`.

    Parameters
    ----------
    X : ndarray
        Shape (N, D).
        Samples (append a column of ones for a bias).
    y : ndarray
        Shape (N,), integer.
        Labels in ``0 .. C-1``.
    W_init : ndarray
        Shape (D, C).
        Starting weights (not modified).
    learning_rate : float
        Greater than 0.
    n_steps : int
        At least 0.
    reg : float
        At least 0.
        L2 strength, as in :func:`linear_loss`.

    Returns
    -------
    weights : ndarray
        Shape (n_steps + 1, D, C).
        The weights before the first step and after every step; ``weights[-1]`` is the result.
    losses : ndarray
        Shape (n_steps + 1,).
        The loss at every entry of ``weights``.

    Raises
    ------
    TypeError, ValueError
        As :func:`linear_loss`, or if ``learning_rate <= 0`` or ``n_steps < 0``; ValueError if
        the descent diverges until the weights or the loss overflow (the message names
        ``learning_rate``).
    """
    X, y, W, _ = _check_linear(X, y, W_init, w_name="W_init")
    reg = _nonnegative("reg", reg)
    learning_rate, n_steps = _check_steps(learning_rate, n_steps)
    weights = np.empty((n_steps + 1, *W.shape), dtype=W.dtype)
    losses = np.empty(n_steps + 1, dtype=W.dtype)
    weights[0] = W
    for step in range(n_steps + 1):
        with _diverged_after(step, "the weights"):
            losses[step], dW = _linear_loss(
                X, y, weights[step], reg, "W_init" if step == 0 else "W"
            )
        if step < n_steps:
            with np.errstate(over="ignore", invalid="ignore"):  # tested on the next line
                weights[step + 1] = weights[step] - learning_rate * dW
            with _diverged_after(step + 1, "the weights"):
                _finite(weights[step + 1], "W", "learning_rate and reg")
    return weights, losses
