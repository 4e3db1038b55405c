"""Known mistakes in hand-written backward passes, each as a wrong variant (for ``check``).

Every public function here except :func:`section` is WRONG ON PURPOSE: a plausible first attempt at
one of the functions a reader writes (``softmax_loss``, ``affine_backward``, ``relu_backward``,
``batchnorm_backward``, ``layernorm_backward``) with exactly one mistake, named in its docstring.
:mod:`backprop_utils.check` runs the reader's function and these variants on the same input;
where the reader's output agrees with a variant's output, and that output differs from the right
one, the reader has made the variant's mistake. The diagnosis compares outputs, never guesses
from the size of an error.

Each variant takes the raw inputs of a case (float64 arrays: ``scores, y`` for the loss,
``x, ...params, dout`` for a layer) and returns a dict of the outputs its mistake changes, named
as the module names them (``loss``, ``dscores``, ``out``, ``dx``, ``dw``, ``db``, ``dgamma``,
``dbeta``). An output a variant leaves out is one it gets right. Several variants in this
module, and the softmax drafts of :mod:`backprop_utils.drafts`, are grouped into the
:class:`Mistake` entries of the catalogues at the end.

``SECTIONS`` is the one table of chapter references: update it when chapters are
renumbered (``tests/test_check.py`` checks every entry against the chapters' headings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop_utils import drafts
from backprop_utils.batchnorm import batchnorm_backward_alt, batchnorm_forward
from backprop_utils.layernorm import layernorm_backward, layernorm_forward

__all__ = [
    "AFFINE_BACKWARD",
    "BATCHNORM_BACKWARD",
    "IN_PLACE",
    "LAYERNORM_BACKWARD",
    "RELU_BACKWARD",
    "SECTIONS",
    "SOFTMAX_LOSS",
    "Mistake",
    "section",
]

# The chapter and the heading (without $ signs) that explain each mistake.
SECTIONS: dict[str, tuple[int, str]] = {
    "upstream": (1, "The idea"),
    "overflow": (4, "Overflow without the shift"),
    "chain": (5, "The upstream gradient and the chain"),
    "wrong_axis": (7, "The wrong axis: silently wrong only when N = C"),
    "wrong_index": (7, "The denominator over the wrong index"),
    "log_of_probs": (7, "The log of a probability"),
    "in_place": (7, "Changing the caller's scores"),
    "norm_idea": (9, "The idea"),
    "norm_symbols": (9, "What each symbol holds"),
    "variance_path": (10, "The vacuous check: an all-ones upstream gradient"),
    "matmul_shapes": (2, "By dimension analysis"),
    "broadcast_sum": (2, "Broadcasting forward is summing backward"),
    "elementwise": (2, "Sum, mean and elementwise gates"),
    "affine_layer": (2, "The affine layer in code"),
}


def section(key: str) -> str:
    """The reference of ``SECTIONS[key]`` in words, e.g. "chapter 6, 'The log of a probability'"."""
    chapter, title = SECTIONS[key]
    return f"chapter {chapter}, '{title}'"


@dataclass(frozen=True)
class Mistake:
    """One known mistake: its name, what it does in words, where the book explains it.

    Attributes
    ----------
    name : str
        Short name shown in reports, e.g. "missing 1/N".
    explanation : str
        One sentence a student understands.
    section : str
        Key of ``SECTIONS``.
    variants : tuple of callable
        Wrong variants that make this mistake (see the module docstring); empty for a mistake
        that a check detects directly (``IN_PLACE``).
    """

    name: str
    explanation: str
    section: str
    variants: tuple[Callable[..., dict[str, Any]], ...] = ()


def _one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    return (y[:, None] == np.arange(n_classes)).astype(np.float64)


def _draft(draft: Callable) -> Callable[..., dict[str, Any]]:
    """A draft of :mod:`backprop_utils.drafts`, ``(scores, y) -> (loss, dscores)``, as a variant."""

    def variant(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        loss, dscores = draft(scores, y)
        return {"loss": loss, "dscores": dscores}

    variant.__name__ = draft.__name__
    return variant


# the softmax loss ------------------------------------------------------------------------------


def softmax_denominator_wrong_axis(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """MISTAKE: ``exps / exps.sum(axis=1)`` without keepdims divides entry (i, j) by row j's sum.

    An error of broadcasting when N != C; silently wrong when N == C.
    """
    exps = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = exps / exps.sum(axis=1)  # (N, C) / (N,): lined up with the classes
    n_samples = len(y)
    loss = -np.mean(np.log(probs[np.arange(n_samples), y]))
    return {"loss": loss, "dscores": (probs - _one_hot(y, scores.shape[1])) / n_samples}


def softmax_without_mean(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """MISTAKE: the 1/N of the mean is missing: the loss is the sum and dscores is P - Y."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_sum_exp = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    probs = np.exp(shifted - log_sum_exp)
    loss = np.sum(log_sum_exp[:, 0] - shifted[np.arange(len(y)), y])
    return {"loss": loss, "dscores": probs - _one_hot(y, scores.shape[1])}


def softmax_without_target_one(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """MISTAKE: dscores = P / N, without the -1 at each sample's target class."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))
    return {"dscores": probs / len(y)}


def softmax_without_shift(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """MISTAKE: no max shift: exp(s*) overflows to inf for scores above about 709 (float64)."""
    exps = np.exp(scores)
    probs = exps / exps.sum(axis=1, keepdims=True)
    n_samples = len(y)
    loss = -np.mean(np.log(probs[np.arange(n_samples), y]))
    return {"loss": loss, "dscores": (probs - _one_hot(y, scores.shape[1])) / n_samples}


def softmax_through_log_node(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """MISTAKE: loss -mean(log p) and gradient through the log node's 1/p, node by node.

    Where a target probability underflows to 0 the loss is inf and 1/p makes dscores non-finite.
    """
    n_samples = len(y)
    rows = np.arange(n_samples)
    exps = np.exp(scores - scores.max(axis=1, keepdims=True))
    sums = exps.sum(axis=1)
    target_probs = exps[rows, y] / sums
    loss = -np.mean(np.log(target_probs))
    dtarget_probs = -1 / (n_samples * target_probs)  # 1/p: inf where p underflows
    dexps = np.zeros_like(exps)
    dexps[rows, y] = dtarget_probs / sums
    dexps += (-dtarget_probs * exps[rows, y] / sums**2)[:, None]
    return {"loss": loss, "dscores": dexps * exps}


# the affine and ReLU layers --------------------------------------------------------------------


def _rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1)


def affine_dx_without_transpose(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray
) -> dict[str, Any]:
    """MISTAKE: dx = dout @ w instead of dout @ w.T (a shape error unless w is square)."""
    return {"dx": (dout @ w).reshape(x.shape)}


def affine_dw_transposed(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray
) -> dict[str, Any]:
    """MISTAKE: dw = dout.T @ x, the transpose of x.T @ dout (shape (M, D) instead of (D, M))."""
    return {"dw": dout.T @ _rows(x)}


def affine_batch_mean(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray
) -> dict[str, Any]:
    """MISTAKE: every gradient divided by the batch size N, as if the layer took a mean."""
    n_samples = x.shape[0]
    return {
        "dx": (dout @ w.T).reshape(x.shape) / n_samples,
        "dw": _rows(x).T @ dout / n_samples,
        "db": dout.mean(axis=0),
    }


def affine_without_upstream(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray
) -> dict[str, Any]:
    """MISTAKE: the local gradients alone, not multiplied by dout (as if dout were all ones)."""
    ones = np.ones_like(dout)
    return {"dx": (ones @ w.T).reshape(x.shape), "dw": _rows(x).T @ ones, "db": ones.sum(axis=0)}


def affine_db_wrong_axis(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray
) -> dict[str, Any]:
    """MISTAKE: db = dout.sum(axis=1), a sum over the outputs: shape (N,), silent when N == M."""
    return {"db": dout.sum(axis=1)}


def relu_mask_from_dout(x: np.ndarray, dout: np.ndarray) -> dict[str, Any]:
    """MISTAKE: the mask is taken from the upstream gradient: dx = dout where dout > 0."""
    return {"dx": np.where(dout > 0, dout, 0.0)}


def relu_times_output(x: np.ndarray, dout: np.ndarray) -> dict[str, Any]:
    """MISTAKE: dout multiplied by the output max(0, x) instead of the mask [x > 0]."""
    return {"dx": dout * np.maximum(x, 0)}


def relu_without_upstream(x: np.ndarray, dout: np.ndarray) -> dict[str, Any]:
    """MISTAKE: the mask [x > 0] alone, not multiplied by dout."""
    return {"dx": (x > 0).astype(np.float64)}


# batch and layer normalization -----------------------------------------------------------------
# Batch norm takes its statistics over the samples (axis 0), layer norm over the features (axis 1).


def _normalized(
    x: np.ndarray, axis: int, divisor: int, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """xhat, and 1/sqrt(var + eps) with keepdims, for a variance divided by ``divisor``."""
    centred = x - x.mean(axis=axis, keepdims=True)
    inv_std = 1 / np.sqrt((centred**2).sum(axis=axis, keepdims=True) / divisor + eps)
    return centred * inv_std, inv_std


def _normalized_dx(
    xhat: np.ndarray, inv_std: np.ndarray, dxhat: np.ndarray, axis: int, divisor: float | None
) -> np.ndarray:
    """dx of xhat = (x - mean) * inv_std, for a variance divided by ``divisor``.

    ``divisor=None`` leaves out the path through the variance.
    """
    projection = 0.0 if divisor is None else (dxhat * xhat).sum(axis=axis, keepdims=True) / divisor
    return inv_std * (dxhat - dxhat.mean(axis=axis, keepdims=True) - xhat * projection)


def batchnorm_without_variance_path(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: dx = gamma * inv_std * (dout - mean(dout)), without - xhat * mean(dout * xhat)."""
    xhat, inv_std = _normalized(x, 0, x.shape[0], eps)
    return {"dx": _normalized_dx(xhat, inv_std, dout * gamma, 0, None)}


def batchnorm_unbiased_variance(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: the variance divided by N - 1 (unbiased), forward and backward, instead of N."""
    xhat, inv_std = _normalized(x, 0, x.shape[0] - 1, eps)
    return {
        "out": gamma * xhat + beta,
        "dx": _normalized_dx(xhat, inv_std, dout * gamma, 0, x.shape[0] - 1),
        "dgamma": (dout * xhat).sum(axis=0),
    }


def batchnorm_unbiased_in_backward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: the right forward, but N - 1 in place of N in the variance's backward pass."""
    xhat, inv_std = _normalized(x, 0, x.shape[0], eps)
    return {"dx": _normalized_dx(xhat, inv_std, dout * gamma, 0, x.shape[0] - 1)}


def batchnorm_sums_wrong_axis(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: dgamma and dbeta summed over the features (axis=1): shape (N,), silent if N == D."""
    xhat, _ = _normalized(x, 0, x.shape[0], eps)
    return {"dgamma": (dout * xhat).sum(axis=1), "dbeta": dout.sum(axis=1)}


def batchnorm_over_features(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: the statistics taken over each sample's features (axis=1): that is layer norm."""
    out, cache = layernorm_forward(x, gamma, beta, eps)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def layernorm_without_variance_path(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: dx = inv_std * (g - mean(g)), g = dout * gamma, no - xhat * mean(g * xhat)."""
    xhat, inv_std = _normalized(x, 1, x.shape[1], eps)
    return {"dx": _normalized_dx(xhat, inv_std, dout * gamma, 1, None)}


def layernorm_unbiased_variance(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: each row's variance divided by D - 1 (unbiased), forward and backward."""
    xhat, inv_std = _normalized(x, 1, x.shape[1] - 1, eps)
    return {
        "out": gamma * xhat + beta,
        "dx": _normalized_dx(xhat, inv_std, dout * gamma, 1, x.shape[1] - 1),
        "dgamma": (dout * xhat).sum(axis=0),
    }


def layernorm_unbiased_in_backward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: the right forward, but D - 1 in place of D in the variance's backward pass."""
    xhat, inv_std = _normalized(x, 1, x.shape[1], eps)
    return {"dx": _normalized_dx(xhat, inv_std, dout * gamma, 1, x.shape[1] - 1)}


def layernorm_sums_wrong_axis(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: dgamma and dbeta summed over the features (axis=1): shape (N,), silent if N == D."""
    xhat, _ = _normalized(x, 1, x.shape[1], eps)
    return {"dgamma": (dout * xhat).sum(axis=1), "dbeta": dout.sum(axis=1)}


def layernorm_over_samples(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dout: np.ndarray, eps: float = 1e-5
) -> dict[str, Any]:
    """MISTAKE: the statistics taken over the samples (axis=0): that is batch norm."""
    out, cache = batchnorm_forward(x, gamma, beta, eps)
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}


# the catalogues: what check diagnoses, function by function ------------------------------------

IN_PLACE = Mistake(
    "in-place modification of the input",
    "a function must not change the arrays it is given (as `scores -= ...` or "
    "`dout[mask] = 0` do): compute into new arrays, or work on a copy",
    "in_place",
)

SOFTMAX_LOSS: tuple[Mistake, ...] = (
    Mistake(
        "wrong-axis broadcast",
        "an (N,) vector of one value per sample is broadcast along the classes (a missing "
        "`[:, None]` or `keepdims=True`): an error when N != C, silently wrong when N == C",
        "wrong_axis",
        (_draft(drafts.draft_wrong_axis), softmax_denominator_wrong_axis),
    ),
    Mistake(
        "missing 1/N",
        "the loss or the gradient is not divided by the batch size N: a sum where the mean belongs",
        "chain",
        (softmax_without_mean,),
    ),
    Mistake(
        "missing -1 at the target class",
        "the gradient is P / N: the -1 at each sample's target class, (P - Y) / N, is missing",
        "chain",
        (softmax_without_target_one,),
    ),
    Mistake(
        "sum over samples instead of classes",
        "the softmax denominator sums the exponentials over the samples (axis=0) where it must "
        "sum over each sample's classes (axis=1)",
        "wrong_index",
        (_draft(drafts.draft_sum_over_samples),),
    ),
    Mistake(
        "log(p) that underflows",
        "log(p) of a target probability that underflows to 0 gives an infinite loss (and 1/p an "
        "infinite gradient); use log-sum-exp, loss_i = log sum_c exp(s_ic) - s_iy",
        "log_of_probs",
        (_draft(drafts.draft_log_of_probs), softmax_through_log_node),
    ),
    Mistake(
        "no max shift",
        "exp of the raw scores overflows to inf above about 709 (88 in float32); subtract each "
        "row's maximum before exp",
        "overflow",
        (softmax_without_shift,),
    ),
)

AFFINE_BACKWARD: tuple[Mistake, ...] = (
    Mistake(
        "transposed matmul gradient",
        "a matmul gradient has a factor transposed the wrong way: dx = dout @ w.T and "
        "dw = x.T @ dout (match the shapes); a square w hides the error",
        "matmul_shapes",
        (affine_dx_without_transpose, affine_dw_transposed),
    ),
    Mistake(
        "unscaled matmul gradient",
        "the local gradient is not multiplied by the upstream gradient dout, as if dout were "
        "all ones",
        "upstream",
        (affine_without_upstream,),
    ),
    Mistake(
        "extra 1/N in a layer gradient",
        "the gradients are divided by the batch size N; a layer sums over the batch, and only "
        "the loss takes the mean",
        "affine_layer",
        (affine_batch_mean,),
    ),
    Mistake(
        "wrong-axis sum",
        "db is summed over the outputs (axis=1) instead of the samples (axis=0): an (N,) "
        "vector, silently wrong when N == M",
        "broadcast_sum",
        (affine_db_wrong_axis,),
    ),
)

RELU_BACKWARD: tuple[Mistake, ...] = (
    Mistake(
        "ReLU mask taken from the wrong array",
        "the gradient is dout where the forward's input x > 0 and 0 elsewhere; the mask was "
        "taken from another array (dout, or the output max(0, x) used as a factor)",
        "elementwise",
        (relu_mask_from_dout, relu_times_output),
    ),
    Mistake(
        "upstream gradient left out",
        "the mask [x > 0] is not multiplied by the upstream gradient dout",
        "upstream",
        (relu_without_upstream,),
    ),
)

_VARIANCE_MIX_UP = (
    "the layer divides the variance by the number of values averaged (biased); dividing by one "
    "less (`np.var(..., ddof=1)`, `torch.var`'s default) in the forward or the backward pass "
    "gives another function"
)

BATCHNORM_BACKWARD: tuple[Mistake, ...] = (
    Mistake(
        "batch norm without the xhat * mean(dout * xhat) term",
        "dx leaves out the path through the variance: the right closed form is "
        "gamma * inv_std * (dout - mean(dout) - xhat * mean(dout * xhat)), means over the batch",
        "variance_path",
        (batchnorm_without_variance_path,),
    ),
    Mistake(
        "biased/unbiased variance mix-up",
        _VARIANCE_MIX_UP,
        "norm_symbols",
        (batchnorm_unbiased_variance, batchnorm_unbiased_in_backward),
    ),
    Mistake(
        "wrong-axis sum",
        "dgamma and dbeta are summed over the features (axis=1) instead of the samples "
        "(axis=0): (N,) vectors, silently wrong when N == D",
        "norm_idea",
        (batchnorm_sums_wrong_axis,),
    ),
    Mistake(
        "statistics over the wrong axis",
        "the mean and variance are taken over each sample's features (axis=1, layer norm) "
        "instead of over the batch (axis=0)",
        "norm_idea",
        (batchnorm_over_features,),
    ),
)

LAYERNORM_BACKWARD: tuple[Mistake, ...] = (
    Mistake(
        "layer norm without the xhat * mean(g * xhat) term",
        "dx leaves out the path through each row's variance: with g = dout * gamma the right "
        "closed form is inv_std * (g - mean(g) - xhat * mean(g * xhat)), means over the row",
        "variance_path",
        (layernorm_without_variance_path,),
    ),
    Mistake(
        "biased/unbiased variance mix-up",
        _VARIANCE_MIX_UP,
        "norm_symbols",
        (layernorm_unbiased_variance, layernorm_unbiased_in_backward),
    ),
    Mistake(
        "wrong-axis sum",
        "dgamma and dbeta are summed over the features (axis=1) instead of the samples "
        "(axis=0): (N,) vectors, silently wrong when N == D",
        "norm_idea",
        (layernorm_sums_wrong_axis,),
    ),
    Mistake(
        "statistics over the wrong axis",
        "the mean and variance are taken over the batch (axis=0, batch norm) instead of over "
        "each sample's features (axis=1)",
        "norm_idea",
        (layernorm_over_samples,),
    ),
)
