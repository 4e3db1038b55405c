"""SymPy derivations of the softmax loss and its gradient (chapters 4 and 5).

Notation follows the book: ``s^*_{ij}`` raw scores, ``s_{ij} = s^*_{ij} - s^*_{ik_i}``
normalized scores (``k_i`` is the index of the largest raw score of row ``i``), ``p_{ij}`` the
softmax probabilities, ``N`` samples, ``C`` classes, labels ``y_i``.

Two forms of every result:

* a *general* form, for a symbolic class count ``C`` (and sample count ``N``), written with
  ``sp.IndexedBase`` and ``sp.Sum``; its functions end in ``_general``;
* a *concrete* form for a given integer ``C`` (and ``N``), with the scores ``s_1, ..., s_C``
  written out; these are the ones that can be simplified to 0 and lambdified.

Class indices in this module count from 1, as in the maths (``y = 1`` is the first class).
NumPy labels count from 0; only :func:`lambdify_softmax_loss` takes NumPy labels.

Expensive results are cached (``functools.lru_cache``); every returned expression or matrix
is immutable, so a cached result cannot be changed by a caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from numbers import Integral
from typing import NamedTuple

import numpy as np
import sympy as sp
from sympy.simplify.simplify import factor_sum

from backprop_utils._validation import refuse_masked

__all__ = [
    "GeneralSymbols",
    "QuotientRule",
    "batch_gradient",
    "batch_gradient_closed_form",
    "batch_gradient_general",
    "batch_loss",
    "batch_scores",
    "expand_probs",
    "general_symbols",
    "is_zero",
    "lambdify_softmax_loss",
    "max_node_gradient",
    "row_gradient_sum",
    "row_sum_proof_general",
    "sample_gradient",
    "sample_loss",
    "score_symbols",
    "softmax_quotient_rule",
    "softmax_quotient_rule_general",
    "softmax_row",
    "softmax_row_general",
]

_SCORES = sp.IndexedBase("s", real=True)
_RAW_SCORES = sp.IndexedBase("s^*", real=True)
_PROBS = sp.IndexedBase("p", positive=True)
_LABELS = sp.IndexedBase("y", integer=True, positive=True)
_ARGMAX = sp.IndexedBase("k", integer=True, positive=True)
_MAX = sp.Symbol("m", real=True)
_N, _C, _I, _J, _CLASS, _Y = sp.symbols("N C i j c y", integer=True, positive=True)


class GeneralSymbols(NamedTuple):
    """The symbols of the general (symbolic ``N`` and ``C``) derivations."""

    #: the normalized scores; ``scores[i, j]`` is s_ij, ``scores[j]`` a score of one sample
    scores: sp.IndexedBase
    #: the raw scores; ``raw_scores[i, j]`` is s*_ij
    raw_scores: sp.IndexedBase
    #: the probabilities; ``probs[i, j]`` is p_ij, ``probs[j]`` a probability of one sample
    probs: sp.IndexedBase
    #: the labels; ``labels[i]`` is y_i
    labels: sp.IndexedBase
    #: the positions of the row maxima; ``argmax[i]`` is k_i, the largest raw score of row i
    argmax: sp.IndexedBase
    #: the number of samples
    N: sp.Symbol
    #: the number of classes
    C: sp.Symbol
    #: the sample index
    i: sp.Symbol
    #: the class index of the score we differentiate by
    j: sp.Symbol
    #: the summation index over classes
    c: sp.Symbol
    #: the label of a single sample
    y: sp.Symbol
    #: the largest raw score of a row (the MAX node's output), held as a symbol of its own
    m: sp.Symbol


class QuotientRule(NamedTuple):
    """The quotient rule for d p_y / d s_j, with p_y = u / v, u = exp(s_y), v = sum_c exp(s_c)."""

    #: u = exp(s_y)
    numerator: sp.Expr
    #: v = sum_c exp(s_c)
    denominator: sp.Expr
    #: du / ds_j
    dnumerator: sp.Expr
    #: dv / ds_j
    ddenominator: sp.Expr
    #: (u' v - u v') / v**2, held unevaluated so that it prints as a quotient (``.doit()``)
    quotient: sp.Expr
    #: p_y (delta_yj - p_j), in the probability symbols p (see :func:`expand_probs`)
    closed_form: sp.Expr


def _validate(C: object, N: object = None, arrays: tuple | None = None, **indices: object) -> None:
    """Check the counts and the 1-based class indices of a public function.

    Parameters
    ----------
    C : int
        The class count, >= 1.
    N : int, optional
        The sample count, >= 1 when given.
    arrays : tuple, optional
        (scores, y), the NumPy arguments of a lambdified loss: scores an (N, C) array of finite
        real numbers, y an (N,) integer array of labels 0..C-1.
    **indices : int or list of int
        One class index in 1..C or, when N is given, a sequence of N of them.

    Raises
    ------
    TypeError
        If a count or an index is not an integer (bool is not accepted), a sequence is
        expected and something else is given, scores is not a real array or y not integer,
        or any of them is a masked array (its mask would be ignored).
    ValueError
        If a count is < 1, an index lies outside 1..C, a sequence has not N entries, or
        scores or y has the wrong shape, a non-finite value or a label outside 0..C-1.
    """
    for name, count in (("C", C), ("N", N)):
        if count is None and name == "N":
            continue
        if isinstance(count, bool) or not isinstance(count, Integral):
            raise TypeError(f"{name} must be an int, got {type(count).__name__}")
        if count < 1:
            raise ValueError(f"{name} must be >= 1, got {count}")
    for name, value in indices.items():
        refuse_masked(name, value)
        if N is None:
            values = [value]
        elif isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
            values = list(value)
            if len(values) != N:
                raise ValueError(f"{name} must hold N = {N} class indices, got {len(values)}")
        else:
            raise TypeError(f"{name} must be a sequence of N = {N} class indices")
        for index in values:
            if isinstance(index, bool) or not isinstance(index, Integral):
                raise TypeError(f"{name} must hold ints, got {type(index).__name__}")
            if not 1 <= index <= C:
                raise ValueError(f"{name} must be a class index in 1..C = 1..{C}, got {index}")
    if arrays is not None:
        _validate_arrays(C, *arrays)


def _validate_arrays(C: int, scores: object, y: object) -> None:
    """The NumPy half of :func:`_validate`: scores (N, C) finite reals, y (N,) labels 0..C-1."""
    real_kinds = "fiu"
    refuse_masked("scores", scores)
    if not isinstance(scores, np.ndarray) or scores.dtype.kind not in real_kinds:
        raise TypeError("scores must be a numpy array of real numbers, shape (N, C)")
    if scores.ndim != 2 or scores.shape[1] != C or scores.shape[0] < 1:
        raise ValueError(f"scores must have shape (N, C) = (N, {C}), N >= 1, got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite (no nan or inf)")
    refuse_masked("y", y)
    try:
        y = np.asarray(y)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"y must be a rectangular array of shape (N,) = ({len(scores)},)") from err
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer labels, got dtype {y.dtype}")
    if y.shape != (scores.shape[0],):
        raise ValueError(f"y must have shape (N,) = ({scores.shape[0]},), got {y.shape}")
    if y.min() < 0 or y.max() >= C:
        raise ValueError(f"y must hold labels in 0..C-1 = 0..{C - 1}")


def general_symbols() -> GeneralSymbols:
    """Return the symbols that the general (symbolic N and C) results are written in.

    Returns
    -------
    symbols : GeneralSymbols
        The indexed bases s, s*, p, y, k and the symbols N, C, i, j, c, y, m.
    """
    return GeneralSymbols(
        _SCORES, _RAW_SCORES, _PROBS, _LABELS, _ARGMAX, _N, _C, _I, _J, _CLASS, _Y, _MAX
    )


def is_zero(expr: sp.Expr | sp.MatrixBase) -> bool:
    """Return True when SymPy can show that `expr` (every entry of a matrix) is 0.

    Exponentials of sums are split (exp(a - b) = exp(a) exp(-b)), fractions are put over a
    common denominator and cancelled. A ``Sum`` is first replaced by an opaque positive symbol,
    which is sound: what is 0 for every value of that symbol is 0 for the sum. False means
    "not shown", not "shown non-zero".

    Parameters
    ----------
    expr : sympy.Expr or sympy.MatrixBase
        The expression, or a matrix of them.

    Returns
    -------
    zero : bool
        True if every entry was shown to be 0.
    """
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [sp.sympify(expr)]
    for entry in entries:
        sums = {term: sp.Dummy("Z", positive=True) for term in entry.atoms(sp.Sum)}
        entry = sp.expand_power_exp(entry.xreplace(sums))
        if sp.cancel(sp.together(entry)) != 0 and sp.simplify(entry) != 0:
            return False
    return True


# --- one sample, concrete C -------------------------------------------------------------------


def score_symbols(C: int, raw: bool = False) -> tuple[sp.Indexed, ...]:
    """The scores of one sample: (s_1, ..., s_C), or (s*_1, ..., s*_C) if `raw`.

    Parameters
    ----------
    C : int
        The class count, >= 1.
    raw : bool, optional
        Return the raw scores s* instead of the normalized scores s (default False).

    Returns
    -------
    scores : tuple of sympy.Indexed
        C real symbols, ``s[1]`` to ``s[C]``.

    Raises
    ------
    TypeError, ValueError
        If C is not an int >= 1.
    """
    _validate(C)
    base = _RAW_SCORES if raw else _SCORES
    return tuple(base[c] for c in range(1, C + 1))


def _denominator(C: int, scores: Sequence[sp.Expr]) -> sp.Expr:
    return sp.Add(*(sp.exp(score) for score in scores[:C]))


def softmax_row(C: int, y: int) -> sp.Expr:
    """Softmax probability of class `y` for one sample: exp(s_y) / sum_{c=1}^{C} exp(s_c).

    Parameters
    ----------
    C : int
        The class count, >= 1.
    y : int
        The class, 1..C.

    Returns
    -------
    p_y : sympy.Expr
        In the symbols of ``score_symbols(C)``.

    Raises
    ------
    TypeError, ValueError
        If C is not an int >= 1 or y not an int in 1..C.
    """
    _validate(C, y=y)
    scores = score_symbols(C)
    return sp.exp(scores[y - 1]) / _denominator(C, scores)


def _quotient(u: sp.Expr, v: sp.Expr, du: sp.Expr, dv: sp.Expr) -> sp.Expr:
    """(du v - u dv) / v**2, kept unevaluated so that it prints as the quotient rule."""
    return sp.Mul(du * v - u * dv, sp.Pow(sp.Pow(v, 2), -1, evaluate=False), evaluate=False)


@lru_cache(maxsize=256)
def _quotient_rule(C: int, y: int, j: int) -> QuotientRule:
    scores = score_symbols(C)
    u, v = sp.exp(scores[y - 1]), _denominator(C, scores)
    du, dv = sp.diff(u, scores[j - 1]), sp.diff(v, scores[j - 1])
    closed_form = _PROBS[y] * (int(j == y) - _PROBS[j])
    return QuotientRule(u, v, du, dv, _quotient(u, v, du, dv), closed_form)


def softmax_quotient_rule(C: int, y: int, j: int) -> QuotientRule:
    """The quotient rule for d p_y / d s_j for one sample with C classes.

    Parameters
    ----------
    C : int
        The class count, >= 1.
    y : int
        The class of the probability, 1..C.
    j : int
        The class of the score it is differentiated by, 1..C.

    Returns
    -------
    rule : QuotientRule
        Its ``quotient.doit()`` equals ``sp.diff(softmax_row(C, y), s_j)`` and
        ``expand_probs(closed_form, C)``.

    Raises
    ------
    TypeError, ValueError
        If C is not an int >= 1, or y or j not an int in 1..C.
    """
    _validate(C, y=y, j=j)
    return _quotient_rule(int(C), int(y), int(j))


def sample_loss(C: int, y: int) -> sp.Expr:
    """Cross-entropy loss of one sample of class `y`: -log p_y = log sum_c exp(s_c) - s_y.

    Parameters
    ----------
    C : int
        The class count, >= 1.
    y : int
        The label of the sample, 1..C.

    Returns
    -------
    loss : sympy.Expr
        In the symbols of ``score_symbols(C)``.

    Raises
    ------
    TypeError, ValueError
        If C is not an int >= 1 or y not an int in 1..C.
    """
    _validate(C, y=y)
    return sp.expand_log(-sp.log(softmax_row(C, y)), force=True)


def sample_gradient(C: int, y: int) -> sp.ImmutableMatrix:
    """Gradient of :func:`sample_loss` with respect to (s_1, ..., s_C), a 1 x C matrix.

    Entry j is p_j - [j = y] once the probabilities are written as p.

    Parameters
    ----------
    C : int
        The class count, >= 1.
    y : int
        The label of the sample, 1..C.

    Returns
    -------
    gradient : sympy.ImmutableMatrix
        1 x C, in the symbols of ``score_symbols(C)``.

    Raises
    ------
    TypeError, ValueError
        If C is not an int >= 1 or y not an int in 1..C.
    """
    _validate(C, y=y)
    loss = sample_loss(C, y)
    return sp.ImmutableMatrix([[sp.diff(loss, score) for score in score_symbols(C)]])


@lru_cache(maxsize=64)
def _row_gradient_sum(C: int, y: int) -> sp.Expr:
    return sp.cancel(sp.together(sum(sample_gradient(C, y))))


def row_gradient_sum(C: int, y: int) -> sp.Expr:
    """Simplified sum_j d loss / d s_j of one sample: 0 for every C and y.

    The MAX node of the row receives minus this sum, so it passes no gradient.

    Parameters
    ----------
    C : int
        The class count, >= 1.
    y : int
        The label of the sample, 1..C.

    Returns
    -------
    row_sum : sympy.Expr
        The sum, after putting it over a common denominator and cancelling: 0.

    Raises
    ------
    TypeError, ValueError
        If C is not an int >= 1 or y not an int in 1..C.
    """
    _validate(C, y=y)
    return _row_gradient_sum(int(C), int(y))


def max_node_gradient(C: int, y: int) -> sp.Expr:
    """d loss / d m for one sample, where m = max_k s*_k is held as a symbol of its own.

    The loss is written in the raw scores and m, with s_c = s*_c - m; m feeds all C
    subtractions, so this derivative is -sum_c d loss / d s_c, the gradient the MAX node
    routes to the largest raw score (the dashed arrow). It is returned as ``sp.diff`` gives
    it; :func:`is_zero` shows that it is 0.

    Parameters
    ----------
    C : int
        The class count, >= 1.
    y : int
        The label of the sample, 1..C.

    Returns
    -------
    dloss_dm : sympy.Expr
        In the raw scores ``score_symbols(C, raw=True)`` and ``general_symbols().m``.

    Raises
    ------
    TypeError, ValueError
        If C is not an int >= 1 or y not an int in 1..C.
    """
    _validate(C, y=y)
    scores, raw_scores = score_symbols(C), score_symbols(C, raw=True)
    shift = {score: raw - _MAX for score, raw in zip(scores, raw_scores, strict=True)}
    return sp.diff(sample_loss(C, y).xreplace(shift), _MAX)


# --- a batch, concrete N and C ----------------------------------------------------------------


def batch_scores(N: int, C: int, raw: bool = False) -> sp.ImmutableMatrix:
    """The N x C matrix of score symbols s_ij (or s*_ij if `raw`), i and j from 1.

    Parameters
    ----------
    N, C : int
        Samples and classes, each >= 1.
    raw : bool, optional
        Return the raw scores s* instead of the normalized scores s (default False).

    Returns
    -------
    scores : sympy.ImmutableMatrix
        Entry (i, j), 0-based, is ``s[i + 1, j + 1]``.

    Raises
    ------
    TypeError, ValueError
        If N or C is not an int >= 1.
    """
    _validate(C, N)
    base = _RAW_SCORES if raw else _SCORES
    return sp.ImmutableMatrix(N, C, lambda i, j: base[i + 1, j + 1])


def _shift_to_raw(N: int, C: int, argmax: tuple[int, ...]) -> dict:
    """s_ij -> s*_ij - s*_{i k_i}: the max shift, with k_i the row's largest raw score."""
    return {
        _SCORES[i, j]: _RAW_SCORES[i, j] - _RAW_SCORES[i, argmax[i - 1]]
        for i in range(1, N + 1)
        for j in range(1, C + 1)
    }


@lru_cache(maxsize=64)
def _batch_loss(N: int, C: int, y: tuple[int, ...], argmax: tuple[int, ...] | None) -> sp.Expr:
    scores = batch_scores(N, C)
    total = sum(
        sp.log(_denominator(C, list(scores.row(i)))) - scores[i, y[i] - 1] for i in range(N)
    )
    loss = total / N
    return loss if argmax is None else loss.xreplace(_shift_to_raw(N, C, argmax))


def _as_indices(N: int, C: int, y: Sequence[int], argmax: Sequence[int] | None) -> tuple:
    if argmax is None:
        _validate(C, N, y=y)
        return tuple(int(label) for label in y), None
    _validate(C, N, y=y, argmax=argmax)
    return tuple(int(label) for label in y), tuple(int(k) for k in argmax)


def batch_loss(N: int, C: int, y: Sequence[int], argmax: Sequence[int] | None = None) -> sp.Expr:
    """Mean cross-entropy loss of a batch: (1/N) sum_i (log sum_c exp(s_ic) - s_{i y_i}).

    Parameters
    ----------
    N, C : int
        Samples and classes, each >= 1.
    y : list or tuple of int
        The N labels y_i, each in 1..C.
    argmax : list or tuple of int, optional
        N class indices in 1..C. If given, the loss is written in the raw scores through the
        max shift s_ij = s*_ij - s*_{i k_i}, where k_i = argmax[i] is the row's largest raw
        score (the MAX node's choice where the maximum is unique, or any choice at a tie).

    Returns
    -------
    loss : sympy.Expr
        In the symbols of ``batch_scores(N, C)`` (or ``batch_scores(N, C, raw=True)``).

    Raises
    ------
    TypeError, ValueError
        If N or C is not an int >= 1, or y or argmax does not hold N ints in 1..C.
    """
    labels, rows_max = _as_indices(N, C, y, argmax)
    return _batch_loss(int(N), int(C), labels, rows_max)


@lru_cache(maxsize=64)
def _batch_gradient(
    N: int, C: int, y: tuple[int, ...], argmax: tuple[int, ...] | None
) -> sp.ImmutableMatrix:
    loss = _batch_loss(N, C, y, argmax)
    scores = batch_scores(N, C, raw=argmax is not None)
    return sp.ImmutableMatrix(N, C, lambda i, j: sp.diff(loss, scores[i, j]))


def batch_gradient(
    N: int, C: int, y: Sequence[int], argmax: Sequence[int] | None = None
) -> sp.ImmutableMatrix:
    """Gradient of :func:`batch_loss`, an N x C matrix, as ``sp.diff`` returns it.

    With `argmax`, it is the gradient with respect to the raw scores s*_ij, MAX path included.
    Either way it equals ``expand_probs(batch_gradient_closed_form(N, C, y), C, raw)``
    (check with :func:`is_zero`).

    Parameters
    ----------
    N, C : int
        Samples and classes, each >= 1.
    y : list or tuple of int
        The N labels y_i, each in 1..C.
    argmax : list or tuple of int, optional
        N class indices k_i in 1..C: differentiate by the raw scores, through the max shift.

    Returns
    -------
    gradient : sympy.ImmutableMatrix
        N x C, entry (i, j) the derivative by s_ij (or s*_ij).

    Raises
    ------
    TypeError, ValueError
        If N or C is not an int >= 1, or y or argmax does not hold N ints in 1..C.
    """
    labels, rows_max = _as_indices(N, C, y, argmax)
    return _batch_gradient(int(N), int(C), labels, rows_max)


def batch_gradient_closed_form(N: int, C: int, y: Sequence[int]) -> sp.ImmutableMatrix:
    """The gradient in closed form: entry (i, j) is (p_ij - [j = y_i]) / N, in the symbols p.

    Parameters
    ----------
    N, C : int
        Samples and classes, each >= 1.
    y : list or tuple of int
        The N labels y_i, each in 1..C.

    Returns
    -------
    gradient : sympy.ImmutableMatrix
        N x C, in the probability symbols ``general_symbols().probs``; write them as softmax
        expressions with :func:`expand_probs`.

    Raises
    ------
    TypeError, ValueError
        If N or C is not an int >= 1, or y does not hold N ints in 1..C.
    """
    labels, _ = _as_indices(N, C, y, None)
    return sp.ImmutableMatrix(
        N, C, lambda i, j: (_PROBS[i + 1, j + 1] - int(j + 1 == labels[i])) / N
    )


def expand_probs(
    expr: sp.Expr | sp.MatrixBase, C: int | None = None, raw: bool = False
) -> sp.Expr | sp.MatrixBase:
    """Write each probability p_j (one sample) or p_ij (a batch) as its softmax of the scores.

    Parameters
    ----------
    expr : sympy.Expr or sympy.MatrixBase
        Written in the probability symbols ``general_symbols().probs``.
    C : int, optional
        The class count. If not given, the general form: the denominator is
        ``Sum(exp(s_c), (c, 1, C))`` with the symbol C.
    raw : bool, optional
        Write the softmax of the raw scores s* instead of s (the two are equal: softmax is
        shift invariant). Default False.

    Returns
    -------
    expanded : sympy.Expr or sympy.MatrixBase
        The same type, with every p replaced.

    Raises
    ------
    TypeError, ValueError
        If C is given and is not an int >= 1.
    """
    if C is not None:
        _validate(C)
    base = _RAW_SCORES if raw else _SCORES

    def softmax_of(prob: sp.Indexed) -> sp.Expr:
        *row, j = prob.indices

        def score(c):
            return base[(*row, c)]

        if C is None:
            return sp.exp(score(j)) / sp.Sum(sp.exp(score(_CLASS)), (_CLASS, 1, _C))
        return sp.exp(score(j)) / sp.Add(*(sp.exp(score(c)) for c in range(1, C + 1)))

    return expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == _PROBS, softmax_of)


# --- general C (and N) --------------------------------------------------------------------------


def _on_range(expr: sp.Expr) -> sp.Expr:
    """Evaluate sums of Kronecker deltas, knowing every index lies in 1..C (and 1..N)."""
    known = sp.Q.le(_J, _C) & sp.Q.le(_Y, _C) & sp.Q.le(_I, _N) & sp.Q.le(_LABELS[_I], _C)
    return sp.refine(expr.doit(), known)


def softmax_row_general() -> sp.Expr:
    """p_y = exp(s_y) / Sum(exp(s_c), (c, 1, C)) for a symbolic class count C."""
    return expand_probs(_PROBS[_Y])


@lru_cache(maxsize=1)
def softmax_quotient_rule_general() -> QuotientRule:
    """The quotient rule for d p_y / d s_j with a symbolic class count C.

    The derivative of the denominator, Sum(exp(s_c) delta_cj, (c, 1, C)), is evaluated
    knowing that j lies in 1..C, which gives exp(s_j).

    Returns
    -------
    rule : QuotientRule
        In the symbols of :func:`general_symbols`.
    """
    u = sp.exp(_SCORES[_Y])
    v = sp.Sum(sp.exp(_SCORES[_CLASS]), (_CLASS, 1, _C))
    du, dv = sp.diff(u, _SCORES[_J]), _on_range(sp.diff(v, _SCORES[_J]))
    closed_form = _PROBS[_Y] * (sp.KroneckerDelta(_J, _Y) - _PROBS[_J])
    return QuotientRule(u, v, du, dv, _quotient(u, v, du, dv), closed_form)


@lru_cache(maxsize=2)
def _batch_gradient_general(raw: bool) -> sp.Expr:
    k = sp.Symbol("k", integer=True, positive=True)  # the row we differentiate by
    row_sum = sp.Sum(sp.exp(_SCORES[_I, _CLASS]), (_CLASS, 1, _C))
    loss = sp.Sum(sp.log(row_sum) - _SCORES[_I, _LABELS[_I]], (_I, 1, _N)) / _N
    base = _SCORES
    if raw:
        base = _RAW_SCORES
        loss = loss.replace(
            lambda e: isinstance(e, sp.Indexed) and e.base == _SCORES,
            lambda e: _RAW_SCORES[e.indices] - _RAW_SCORES[e.indices[0], _ARGMAX[e.indices[0]]],
        )
    gradient = sp.diff(loss, base[k, _J]).doit()
    gradient = sp.refine(gradient, sp.Q.le(k, _N) & sp.Q.le(_J, _C))
    return sp.powsimp(gradient.subs(k, _I))


def batch_gradient_general(raw: bool = False) -> sp.Expr:
    """d loss / d s_ij (or d loss / d s*_ij if `raw`) for symbolic N and C.

    The loss is (1/N) sum_i (log sum_c exp(s_ic) - s_{i y_i}); with `raw`, every s_ij is
    first written as s*_ij - s*_{i k_i}. Both give
    (exp(s_ij) / Sum(exp(s_ic), (c, 1, C)) - delta_{j y_i}) / N, in s or in s*:
    the MAX path contributes nothing.

    Parameters
    ----------
    raw : bool, optional
        Differentiate by the raw scores s*_ij through the max shift (default False).

    Returns
    -------
    gradient : sympy.Expr
        In the symbols of :func:`general_symbols`.
    """
    return _batch_gradient_general(bool(raw))


@lru_cache(maxsize=1)
def row_sum_proof_general() -> tuple[sp.Expr, ...]:
    """The steps showing sum_j d loss_i / d s_ij = 0 for a symbolic class count C.

    loss_i = log Sum(exp(s_ic), c) - s_{i y_i} is the loss of sample i (the batch gradient is
    this over N, so its rows sum to 0 too).

    Returns
    -------
    steps : tuple of sympy.Expr
        The row sum, unevaluated; the sum of p_ij - delta_{j y_i}; the two sums apart; the
        sums evaluated, 1 - 1; and 0.
    """
    row_sum = sp.Sum(sp.exp(_SCORES[_I, _CLASS]), (_CLASS, 1, _C))
    loss = sp.log(row_sum) - _SCORES[_I, _LABELS[_I]]
    gradient = _on_range(sp.diff(loss, _SCORES[_I, _J]))
    unevaluated = sp.Sum(sp.Derivative(sp.Symbol("loss_i"), _SCORES[_I, _J]), (_J, 1, _C))
    summed = sp.Sum(gradient, (_J, 1, _C))
    parts = [factor_sum(sp.Sum(term, (_J, 1, _C))) for term in sp.Add.make_args(gradient)]
    apart = sp.Add(*parts, evaluate=False)
    # Rename the summation index j to c, so that Sum(exp(s_ij), j) / Sum(exp(s_ic), c) is 1.
    evaluated = [
        _on_range(
            part.replace(
                lambda e: isinstance(e, sp.Sum) and tuple(e.variables) == (_J,),
                lambda e: e.change_index(_J, _J, _CLASS),
            )
        )
        for part in parts
    ]
    return (unevaluated, summed, apart, sp.Add(*evaluated, evaluate=False), sp.Add(*evaluated))


# --- numbers ------------------------------------------------------------------------------------


def lambdify_softmax_loss(C: int) -> Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]:
    """NumPy function (scores, y) -> (loss, dscores) built from the symbolic derivation.

    The loss of one sample is written with a one-hot label row t as
    sum_y t_y (log sum_c exp(s_c) - s_y) (:func:`sample_loss` for each y), then in the raw
    scores through the max shift s_c = s*_c - s*_k for each position k of the row maximum,
    differentiated by SymPy (MAX path included) and turned into NumPy code by ``sp.lambdify``.
    The returned function evaluates, row by row, the piece of the row's k_i. It computes what
    ``backprop_utils.softmax_loss`` computes, derived rather than written by hand. It is
    stable for large scores: every exponential it evaluates is exp(s*_ic - s*_{i k_i}) <= 1.

    Parameters
    ----------
    C : int
        The class count, >= 1.

    Returns
    -------
    loss_and_gradient : callable
        ``loss_and_gradient(scores, y) -> (loss, dscores)``: scores an (N, C) array of finite
        real numbers, y an (N,) integer array of NumPy labels 0..C-1; loss a float (mean over
        N), dscores an (N, C) array, float32 for float32 scores and float64 otherwise. It
        raises TypeError or ValueError for scores or y of the wrong type, shape or range
        (masked arrays and ragged lists included). With C = 1 the loss is 0 and the gradient
        0: the one class has probability 1 whatever its score.

    Raises
    ------
    TypeError, ValueError
        If C is not an int >= 1.
    """
    _validate(C)
    return _lambdify_softmax_loss(int(C))


@lru_cache(maxsize=16)
def _lambdify_softmax_loss(C: int) -> Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]:
    scores = score_symbols(C)
    raw = sp.symbols(f"r_1:{C + 1}", real=True)  # plain names for the generated code
    onehot = sp.symbols(f"t_1:{C + 1}", nonnegative=True)
    mixed_loss = sum(t * sample_loss(C, y) for y, t in enumerate(onehot, start=1))
    pieces = []
    for k in range(C):
        loss = mixed_loss.xreplace({scores[c]: raw[c] - raw[k] for c in range(C)})
        gradient = [sp.diff(loss, score) for score in raw]
        pieces.append(sp.lambdify((*raw, *onehot), [loss, *gradient], "numpy"))

    def loss_and_gradient(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        _validate(C, arrays=(scores, y))
        scores64 = scores.astype(np.float64)
        targets = np.eye(C)[np.asarray(y)]
        rows_max = np.argmax(scores64, axis=1)
        values = np.empty((len(scores64), C + 1))
        for k, piece in enumerate(pieces):
            rows = rows_max == k
            if rows.any():
                arguments = (*scores64[rows].T, *targets[rows].T)
                # an output that does not depend on the scores (all of them when C = 1: loss 0,
                # gradient 0) comes back as a scalar: broadcast it to the rows
                outputs = [np.broadcast_to(out, (rows.sum(),)) for out in piece(*arguments)]
                values[rows] = np.stack(outputs, axis=1)
        dtype = np.float32 if scores.dtype == np.float32 else np.float64
        return float(values[:, 0].mean()), (values[:, 1:] / len(scores64)).astype(dtype)

    return loss_and_gradient
