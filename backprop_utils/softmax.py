"""The softmax function and the softmax (cross-entropy) loss, three ways.

Notation follows the book: ``scores`` holds the raw scores s*_ij of ``N`` samples over
``C`` classes, ``y`` the class index of each sample, ``probs`` the softmax probabilities
p_ij. The loss is the mean cross-entropy over the ``N`` samples.

Three implementations compute the same loss and gradient:

- :func:`softmax_loss_naive` loops over samples and classes and follows the derivation
  term by term (quotient rule, chain to the normalized scores, MAX node);
- :func:`softmax_loss_staged` walks the computation graph node by node, from the raw
  scores through the MAX node, the normalized scores, exp, sum, division, log and mean;
- :func:`softmax_loss` is the vectorized version, the one to use.

Float32 input gives float32 output; any other real input is computed in float64.
Inputs are never modified. Masked arrays are refused with a TypeError: NumPy would drop
the mask and compute with the masked values.
"""

from __future__ import annotations

import numpy as np

from backprop_utils._validation import refuse_masked

# softmax_loss processes the rows in blocks of about this many bytes, the L2 cache of a
# typical core: a block stays cached while several passes are made over it, and the blocks
# are large enough that NumPy's cost per call stays small against the work.
BLOCK_BYTES = 2**20

__all__ = [
    "BLOCK_BYTES",
    "log_softmax",
    "max_node_backward",
    "softmax",
    "softmax_loss",
    "softmax_loss_naive",
    "softmax_loss_staged",
]


def _row_reduce(ufunc: np.ufunc, matrix: np.ndarray) -> np.ndarray:
    """``ufunc`` reduced over each row of a C-contiguous matrix, shape (N,).

    ``ufunc.reduceat`` on the flat array does what ``ufunc.reduce(matrix, axis=1)`` does
    (pairwise, for sums) but runs up to twice as fast when the rows are short.
    """
    n_rows, n_cols = matrix.shape
    return ufunc.reduceat(matrix.reshape(-1), np.arange(0, n_rows * n_cols, n_cols))


# The default of _check_scores's y: "no labels" (softmax, log_softmax). A distinct object,
# not None, so that a loss called with y=None is told that y is missing.
_NO_LABELS = object()


def _check_scores(
    scores: object,
    y: object = _NO_LABELS,
    check_finite: bool = True,
    return_nodes: object = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate ``scores`` (and ``y`` if given, as the losses do, None included).

    Returns ``scores`` as a C-contiguous float32 array if it was float32 and float64
    otherwise (no copy when it already is one), and ``y`` as an ``np.intp`` array of shape
    (N,) (or None when no ``y`` was given). The cast keeps index arithmetic on ``y`` integer
    for every integer dtype: ``np.arange(N) * C + y`` is float64 when ``y`` is uint64, and
    NumPy refuses float indices. ``check_finite=False`` leaves the test for NaN and
    infinity to the caller. ``return_nodes`` is the flag of :func:`softmax_loss_staged`,
    checked to be a bool.
    """
    if not isinstance(return_nodes, (bool, np.bool_)):
        raise TypeError(f"return_nodes must be True or False, got {type(return_nodes).__name__}")
    refuse_masked("scores", scores)
    try:
        scores = np.asarray(scores)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise ValueError("scores must be a rectangular 2-D array of shape (N, C)") from err
    if scores.dtype == np.bool_ or scores.dtype.kind not in "fiu":
        raise TypeError(f"scores must be a real numeric array, got dtype {scores.dtype}")
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D of shape (N, C), got shape {scores.shape}")
    n_samples, n_classes = scores.shape
    if n_samples == 0:
        raise ValueError("scores holds an empty batch: N must be at least 1")
    if n_classes == 0:
        raise ValueError("scores has no classes: C must be at least 1")
    dtype = np.float32 if scores.dtype == np.float32 else np.float64
    scores = np.ascontiguousarray(scores, dtype=dtype)
    if check_finite:
        _check_finite(scores)
    if y is _NO_LABELS:
        return scores, None

    if y is None:
        raise TypeError(
            f"y must be an integer array of class indices of shape ({n_samples},), got None"
        )
    refuse_masked("y", y)
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise ValueError(f"y must be a 1-D integer array of shape ({n_samples},)") from err
    # an empty list has NumPy's default dtype, float64: let the shape test below speak
    if y.size > 0 and (y.dtype == np.bool_ or y.dtype.kind not in "iu"):
        raise TypeError(f"y must be an integer array of class indices, got dtype {y.dtype}")
    if y.shape != (n_samples,):
        raise ValueError(
            f"y must have shape ({n_samples},), one label per row of scores, got shape {y.shape}"
        )
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(
            f"y must hold class indices in [0, {n_classes}), got values in [{y.min()}, {y.max()}]"
        )
    return scores, y.astype(np.intp, copy=False)  # in [0, C): the cast is exact


def _check_finite(scores: np.ndarray) -> np.floating:
    """Raise unless every score is finite; return the largest magnitude max |s*_ij|.

    Two fast passes: NaN and +inf show in the maximum, NaN and -inf in the minimum.
    """
    max_abs = np.maximum(-scores.min(), scores.max())  # NaN propagates
    if not np.isfinite(max_abs):
        raise ValueError("scores must be finite: found NaN or infinity")
    return max_abs


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for any finite scores.

    p_ij = exp(s_ij) / sum_c exp(s_ic), computed on the normalized scores
    s_ij = s*_ij - max_k s*_ik so that no exponential overflows.

    Parameters
    ----------
    scores : array_like of real numbers, shape (N, C)
        Raw scores s*_ij, finite.

    Returns
    -------
    probs : ndarray, shape (N, C), float32 if ``scores`` is float32 else float64
        Probabilities; every row sums to one.

    Raises
    ------
    TypeError
        If ``scores`` is not a real numeric array, or is a masked array.
    ValueError
        If ``scores`` is not 2-D, has no rows or no columns, or holds NaN or infinity.
    """
    scores, _ = _check_scores(scores)
    row_max = _row_reduce(np.maximum, scores)  # MAX node
    probs = scores - row_max[:, None]  # normalized scores, all <= 0: no exp overflows
    np.exp(probs, out=probs)  # in place
    probs *= (1 / _row_reduce(np.add, probs))[:, None]
    return probs


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise log of the softmax, by log-sum-exp: log p_ij = s_ij - log sum_c exp(s_ic).

    It stays finite where ``log(softmax(scores))`` would give log(0) = -inf.

    Parameters
    ----------
    scores : array_like of real numbers, shape (N, C)
        Raw scores s*_ij, finite.

    Returns
    -------
    log_probs : ndarray, shape (N, C), float32 if ``scores`` is float32 else float64
        Log-probabilities, all <= 0.

    Raises
    ------
    TypeError
        If ``scores`` is not a real numeric array, or is a masked array.
    ValueError
        If ``scores`` is not 2-D, has no rows or no columns, or holds NaN or infinity.
    """
    scores, _ = _check_scores(scores)
    row_max = _row_reduce(np.maximum, scores)  # MAX node
    log_probs = scores - row_max[:, None]  # normalized scores s_ij, all <= 0
    log_sum_exp = np.log(_row_reduce(np.add, np.exp(log_probs)))  # in [0, log C]
    log_probs -= log_sum_exp[:, None]
    return log_probs


def max_node_backward(dnormalized: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The MAX node's share of the gradient at the raw scores, for any upstream gradient.

    The max shift s_ij = s*_ij - max_k s*_ik has the gradient
    ``dnormalized + max_node_backward(dnormalized, scores)`` at the raw scores: the direct
    path plus what the MAX node routes to each row's largest raw score (the first of them at
    a tie). For the softmax loss this share is zero up to rounding, because the rows of its
    gradient sum to zero; chapter 6 shows why a gradient check of the loss cannot see it.

    Parameters
    ----------
    dnormalized : array_like of real numbers, shape (N, C)
        Upstream gradient at the normalized scores s_ij.
    scores : array_like of real numbers, shape (N, C)
        The raw scores s*_ij, finite.

    Returns
    -------
    dscores_max : ndarray, shape (N, C), float32 if ``dnormalized`` is float32 else float64
        Zero except at (i, k_i), k_i = argmax_k s*_ik, which holds -sum_c dnormalized[i, c].

    Raises
    ------
    TypeError
        If an argument is not a real numeric array, or is a masked array.
    ValueError
        If ``scores`` is not a finite, non-empty 2-D array, or ``dnormalized`` does not have
        its shape.
    """
    scores, _ = _check_scores(scores)
    refuse_masked("dnormalized", dnormalized)
    try:
        upstream = np.asarray(dnormalized)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise ValueError(
            f"dnormalized must be a rectangular array of shape {scores.shape}"
        ) from err
    if upstream.dtype == np.bool_ or upstream.dtype.kind not in "fiu":
        raise TypeError(f"dnormalized must be a real numeric array, got dtype {upstream.dtype}")
    upstream = upstream.astype(np.float32 if upstream.dtype == np.float32 else np.float64)
    if upstream.shape != scores.shape:
        raise ValueError(
            f"dnormalized must have shape {scores.shape}, the shape of scores, "
            f"got shape {upstream.shape}"
        )
    return _max_node_backward(upstream, scores)


def _max_node_backward(dnormalized: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The MAX node's backward pass: its share of the gradient at the raw scores.

    Forward, s_ij = s*_ij - m_i with m_i = max_k s*_ik. Each of the C subtractions of row i
    has local gradient -1 with respect to m_i, so the MAX node receives
    dloss/dm_i = -sum_c dloss/ds_ic, and it routes all of it to the largest raw score of
    the row, column k_i = argmax_k s*_ik. At a tie the maximum has no derivative; this
    routes everything to exactly one column, the first of the tied ones (the choice of
    ``np.argmax``, one valid subgradient). The whole gradient at the raw scores is
    ``dnormalized + _max_node_backward(dnormalized, scores)``.

    For the softmax loss every row of ``dnormalized`` sums to zero, so what this routes is
    zero up to rounding; for an upstream gradient whose rows do not sum to zero it is not.
    Private and unvalidated: the losses call it on arrays they have checked.

    Parameters
    ----------
    dnormalized : ndarray of float, shape (N, C)
        Upstream gradient at the normalized scores s_ij.
    scores : ndarray of real numbers, shape (N, C)
        The raw scores s*_ij; only where each row's maximum lies matters.

    Returns
    -------
    dscores_max : ndarray, shape (N, C), dtype of ``dnormalized``
        Zero except at (i, k_i), which holds -sum_c dnormalized[i, c].
    """
    rows = np.arange(scores.shape[0])
    dscores_max = np.zeros_like(dnormalized)
    dscores_max[rows, scores.argmax(axis=1)] = -dnormalized.sum(axis=1)
    return dscores_max


def softmax_loss(scores: np.ndarray, y: np.ndarray) -> tuple[np.floating, np.ndarray]:
    """Mean cross-entropy loss of the softmax and its gradient, vectorized.

    loss = -(1/N) sum_i log p_iy_i, and dloss/ds*_ij = (p_ij - [j = y_i]) / N.
    The rows are processed in blocks that fit in the L2 cache. A block whose scores all
    lie within +-29 (float32) or +-236 (float64) needs no MAX-node shift: no exp overflows
    or underflows there, and -log p_iy = log(S_i / e_iy). Any other block is shifted by its
    row maxima and its loss goes through log-sum-exp, never through log(p): the result
    stays finite and correct for scores as large as +-1e4 in float32 and float64.

    Parameters
    ----------
    scores : array_like of real numbers, shape (N, C)
        Raw scores s*_ij, finite.
    y : array_like of int, shape (N,)
        Class index of each sample, each in [0, C), of any integer dtype.

    Returns
    -------
    loss : numpy scalar, float32 if ``scores`` is float32 else float64
        The mean cross-entropy, >= 0.
    dscores : ndarray, shape (N, C), same dtype as ``loss``
        Gradient of the loss with respect to ``scores``; every row sums to zero.

    Raises
    ------
    TypeError
        If ``scores`` is not a real numeric array or ``y`` is not an integer array, or
        either is a masked array.
    ValueError
        If ``scores`` is not 2-D, is empty or holds NaN or infinity; if ``y`` does not have
        shape (N,) or holds a label outside [0, C).
    """
    scores, y = _check_scores(scores, y, check_finite=False)  # checked block by block
    n_samples, n_classes = scores.shape
    dtype = scores.dtype
    # The MAX node only keeps exp from overflowing. While every |s*_ij| is below a third of
    # the log of the largest float (29 in float32, 236 in float64), exp(s*_ij) can neither
    # overflow nor underflow, and softmax is invariant to the shift: skip it, and a pass.
    exp_safe = np.log(np.finfo(dtype).max) / 3
    targets = np.arange(n_samples) * n_classes + y  # flat index of each s*_iy: one index array
    dscores = np.empty_like(scores)  # the one full-size buffer: exps, then the gradient
    row_loss = np.empty(n_samples, dtype)
    ones = np.ones(n_classes, dtype)
    # Work on blocks of rows small enough to stay in the L2 cache across the passes below,
    # so that scores is read from memory once and dscores written once.
    block_rows = max(1, BLOCK_BYTES // scores[0].nbytes)
    for start in range(0, n_samples, block_rows):
        rows = slice(start, start + block_rows)
        block_scores = scores[rows]
        block = dscores[rows]  # a view into dscores
        block_targets = targets[rows] - start * n_classes  # flat index of s*_iy in the block
        if _check_finite(block_scores) < exp_safe:  # and now the block is in cache
            np.exp(block_scores, out=block)  # e_ij = exp(s*_ij), straight into dscores
            sum_exp = block @ ones  # row sums S_i by BLAS (gemv): faster than .sum(axis=1)
            # -log p_iy = log(S_i / e_iy): >= 0 since S_i >= e_iy, and exactly 0 if C = 1
            row_loss[rows] = np.log(sum_exp / block.reshape(-1)[block_targets])
        else:
            row_max = _row_reduce(np.maximum, block_scores)  # MAX node
            np.subtract(block_scores, row_max[:, None], out=block)  # s_ij <= 0 ...
            np.exp(block, out=block)  # ... then e_ij = exp(s_ij), in place
            sum_exp = block @ ones
            # log-sum-exp, never log(p): e_iy may underflow to 0
            target_normalized = block_scores.reshape(-1)[block_targets] - row_max  # s_iy
            row_loss[rows] = np.log(sum_exp) - target_normalized
        block *= (1 / (n_samples * sum_exp))[:, None]  # p_ij / N, 1/N folded in
        block.reshape(-1)[block_targets] -= 1 / n_samples  # (p_ij - [j = y_i]) / N
    return np.mean(row_loss), dscores


def softmax_loss_naive(scores: np.ndarray, y: np.ndarray) -> tuple[np.floating, np.ndarray]:
    """Softmax loss and gradient with explicit loops that follow the derivation.

    For each sample i: the MAX node m_i = max_k s*_ik, the normalized scores
    s_ij = s*_ij - m_i, the softmax of the target class p_iy = exp(s_iy) / sum_c exp(s_ic)
    and its log, taken by log-sum-exp. Backward: the loss sends -1/(N p_iy) to the softmax
    node; the quotient rule gives dp_iy/ds_ij = p_iy ([j = y_i] - p_ij); their product,
    in which p_iy cancels, is the gradient at s_ij; finally the MAX node sends
    -sum_c dloss/ds_ic back to the largest raw score of the row, the first one at a tie
    (``_max_node_backward``).

    Slow by design: it is for reading, not for use. Same parameters, returns and errors as
    :func:`softmax_loss`.

    Parameters
    ----------
    scores : array_like of real numbers, shape (N, C)
    y : array_like of int, shape (N,)

    Returns
    -------
    loss : numpy scalar, float32 if ``scores`` is float32 else float64
    dscores : ndarray, shape (N, C), same dtype as ``loss``

    Raises
    ------
    TypeError
        If ``scores`` is not a real numeric array or ``y`` is not an integer array, or
        either is a masked array.
    ValueError
        If ``scores`` is not 2-D, is empty or holds NaN or infinity; if ``y`` does not have
        shape (N,) or holds a label outside [0, C).
    """
    scores, y = _check_scores(scores, y)
    n_samples, n_classes = scores.shape
    dtype = scores.dtype
    loss = dtype.type(0)
    dnormalized = np.zeros_like(scores)  # gradient at the normalized scores s_ij
    for i in range(n_samples):
        # forward: MAX node, normalized scores, exps, their sum, the log of the softmax
        argmax = 0
        for k in range(1, n_classes):
            if scores[i, k] > scores[i, argmax]:
                argmax = k
        normalized = [scores[i, j] - scores[i, argmax] for j in range(n_classes)]
        exps = [np.exp(normalized[j]) for j in range(n_classes)]
        sum_exp = dtype.type(0)
        for j in range(n_classes):
            sum_exp += exps[j]
        log_softmax_target = normalized[y[i]] - np.log(sum_exp)  # log p_iy by log-sum-exp
        loss -= log_softmax_target / n_samples

        # backward: upstream -1/(N p_iy) times the quotient rule p_iy ([j = y_i] - p_ij);
        # p_iy cancels, which keeps the product finite even where p_iy underflows to 0
        for j in range(n_classes):
            prob_j = exps[j] / sum_exp
            delta = 1 if j == y[i] else 0
            dnormalized[i, j] = -(delta - prob_j) / n_samples
    # s_ij = s*_ij - m_i: each s*_ij gets dnormalized[i, j] directly, and the MAX node passes
    # minus the row sum to the largest raw score of the row (the argmax found above)
    return loss, dnormalized + _max_node_backward(dnormalized, scores)


def softmax_loss_staged(
    scores: np.ndarray, y: np.ndarray, *, return_nodes: bool = False
) -> tuple[np.floating, np.ndarray] | tuple[np.floating, np.ndarray, dict[str, np.ndarray]]:
    """Softmax loss and gradient, node by node on the computation graph.

    Forward nodes: raw scores s*, MAX node m_i = max_k s*_ik, normalized scores
    s_ij = s*_ij - m_i, exps e_ij = exp(s_ij), sums S_i = sum_j e_ij, division (the softmax
    of the target class) p_i = e_iy / S_i, log, and the mean with a minus sign. Backward
    visits the same nodes in reverse, each multiplying its local gradient by its upstream
    gradient. The MAX node's contribution (``_max_node_backward``) is computed and added
    like any other; it is zero up to rounding, because each row of the gradient at the
    normalized scores sums to zero. ``return_nodes=True`` returns every node's gradient, so
    that this can be seen.

    The log node's local gradient is 1/p_i. Where a target-class probability is below the
    smallest normal number of the dtype (a score gap of about 708 in float64 or 87 in
    float32), that gradient is not representable and this version raises; use
    :func:`softmax_loss`, which has no such limit.

    Parameters
    ----------
    scores : array_like of real numbers, shape (N, C)
    y : array_like of int, shape (N,)
    return_nodes : bool, default False, keyword only
        Also return the gradient at each node of the graph.

    Returns
    -------
    loss : numpy scalar, float32 if ``scores`` is float32 else float64
    dscores : ndarray, shape (N, C), same dtype as ``loss``
    nodes : dict of str to ndarray, only if ``return_nodes``
        The gradient of the loss at each node, in the dtype of ``loss``: ``"dlog_probs"``,
        ``"dtarget_probs"``, ``"dsums"`` and ``"drow_max"`` (the MAX node's output m_i) of
        shape (N,); ``"dexps"``, ``"dnormalized"`` and ``"dscores_max"``, what the MAX node
        routes back to the raw scores, of shape (N, C).
        ``dscores == nodes["dnormalized"] + nodes["dscores_max"]``.

    Raises
    ------
    TypeError
        If ``scores`` is not a real numeric array, ``y`` is not an integer array (or either
        is a masked array), or ``return_nodes`` is not a bool.
    ValueError
        If ``scores`` is not 2-D, is empty or holds NaN or infinity; if ``y`` does not have
        shape (N,) or holds a label outside [0, C); if a target-class probability
        underflows (see above).
    """
    scores, y = _check_scores(scores, y, return_nodes=return_nodes)
    n_samples = scores.shape[0]
    rows = np.arange(n_samples)

    # forward, node by node
    row_max = scores.max(axis=1, keepdims=True)  # MAX node, (N, 1)
    normalized = scores - row_max  # s_ij, (N, C)
    exps = np.exp(normalized)  # e_ij, (N, C)
    sums = exps.sum(axis=1)  # S_i, (N,)
    target_probs = exps[rows, y] / sums  # division: p_i = softmax(x_i, y_i), (N,)
    if target_probs.min() < np.finfo(scores.dtype).tiny:
        raise ValueError(
            "scores: a target-class probability underflows in "
            f"{scores.dtype}, so the log node's gradient 1/p is not representable; "
            "use softmax_loss, which works by log-sum-exp"
        )
    log_probs = np.log(target_probs)  # log node, (N,)
    loss = -np.mean(log_probs)  # mean node, scalar

    # backward, in reverse; each line is local gradient times upstream gradient
    dlog_probs = np.full(n_samples, -1 / n_samples, dtype=scores.dtype)  # mean node
    dtarget_probs = dlog_probs / target_probs  # log node: d log p / dp = 1 / p
    dexps = np.zeros_like(exps)
    dexps[rows, y] = dtarget_probs / sums  # division node, numerator: d(e/S)/de = 1/S
    dsums = -dtarget_probs * exps[rows, y] / sums**2  # division node, denominator: -e/S^2
    dexps += dsums[:, None]  # sum node: copies its upstream gradient to every e_ij
    dnormalized = dexps * exps  # exp node: d exp(s)/ds = exp(s)
    # s_ij = s*_ij - m_i: gradient +1 to the raw score, and -1 to the MAX node, which sends
    # minus the row sum to the row's (first) largest raw score
    dscores_max = _max_node_backward(dnormalized, scores)  # MAX node, (N, C)
    dscores = dnormalized + dscores_max
    if not return_nodes:
        return loss, dscores
    nodes = {
        "dlog_probs": dlog_probs,
        "dtarget_probs": dtarget_probs,
        "dexps": dexps,
        "dsums": dsums,
        "dnormalized": dnormalized,
        "drow_max": dscores_max.sum(axis=1),  # one nonzero entry per row: exact
        "dscores_max": dscores_max,
    }
    return loss, dscores, nodes
