"""First drafts of the vectorized softmax loss, wrong on purpose, and a plain reference (chapter 7).

The drafts here are WRONG ON PURPOSE. Each one is a plausible first attempt at a vectorized
``softmax_loss(scores, y) -> (loss, dscores)`` that is right everywhere except for ONE mistake,
named in its docstring, of a kind that vectorizing a derivation invites. Chapter 7 runs each draft
and shows the check that catches it. Use :func:`backprop_utils.softmax.softmax_loss` for real work.

The mistakes, one per function:

- :func:`make_draft_outer_scope_n`: the batch size is read from an enclosing scope;
- :func:`draft_wrong_axis`: an (N,) vector scales an (N, C) array along the wrong axis,
  silently wrong when N == C, a broadcasting error otherwise;
- :func:`draft_max_node_shape`: an (N, 1) column is subtracted from N fancy-indexed entries;
- :func:`draft_sum_over_samples`: the softmax denominator sums over the samples, not the classes;
- :func:`draft_log_of_probs`: the loss takes log(p), which is -inf where p underflows;
- :func:`draft_modifies_input`: the max shift is done in place, on the caller's array.

Apart from the one mistake, each draft validates its input like the real module and works in
float64. The mistakes show up as NumPy errors or as wrong numbers: that is their point.

One function here is not a draft: :func:`softmax_loss_vectorized` is RIGHT, the plain vectorized
reference, one NumPy expression per equation, with none of the optimizations of ``softmax_loss``
(no blocks, no skipped shift, no in-place passes). Chapter 7 shows it on the page; the appendix
times it against ``softmax_loss`` to measure what the optimizations buy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backprop_utils._validation import refuse_masked

__all__ = [
    "softmax_loss_vectorized",
    "draft_log_of_probs",
    "draft_max_node_shape",
    "draft_modifies_input",
    "draft_sum_over_samples",
    "draft_wrong_axis",
    "make_draft_outer_scope_n",
]


def _check(scores: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate the arguments of a draft; return scores (float64, no copy if already) and y.

    Raises
    ------
    TypeError
        If `scores` is not real numbers or `y` is not an integer array, or either is a masked
        array (its mask would be ignored).
    ValueError
        If `scores` is not 2-D (N, C) with N, C >= 1 or holds NaN or infinity, or `y` is
        ragged or not (N,) labels in [0, C).
    """
    refuse_masked("scores", scores)
    if not isinstance(scores, np.ndarray) or scores.dtype.kind not in "fiu":
        raise TypeError("scores must be a real numeric ndarray of shape (N, C)")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty 2-D array (N, C), got shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite: found NaN or infinity")
    refuse_masked("y", y)
    try:
        y = np.asarray(y)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"y must be a 1-D integer array of shape ({len(scores)},)") from err
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must be an integer array of class indices, got dtype {y.dtype}")
    n_samples, n_classes = scores.shape
    if y.shape != (n_samples,):
        raise ValueError(f"y must have shape ({n_samples},), got {y.shape}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y must hold class indices in [0, {n_classes})")
    return scores, y


def make_draft_outer_scope_n(batch_size: int) -> Callable:
    """Return a draft loss that divides by `batch_size`, captured when it was written.

    MISTAKE: the mean over the batch uses the batch size of an enclosing scope (here the closure
    variable `batch_size`, as a notebook's global N would be) instead of ``scores.shape[0]``.
    The draft is right for batches of exactly `batch_size` samples and silently wrong by the
    factor ``N / batch_size`` for any other batch.

    Parameters
    ----------
    batch_size : int
        The batch size the draft was tried on, >= 1.

    Returns
    -------
    draft : callable
        ``draft(scores (N, C), y (N,)) -> (loss: float, dscores (N, C))``.

    Raises
    ------
    ValueError
        If `batch_size` is not a positive integer.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")

    def draft(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        scores, y = _check(scores, y)
        rows = np.arange(len(y))
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1))
        loss = np.sum(log_norm - shifted[rows, y]) / batch_size  # wrong N
        dscores = np.exp(shifted - log_norm[:, None])
        dscores[rows, y] -= 1.0
        return float(loss), dscores / batch_size  # wrong N

    return draft


def draft_wrong_axis(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Draft through the quotient rule with one upstream factor broadcast on the wrong axis.

    MISTAKE: the upstream gradient of the softmax node, ``-1 / (N p_iy)``, has shape (N,) and
    multiplies the (N, C) local gradient without ``[:, None]``. NumPy aligns shapes from the
    right, so the (N,) vector is laid along the class axis: with N != C this is a broadcasting
    ValueError, with N == C entry (i, j) is scaled by sample j's factor instead of sample i's,
    and the gradient is silently wrong.

    Parameters
    ----------
    scores : ndarray, shape (N, C)
    y : ndarray of int, shape (N,)

    Returns
    -------
    loss : float
    dscores : ndarray, shape (N, C)

    Raises
    ------
    ValueError
        From NumPy's broadcasting when N != C (the mistake), or from validation.
    """
    scores, y = _check(scores, y)
    n_samples = scores.shape[0]
    rows = np.arange(n_samples)
    shifted = scores - scores.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    probs = exps / exps.sum(axis=1, keepdims=True)
    target_probs = probs[rows, y]  # (N,)
    loss = np.mean(np.log(exps.sum(axis=1)) - shifted[rows, y])
    is_target = np.zeros_like(probs)
    is_target[rows, y] = 1.0
    local = target_probs[:, None] * (is_target - probs)  # d p_iy / d s_ij, (N, C)
    upstream = -1.0 / (n_samples * target_probs)  # d loss / d p_iy, (N,)
    dscores = upstream * local  # wrong axis: needs upstream[:, None]
    return float(loss), dscores


def draft_max_node_shape(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Draft that routes the MAX node's gradient with an (N, 1) column into N entries.

    MISTAKE: the MAX node's gradient, minus the row sums of the gradient at the normalized
    scores, is computed with ``keepdims=True`` (shape (N, 1)) and subtracted in place from the N
    entries ``dscores[rows, argmax]`` (shape (N,)). The in-place update cannot hold the (N, N)
    broadcast, so NumPy raises a ValueError for every N, including N == C.

    Parameters
    ----------
    scores : ndarray, shape (N, C)
    y : ndarray of int, shape (N,)

    Returns
    -------
    (never returns)

    Raises
    ------
    ValueError
        Always, from NumPy (the mistake), unless validation raises first.
    """
    scores, y = _check(scores, y)
    n_samples = scores.shape[0]
    rows = np.arange(n_samples)
    normalized = scores - scores.max(axis=1, keepdims=True)
    sum_exp = np.exp(normalized).sum(axis=1, keepdims=True)
    probs = np.exp(normalized) / sum_exp
    loss = np.mean(np.log(sum_exp[:, 0]) - normalized[rows, y])
    dnormalized = probs / n_samples
    dnormalized[rows, y] -= 1.0 / n_samples
    dscores = dnormalized.copy()
    argmax = scores.argmax(axis=1)
    dscores[rows, argmax] -= dnormalized.sum(axis=1, keepdims=True)  # (N,) -= (N, 1)
    return float(loss), dscores


def draft_sum_over_samples(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Draft whose softmax denominator sums over the samples instead of the classes.

    MISTAKE: ``exps.sum(axis=0, keepdims=True)`` normalizes each column over the N samples;
    the softmax needs ``axis=1``, a sum over the C classes of each sample. With keepdims the
    (1, C) result broadcasts against (N, C) for every shape, so nothing raises: the rows of
    ``probs`` do not sum to 1, and loss and gradient are wrong.

    Parameters
    ----------
    scores : ndarray, shape (N, C)
    y : ndarray of int, shape (N,)

    Returns
    -------
    loss : float
    dscores : ndarray, shape (N, C)

    Raises
    ------
    TypeError, ValueError
        From validation only; the mistake itself raises nothing.
    """
    scores, y = _check(scores, y)
    n_samples = scores.shape[0]
    rows = np.arange(n_samples)
    shifted = scores - scores.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    sum_exp = exps.sum(axis=0, keepdims=True)  # wrong axis: must sum over the classes
    probs = exps / sum_exp
    loss = np.mean(np.log(sum_exp[0, y]) - shifted[rows, y])
    dscores = probs.copy()
    dscores[rows, y] -= 1.0
    return float(loss), dscores / n_samples


def draft_log_of_probs(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Draft that takes the loss as the log of the softmax probabilities.

    MISTAKE: ``-mean(log(p_iy))`` evaluates p first. When a sample's target score lies more than
    about 745 below its maximum (float64), p_iy underflows to 0 and the loss is +inf, although the
    true loss, ``log sum_c exp(s_ic) - s_iy``, is finite. NumPy warns (divide by zero in log).
    The gradient, which needs only p, stays right.

    Parameters
    ----------
    scores : ndarray, shape (N, C)
    y : ndarray of int, shape (N,)

    Returns
    -------
    loss : float
        +inf where a target probability underflows (the mistake).
    dscores : ndarray, shape (N, C)

    Raises
    ------
    TypeError, ValueError
        From validation only.
    """
    scores, y = _check(scores, y)
    n_samples = scores.shape[0]
    rows = np.arange(n_samples)
    exps = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = exps / exps.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[rows, y]))  # log(0) = -inf when p underflows
    dscores = probs.copy()
    dscores[rows, y] -= 1.0
    return float(loss), dscores / n_samples


def draft_modifies_input(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Draft that saves a buffer by shifting the caller's scores in place.

    MISTAKE: ``scores -= scores.max(axis=1, keepdims=True)`` on a float64 input changes the
    caller's array. Loss and gradient are right (softmax is shift invariant), but every later use
    of the scores sees the shifted values, and calling the draft twice is no longer the same as
    calling it once.

    Parameters
    ----------
    scores : ndarray, shape (N, C)
        Shifted in place when it is a float64 array (the mistake).
    y : ndarray of int, shape (N,)

    Returns
    -------
    loss : float
    dscores : ndarray, shape (N, C)

    Raises
    ------
    TypeError, ValueError
        From validation only.
    """
    scores, y = _check(scores, y)
    n_samples = scores.shape[0]
    rows = np.arange(n_samples)
    scores -= scores.max(axis=1, keepdims=True)  # in place, on the caller's array
    log_norm = np.log(np.exp(scores).sum(axis=1))
    loss = np.mean(log_norm - scores[rows, y])
    dscores = np.exp(scores - log_norm[:, None])
    dscores[rows, y] -= 1.0
    return float(loss), dscores / n_samples


def softmax_loss_vectorized(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The plain vectorized softmax loss and its gradient: a right reference, not a draft.

    One NumPy expression per equation, on whole (N, C) arrays, with ``exp`` computed once::

        s_ij    = s*_ij - max_c s*_ic                 the MAX node, as an (N, 1) column
        e_ij    = exp(s_ij)
        S_i     = sum_c e_ic                          over the classes, as an (N, 1) column
        p_ij    = e_ij / S_i
        loss    = mean_i (log S_i - s_iy_i)           log-sum-exp, never log(p)
        dscores = (p_ij - [j = y_i]) / N

    It allocates a new array for every line and makes no attempt at speed: it is what the
    derivation reads like in NumPy, and what ``softmax_loss`` is timed against (the appendix).

    Parameters
    ----------
    scores : ndarray of real numbers, shape (N, C)
    y : ndarray of int, shape (N,), labels in [0, C)

    Returns
    -------
    loss : float
    dscores : ndarray of float64, shape (N, C)

    Raises
    ------
    TypeError
        If `scores` is not a real numeric ndarray or `y` is not an integer array, or either is
        a masked array.
    ValueError
        If `scores` is not a non-empty (N, C) array of finite numbers or `y` does not hold N
        labels in [0, C).
    """
    scores, y = _check(scores, y)
    n_samples, n_classes = scores.shape
    shifted = scores - scores.max(axis=1, keepdims=True)  # (N, C)
    exps = np.exp(shifted)  # (N, C), the only exp
    sum_exp = exps.sum(axis=1, keepdims=True)  # (N, 1), over the classes
    probs = exps / sum_exp  # (N, C)
    rows = np.arange(n_samples)
    loss = np.mean(np.log(sum_exp[:, 0]) - shifted[rows, y])  # log-sum-exp
    one_hot = y[:, None] == np.arange(n_classes)  # (N, C), [j = y_i]
    dscores = (probs - one_hot) / n_samples  # N from the shape
    return float(loss), dscores
