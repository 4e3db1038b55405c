"""The computation graphs drawn in the book, built from :class:`~backprop_utils.engine.Value`.

:func:`normalized_score_graph` and :func:`softmax_loss_graph` build the two graphs of the softmax
loss, gate by gate, and :func:`batchnorm_graph` the graph of batch normalization for one feature,
in three stages. :func:`seeded_root` makes backward start from given gradients at given nodes, so
a graph cut in stages can be backpropagated one stage at a time. Inputs are checked first; a node
that overflows float64 raises a ValueError naming the argument it came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from backprop_utils.engine import Value, topological_order, vmax, vsum

__all__ = [
    "BatchNormGraph",
    "batchnorm_graph",
    "normalized_score_graph",
    "seeded_root",
    "softmax_loss_graph",
    "subgraph",
]


def _check_real(x: object, name: str) -> float:
    """`x` as a finite float; a TypeError or ValueError naming `name` if it is not one."""
    if isinstance(x, bool | np.bool_) or not isinstance(x, Real):
        raise TypeError(f"{name} must be a real number (int or float), got {type(x).__name__}")
    try:
        value = float(x)
    except OverflowError:  # an int beyond float64
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite in float64 (|{name}| < 1.8e308), got {value}")
    return value


def _check_array(values: object, name: str, kind: str = "real numbers") -> np.ndarray:
    """`values` as an array of real numbers (or of integers); a TypeError for a masked array or
    another dtype, a ValueError naming `name` for ragged nested lists or an int beyond float64."""
    if isinstance(values, np.ma.MaskedArray):
        raise TypeError(f"{name} must not be a masked array (numpy.ma): its mask would be ignored")
    try:
        array = np.asarray(values)
    except ValueError:
        raise ValueError(f"{name} must be a rectangular array, not ragged nested lists") from None
    if kind == "real numbers" and array.dtype == object and array.size > 0:
        if all(isinstance(v, Integral) and not isinstance(v, bool) for v in array.flat):
            try:  # Python ints beyond int64
                array = array.astype(np.float64)
            except OverflowError:
                raise ValueError(f"{name} holds an int too large for float64") from None
    wanted = (np.integer,) if kind == "integers" else (np.floating, np.integer)
    if not any(np.issubdtype(array.dtype, dtype) for dtype in wanted):
        raise TypeError(f"{name} must hold {kind}, got dtype {array.dtype}")
    if kind == "real numbers" and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no nan or inf)")
    return array


@contextmanager
def _overflow_names(arguments: str) -> Iterator[None]:
    """Re-raise a node's overflow (a ValueError of the engine) naming the user's arguments."""
    try:
        yield
    except ValueError as err:
        raise ValueError(
            f"{arguments}: a node of the graph leaves float64's range ({err})"
        ) from None


def _check_score_row(raw_scores_row: object, j: object, sample: object) -> np.ndarray:
    """Validate the inputs of normalized_score_graph; return the row as float64."""
    row = _check_array(raw_scores_row, "raw_scores_row")
    if row.ndim != 1 or row.size < 1:
        raise ValueError(f"raw_scores_row must have shape (C,) with C >= 1, got {row.shape}")
    for name, index in (("j", j), ("sample", sample)):
        if isinstance(index, bool | np.bool_) or not isinstance(index, Integral):
            raise TypeError(f"{name} must be an int, got {type(index).__name__}")
    if not 0 <= j < row.size:
        raise ValueError(f"j must be a class index in 0..C-1 = 0..{row.size - 1}, got {j}")
    if sample < 0:
        raise ValueError(f"sample must be >= 0, got {sample}")
    return row.astype(np.float64)


def _check_scores(scores: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate the inputs of softmax_loss_graph; return them as float64 and int64 arrays."""
    scores = _check_array(scores, "scores")
    if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 1:
        raise ValueError(f"scores must have shape (N, C) with N, C >= 1, got {scores.shape}")
    y = _check_array(y, "y", "integers")
    if y.shape != (scores.shape[0],):
        raise ValueError(f"y must have shape (N,) = ({scores.shape[0]},), got {y.shape}")
    if np.any(y < 0) or np.any(y >= scores.shape[1]):
        raise ValueError(f"y must hold labels in 0..C-1 = 0..{scores.shape[1] - 1}")
    return scores.astype(np.float64), y.astype(np.int64)


def _check_batchnorm(
    x: object, gamma: object, beta: object, dout: object, eps: object, cut: object
) -> tuple[list[float], float, float, list[float], float]:
    """Validate the inputs of batchnorm_graph; return x and dout as lists of floats."""
    x, dout = _check_array(x, "x"), _check_array(dout, "dout")
    if x.ndim != 1 or x.size < 2:
        raise ValueError(
            f"x must have shape (N,) with N >= 2 (one feature of a batch; training mode needs "
            f"2 samples), got shape {x.shape}"
        )
    if dout.shape != x.shape:
        raise ValueError(f"dout must have the shape of x, ({x.size},), got shape {dout.shape}")
    gamma, beta = _check_real(gamma, "gamma"), _check_real(beta, "beta")
    eps = _check_real(eps, "eps")
    if eps <= 0.0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if not isinstance(cut, bool):
        raise TypeError(f"cut must be a bool, got {type(cut).__name__}")
    return x.astype(np.float64).tolist(), gamma, beta, dout.astype(np.float64).tolist(), eps


def _check_seeds(nodes: object, grads: object) -> tuple[tuple[Value, ...], tuple[float, ...]]:
    """Validate the inputs of seeded_root; return them as tuples of Values and floats."""
    if isinstance(grads, np.ma.MaskedArray):
        raise TypeError("grads must not be a masked array (numpy.ma): its mask would be ignored")
    for name, values in (("nodes", nodes), ("grads", grads)):
        if isinstance(values, Value) or not isinstance(values, Sequence | np.ndarray):
            raise TypeError(f"{name} must be a list or tuple, got {type(values).__name__}")
    if len(nodes) == 0:
        raise ValueError("nodes must hold at least one Value")
    if len(grads) != len(nodes):
        raise ValueError(f"grads must hold one gradient per node, {len(nodes)}, got {len(grads)}")
    for node in nodes:
        if not isinstance(node, Value):
            raise TypeError(f"each node must be a Value, got {type(node).__name__}")
    return tuple(nodes), tuple(_check_real(grad, "each grad") for grad in grads)


# The two graphs of the softmax loss -----------------------------------------------------------


def normalized_score_graph(raw_scores_row, j: int, *, sample: int = 0) -> tuple[Value, list]:
    """The graph of one normalized score, s_ij = s*_ij - max_k s*_ik.

    Parameters
    ----------
    raw_scores_row : array_like of real numbers, shape (C,), C >= 1
        The raw scores s*_i1 .. s*_iC of one sample, finite.
    j : int
        The class of the normalized score, 0-based: 0 <= j < C.
    sample : int, default 0
        The 0-based index i of the sample, used only in the labels.

    Returns
    -------
    score : Value
        The node s_ij (labels use the 1-based indices of the text: s_11 for i = j = 0).
    raw_scores : list of Value, length C
        The leaves s*_i1 .. s*_iC.

    Raises
    ------
    TypeError
        If `raw_scores_row` is a masked array or does not hold real numbers, or `j` or
        `sample` is not an int.
    ValueError
        If `raw_scores_row` is ragged or not 1-D with at least one entry, an entry is not finite
        in float64, `j` is outside 0..C-1, `sample` is negative, or s_ij overflows float64.
    """
    row = _check_score_row(raw_scores_row, j, sample)
    i = sample + 1
    raw_scores = [Value(score, f"$s^*_{{{i}{c + 1}}}$") for c, score in enumerate(row.tolist())]
    row_max = vmax(*raw_scores, label=f"$m_{{{i}}}$")
    with _overflow_names("raw_scores_row"):
        score = (raw_scores[j] - row_max).named(f"$s_{{{i}{j + 1}}}$")
    return score, raw_scores


def softmax_loss_graph(scores, y) -> tuple[Value, list[list[Value]]]:
    """The graph of the mean cross-entropy loss of softmax probabilities, gate by gate.

    For each sample i: MAX node m_i over the raw scores, normalized scores
    s_ij = s*_ij - m_i, exp nodes, their sum Z_i, the softmax node p_i = exp(s_iy_i) / Z_i and
    log p_i; then loss = -(sum_i log p_i) / N. With N = 2 and C = 3 the graph has 30 nodes.

    Parameters
    ----------
    scores : array_like of real numbers, shape (N, C)
        Raw scores s*_ij, finite. Computed in float64.
    y : array_like of int, shape (N,)
        Correct classes, 0-based, 0 <= y_i < C.

    Returns
    -------
    loss : Value
        The loss node; ``loss.backward()`` fills the grads.
    raw_scores : list of N lists of C Values
        The leaves s*_ij; after backward, their grads are d loss / d s*_ij.

    Raises
    ------
    TypeError
        If `scores` or `y` is a masked array, `scores` does not hold real numbers or `y` does
        not hold integers.
    ValueError
        If `scores` or `y` is ragged, the shapes are not (N, C) and (N,), a score is not finite
        in float64, a label is outside 0..C-1, or a node leaves float64's range (a row spread
        beyond 1.8e308, or a probability p_i that underflows to 0: log of 0).
    """
    scores, y = _check_scores(scores, y)
    n_samples = scores.shape[0]
    raw_scores, log_probs = [], []
    with _overflow_names("scores"):
        for i, row in enumerate(scores.tolist()):
            row_values = [Value(s, f"$s^*_{{{i + 1}{c + 1}}}$") for c, s in enumerate(row)]
            row_max = vmax(*row_values, label=f"$m_{{{i + 1}}}$")
            exps = []
            for c, raw in enumerate(row_values):
                normalized = (raw - row_max).named(f"$s_{{{i + 1}{c + 1}}}$")
                exps.append(normalized.exp().named(f"$e_{{{i + 1}{c + 1}}}$"))
            total = vsum(*exps, label=f"$Z_{{{i + 1}}}$")
            prob = (exps[y[i]] / total).named(f"$p_{{{i + 1}{y[i] + 1}}}$")
            log_probs.append(prob.log())
            raw_scores.append(row_values)
        loss = (-vsum(*log_probs)) / n_samples
    return loss.named("loss"), raw_scores


# Batch normalization, and backward by stages --------------------------------------------------


def seeded_root(
    nodes: Sequence[Value], grads: Sequence[float], *, label: str = r"$\tilde L$"
) -> Value:
    """A stand-in root from which backward starts with the given gradients at the given nodes.

    The root is ``L~ = sum_k nodes[k] * gbar_k``, where each ``gbar_k`` is a new leaf labelled
    ``$\\bar g$`` that holds ``grads[k]``. Since ``d L~ / d nodes[k] = grads[k]``, calling
    ``backward()`` on it sends ``grads[k]`` back from ``nodes[k]`` as if a later stage of the
    graph had sent it: this is how a graph cut in stages is backpropagated one stage at a time.
    A seeded node that another seeded node depends on receives its own seed plus what flows
    back through that node, as it would in the uncut graph.

    Parameters
    ----------
    nodes : list of Value, at least one
        The end nodes of a stage.
    grads : list of float, one per node
        The gradient that the next stage sent back to each of them; finite.
    label : str, default ``"$\\tilde L$"``
        The label of the root.

    Returns
    -------
    Value
        The root, with op ``"+"``; call its ``backward()``.

    Raises
    ------
    TypeError
        If `nodes` or `grads` is not a list or tuple (`grads` may be a plain NumPy array, not a
        masked one), a node is not a Value, a gradient is not a real number, or `label` is not
        a string.
    ValueError
        If `nodes` is empty, `grads` does not hold one gradient per node, a gradient is not
        finite in float64, or a seed ``nodes[k] * grads[k]`` overflows float64.
    """
    nodes, grads = _check_seeds(nodes, grads)
    with _overflow_names("grads"):
        seeds = [node * Value(grad, r"$\bar g$") for node, grad in zip(nodes, grads, strict=True)]
        return vsum(*seeds, label=label)


def subgraph(ends: Sequence[Value], starts: Sequence[Value] = ()) -> Value:
    """A copy of the part of a graph between `starts` and `ends`, to draw one panel of it.

    Every node that some end depends on without passing through a start is copied, with its
    value, label, operation, local gradients and current grad; a start is copied as a leaf
    (its own inputs are left out), and so is every leaf. The copies of the ends are joined
    under one new ``"+"`` root whose grad is 1, so that
    ``draw(root, hide_root=True)`` (or ``draw_stages(..., hide_roots=True)``) shows the gates
    between the panel's inputs and outputs with the gradients that the whole graph's backward
    left in them, and no stand-in node. The original graph is not changed.

    Parameters
    ----------
    ends : list of Value, at least one
        The outputs of the panel.
    starts : list of Value, optional
        Its inputs: nodes drawn as leaves although the graph computes them.

    Returns
    -------
    Value
        The root joining the copies of `ends`; its grad is 1.

    Raises
    ------
    TypeError
        If `ends` or `starts` is not a list or tuple of Values.
    ValueError
        If `ends` is empty.
    """
    for name, nodes in (("ends", ends), ("starts", starts)):
        if not isinstance(nodes, list | tuple) or not all(isinstance(n, Value) for n in nodes):
            raise TypeError(f"{name} must be a list of Values")
    if not ends:
        raise ValueError("ends must hold at least one Value")
    inputs = {id(node) for node in starts}
    copies: dict[int, Value] = {}
    for end in ends:
        for node in topological_order(end):  # parents first, so their copies exist
            if id(node) in copies:
                continue
            if id(node) in inputs or not node.parents:
                copy = Value(node.data, node.label)
            else:  # nodes behind a start are copied too, but the root does not reach them
                parents = [copies[id(parent)] for parent in node.parents]
                copy = Value(
                    node.data, node.label, op=node.op, parents=parents, local_grads=node.local_grads
                )
            copy.grad = node.grad
            copies[id(node)] = copy
    panel_ends = [copies[id(end)] for end in ends]
    root = Value(
        math.fsum(end.data for end in panel_ends),
        op="+",
        parents=panel_ends,
        local_grads=(1,) * len(panel_ends),
    )
    root.grad = 1.0
    return root


@dataclass(frozen=True)
class BatchNormGraph:
    """The nodes of the graph of batch normalization for one feature, from :func:`batchnorm_graph`.

    Stage 1, the statistics: ``x -> mean -> centered -> var``. Stage 2, the inverse standard
    deviation: ``var_in -> var + eps -> std -> inv_std``. Stage 3, the output:
    ``centered_in, inv_std_in, gamma, beta -> xhat -> out -> loss``. In a cut graph, ``var_in``,
    ``centered_in`` and ``inv_std_in`` are new leaves holding the values of ``var``,
    ``centered`` and ``inv_std``, so the three stages are three separate graphs; in an uncut
    graph they are those nodes themselves.

    Attributes
    ----------
    x : list of Value, length N
        The leaves x_k.
    mean : Value
        The batch mean mu.
    centered : list of Value, length N
        x_k - mu, as stage 1 computes them.
    var : Value
        The biased batch variance sigma^2, the end of stage 1.
    var_in : Value
        sigma^2 as it enters stage 2.
    std : Value
        s = sqrt(sigma^2 + eps).
    inv_std : Value
        1/s, the end of stage 2.
    centered_in : list of Value, length N
        x_k - mu as they enter stage 3.
    inv_std_in : Value
        1/s as it enters stage 3.
    gamma : Value
        The leaf gamma, the scale.
    beta : Value
        The leaf beta, the shift.
    xhat : list of Value, length N
        The normalized inputs (x_k - mu) / s.
    out : list of Value, length N
        The outputs y_k = gamma * xhat_k + beta.
    dout : list of Value, length N
        The leaves g_k, the upstream gradient.
    loss : Value
        The stand-in loss L = sum_k g_k y_k, the end of stage 3; d L / d y_k = g_k.
    """

    x: list[Value]
    mean: Value
    centered: list[Value]
    var: Value
    var_in: Value
    std: Value
    inv_std: Value
    centered_in: list[Value]
    inv_std_in: Value
    gamma: Value
    beta: Value
    xhat: list[Value]
    out: list[Value]
    dout: list[Value]
    loss: Value

    @property
    def stage_roots(self) -> tuple[Value, Value, Value]:
        """The end nodes of the three stages, ``(var, inv_std, loss)``."""
        return self.var, self.inv_std, self.loss


def _enter_stage(node: Value, cut: bool) -> Value:
    """`node` as the next stage sees it: a new leaf with its value and label if `cut`."""
    return Value(node.data, node.label) if cut else node


def batchnorm_graph(
    x, gamma: float, beta: float, dout, eps: float = 1e-5, *, cut: bool = True
) -> BatchNormGraph:
    """The graph of batch normalization in training mode for one feature, in three stages.

    Gate by gate: mu = (sum_k x_k) / N, x_k - mu, sigma^2 = (sum_k (x_k - mu)^2) / N,
    s = sqrt(sigma^2 + eps), 1/s = 1 / s, xhat_k = (x_k - mu) * (1/s),
    y_k = gamma * xhat_k + beta and the stand-in loss L = sum_k g_k y_k, whose gradient with
    respect to y_k is the upstream gradient g_k = dout_k. These are the nodes of
    :func:`backprop_utils.batchnorm.batchnorm_backward`. The graph is cut after sigma^2 (stage 1,
    the statistics) and after 1/s (stage 2, the inverse standard deviation); stage 3 is the
    output. Backpropagate a cut graph stage by stage, from the last one, with
    :func:`seeded_root`.

    Parameters
    ----------
    x : array_like of real numbers, shape (N,), N >= 2
        One feature of a batch, finite.
    gamma : float
        Scale, finite.
    beta : float
        Shift, finite.
    dout : array_like of real numbers, shape (N,)
        The upstream gradient d L / d y, finite.
    eps : float, default 1e-5
        Positive constant added to the variance.
    cut : bool, default True
        Cut the graph into three separate stages (True), or build it in one piece (False).

    Returns
    -------
    BatchNormGraph
        Every node the stages are made of. ``loss.backward()`` on an uncut graph fills the grads
        of ``x``, ``gamma`` and ``beta`` with dx, dgamma and dbeta.

    Raises
    ------
    TypeError
        If `x` or `dout` is a masked array or does not hold real numbers, `gamma`, `beta` or
        `eps` is not a real number, or `cut` is not a bool.
    ValueError
        If `x` or `dout` is ragged, `x` is not 1-D with at least 2 entries, `dout` does not have
        the shape of `x`, a number is not finite in float64, `eps` is not > 0, or a node's value
        or local gradient leaves float64's range.
    """
    x, gamma, beta, dout, eps = _check_batchnorm(x, gamma, beta, dout, eps, cut)
    n_samples = len(x)
    sub = [f"_{{{k + 1}}}" for k in range(n_samples)]  # 1-based subscripts: x_{1} .. x_{N}

    with _overflow_names("x, gamma, beta, dout or eps"):
        # Stage 1, the statistics: x_k -> mu -> x_k - mu -> sigma^2
        xs = [Value(value, f"$x{sub[k]}$") for k, value in enumerate(x)]
        mean = (vsum(*xs) / n_samples).named(r"$\mu$")
        centered = [(x_k - mean).named(f"$x{sub[k]}-\\mu$") for k, x_k in enumerate(xs)]
        var = (vsum(*[c * c for c in centered]) / n_samples).named(r"$\sigma^2$")

        # Stage 2, the inverse standard deviation: sigma^2 -> s = sqrt(sigma^2 + eps) -> 1/s
        var_in = _enter_stage(var, cut)
        var_eps = (var_in + Value(eps, r"$\epsilon$")).named(r"$\sigma^2+\epsilon$")
        std = var_eps.sqrt().named("$s$")
        inv_std = (1 / std).named("$1/s$")

        # Stage 3, the output: x_k - mu and 1/s -> xhat_k -> y_k -> L = sum_k g_k y_k
        centered_in = [_enter_stage(c, cut) for c in centered]
        inv_std_in = _enter_stage(inv_std, cut)
        gamma_leaf, beta_leaf = Value(gamma, r"$\gamma$"), Value(beta, r"$\beta$")
        xhat = [(c * inv_std_in).named(f"$\\hat{{x}}{sub[k]}$") for k, c in enumerate(centered_in)]
        out = [(gamma_leaf * h + beta_leaf).named(f"$y{sub[k]}$") for k, h in enumerate(xhat)]
        dout_leaves = [Value(g, f"$g{sub[k]}$") for k, g in enumerate(dout)]
        loss = vsum(*[y * g for y, g in zip(out, dout_leaves, strict=True)], label="$L$")
    return BatchNormGraph(
        x=xs,
        mean=mean,
        centered=centered,
        var=var,
        var_in=var_in,
        std=std,
        inv_std=inv_std,
        centered_in=centered_in,
        inv_std_in=inv_std_in,
        gamma=gamma_leaf,
        beta=beta_leaf,
        xhat=xhat,
        out=out,
        dout=dout_leaves,
        loss=loss,
    )
