"""Check your own implementation: ``check.softmax_loss(my_softmax_loss)`` and its siblings.

Each function takes a function the reader wrote, with the signature of this module's own
(``softmax_loss(scores, y) -> (loss, dscores)``, ``affine_backward(dout, cache) -> (dx, dw, db)``,
...), runs it on a battery of seeded cases and returns a :class:`CheckResult`. The battery checks,
in every case: the types, shapes and dtypes of the results (float32 in, float32 out); the values
against this module's function in float64; that the inputs are left unchanged. On one case it
also compares the gradients with centred differences for a random upstream gradient. The cases
are those where vectorized code breaks: N == C (a wrong-axis broadcast raises nothing there),
N = 1, C = 1, ties at a row's maximum, scores of ±1e4, float32 input, a non-contiguous input
(a strided view), as they apply to each function.

Where an output is wrong, the check runs the wrong variants of :mod:`backprop_utils.mistakes`
on the same input; when the reader's output agrees with a variant's, the report names that
mistake and the chapter section that explains it.

A backward checker builds the cache with this module's forward function, so that a backward
pass can be checked alone; pass your own forward as the second argument to check the pair (its
output is then checked too, and the centred differences are taken of your forward).

A wrong implementation raises nothing: its errors, exceptions included, become findings. Only a
call that cannot be checked (an argument that is not a function, or one with the wrong number
of parameters) raises a TypeError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from backprop_utils import batchnorm as _batchnorm
from backprop_utils import layernorm as _layernorm
from backprop_utils import layers as _layers
from backprop_utils import mistakes
from backprop_utils.battery import (
    Battery,
    Case,
    CheckResult,
    ReaderError,
    as_results,
    call_reader,
    require_function,
    run_battery,
)
from backprop_utils.gradcheck import numerical_gradient, numerical_gradient_array
from backprop_utils.softmax import softmax_loss as _reference_softmax_loss

__all__ = [
    "CheckResult",
    "affine_backward",
    "batchnorm_backward",
    "layernorm_backward",
    "relu_backward",
    "softmax_loss",
]

_ME = "your function"


def _full_name(function: Callable) -> str:
    """``backprop_utils.layers.affine_forward``."""
    return f"{function.__module__}.{function.__name__}"


def _label(function: str, fn_name: str, forward_name: str | None = None) -> str:
    extra = f", forward={forward_name}" if forward_name else ""
    return f"check.{function}({fn_name}{extra})"


# the softmax loss -------------------------------------------------------------------------------


def _softmax_cases() -> list[Case]:
    rng = np.random.default_rng(16)

    def batch(n_samples: int, n_classes: int) -> dict[str, np.ndarray]:
        scores = rng.normal(scale=2.0, size=(n_samples, n_classes))
        return {"scores": scores, "y": rng.integers(0, n_classes, n_samples)}

    # each row's maximum is tied; three of the targets are among the tied maxima
    ties = np.array([[2, 2, 0, -1], [1, 3, 3, 3], [0, 0, 0, 0], [-1, 5, 5, 2], [4, -2, 4, 4]])
    # exp overflows without the max shift (rows 0, 2, 3) or underflows for a whole row (1);
    # three targets lie 1e4 or more below their row's maximum: p underflows to 0 there
    extreme = np.array(
        [
            [1e4, -1e4, 0.0, 5e3, 3.0],
            [-1e4, -1e4 + 1, -9999.5, -1e4 + 2, -1e4],
            [1e4, 1e4, -1e4, 3.0, -2.0],
            [0.0, 1e4, -1e4, 1e4 - 1, 7.0],
        ]
    )
    strided = batch(10, 9)
    float32 = batch(6, 5)
    return [
        Case("a random batch, N = 5, C = 4", batch(5, 4), finite_differences=True),
        Case("N == C, 4 x 4", batch(4, 4)),
        Case("N = 1, one sample of 5 classes", batch(1, 5)),
        Case("C = 1, one class", batch(4, 1)),
        Case(
            "ties at the row maximum",
            {"scores": ties.astype(float), "y": np.array([0, 2, 1, 1, 3])},
        ),
        Case("scores of ±1e4", {"scores": extreme, "y": np.array([1, 0, 2, 0])}),
        Case("float32 input", {"scores": float32["scores"].astype(np.float32), "y": float32["y"]}),
        Case(
            "a non-contiguous input (a strided view)",
            {"scores": strided["scores"][::2, ::3], "y": strided["y"][::2] % 3},
        ),
    ]


def softmax_loss(fn: Callable) -> CheckResult:
    """Check a softmax loss ``fn(scores, y) -> (loss, dscores)``, the mean over the batch.

    Parameters
    ----------
    fn : callable
        The function to check, with the signature of
        :func:`backprop_utils.softmax.softmax_loss`: ``scores`` (N, C), ``y`` (N,) class
        indices; returns the mean cross-entropy ``loss`` and its gradient ``dscores`` (N, C).

    Returns
    -------
    result : CheckResult
        ``result.passed``, and ``result.findings`` in words; prints as a short report.

    Raises
    ------
    TypeError
        If ``fn`` is not a function of two arguments.
    """
    name = require_function(fn, "fn", ("scores", "y"))

    def call(inputs):
        result = call_reader(fn, (inputs["scores"], inputs["y"]), _ME)
        loss, dscores = as_results(result, 2, "loss, dscores", _ME)
        return {"loss": loss, "dscores": dscores}, {}

    def reference(scores, y):
        loss, dscores = _reference_softmax_loss(scores, y)
        return {"loss": loss, "dscores": dscores}

    def numeric(inputs):
        def loss_of(scores):
            result = call_reader(fn, (scores.copy(), inputs["y"].copy()), _ME)
            loss = as_results(result, 2, "loss, dscores", _ME)[0]
            try:
                return float(loss)
            except (TypeError, ValueError):
                raise ReaderError(f"{_ME} returned a loss that is not a single number") from None

        return {"dscores": numerical_gradient(loss_of, inputs["scores"].copy())}

    battery = Battery(
        call,
        reference,
        numeric,
        mistakes.SOFTMAX_LOSS,
        {"dscores": "scores"},
        "your loss",
        _full_name(_reference_softmax_loss),
    )
    return run_battery(battery, _softmax_cases(), _label("softmax_loss", name))


# layers: a forward (x, params) -> (out, cache) and a backward (dout, cache) -> gradients ---------


def _arrays_in(cache: object) -> list[tuple[str, np.ndarray]]:
    """The arrays a cache holds directly, each with its name (``cache.x``, ``cache[1]``)."""
    if isinstance(cache, np.ndarray):
        return [("cache", cache)]
    if isinstance(cache, tuple) and hasattr(cache, "_fields"):
        items = [
            (f"cache.{field}", value) for field, value in zip(cache._fields, cache, strict=True)
        ]
    elif isinstance(cache, tuple | list):
        items = [(f"cache[{index}]", value) for index, value in enumerate(cache)]
    elif isinstance(cache, dict):
        items = [(f"cache[{key!r}]", value) for key, value in cache.items()]
    else:
        return []
    return [(path, value) for path, value in items if isinstance(value, np.ndarray)]


def _layer_battery(
    fn: Callable,
    forward: Callable | None,
    module_forward: Callable,
    module_backward: Callable,
    params: tuple[str, ...],
    grads: tuple[str, ...],
    catalogue: tuple[mistakes.Mistake, ...],
) -> Battery:
    """The battery of a backward pass ``fn``, its cache built by ``forward`` or the module's."""
    if forward is None:
        who, forward = _full_name(module_forward), module_forward
        me = f"{_ME}, given the cache of {who} (pass your forward as a second argument"
        me += " to use yours),"
    else:
        who, me = "your forward function", _ME
    names = ", ".join(grads)

    def run_forward(inputs: dict[str, np.ndarray]) -> tuple[Any, Any]:
        result = call_reader(forward, tuple(inputs[name] for name in params), who)
        return as_results(result, 2, "out, cache", who)

    def call(inputs):
        out, cache = run_forward(inputs)
        watched = {
            path: (array, array.copy())
            for path, array in _arrays_in(cache)
            if not any(np.may_share_memory(array, value) for value in inputs.values())
        }
        result = call_reader(fn, (inputs["dout"], cache), me)
        results = (result,) if len(grads) == 1 else as_results(result, len(grads), names, me)
        outputs = dict(zip(grads, results, strict=True))
        if forward is not module_forward:
            outputs["out"] = out
        return outputs, watched

    def reference(**inputs):
        out, cache = module_forward(*(inputs[name] for name in params))
        results = module_backward(inputs["dout"], cache)
        results = (results,) if len(grads) == 1 else results
        return {"out": out, **dict(zip(grads, results, strict=True))}

    def numeric(inputs):
        gradients = {}
        for param, grad in zip(params, grads, strict=True):

            def out_of(value, param=param):
                args = {name: inputs[name].copy() for name in params} | {param: value.copy()}
                return np.asarray(run_forward(args)[0])

            try:
                gradients[grad] = numerical_gradient_array(
                    out_of, inputs[param].copy(), inputs["dout"]
                )
            except (TypeError, ValueError) as err:
                raise ReaderError(f"the output of {who} cannot be differentiated: {err}") from None
        return gradients

    shape_of = dict(zip(grads, params, strict=True))
    differences_of = f"{who} with a random dout"
    return Battery(
        call, reference, numeric, catalogue, shape_of, differences_of, _full_name(module_backward)
    )


def _forward_name(forward: Callable | None, parameters: tuple[str, ...]) -> str | None:
    if forward is None:
        return None
    return require_function(forward, "forward", parameters)


def _with_dout(rng: np.random.Generator, inputs: dict, out_shape: tuple[int, ...]) -> dict:
    """``inputs`` and a random upstream gradient ``dout`` in the dtype of ``x`` (never all ones)."""
    dtype = inputs["x"].dtype
    return inputs | {"dout": rng.normal(size=out_shape).astype(dtype)}


def _strided(array: np.ndarray) -> np.ndarray:
    """A non-contiguous view with the values of ``array``: every other column of a wider array."""
    wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
    wide[..., ::2] = array
    return wide[..., ::2]


def _non_contiguous(case: dict) -> dict:
    return {name: _strided(value) if value.ndim >= 2 else value for name, value in case.items()}


def _float32(case: dict) -> dict:
    return {name: value.astype(np.float32) for name, value in case.items()}


# the affine layer -------------------------------------------------------------------------------


def _affine_cases() -> list[Case]:
    rng = np.random.default_rng(161)

    def layer(x_shape: tuple[int, ...], n_outputs: int) -> dict[str, np.ndarray]:
        n_inputs = int(np.prod(x_shape[1:]))
        inputs = {
            "x": rng.normal(size=x_shape),
            "w": rng.normal(size=(n_inputs, n_outputs)),
            "b": rng.normal(size=n_outputs),
        }
        return _with_dout(rng, inputs, (x_shape[0], n_outputs))

    return [
        Case("a random batch, x (4, 2, 3), w (6, 5)", layer((4, 2, 3), 5), finite_differences=True),
        Case("N == D == M, a square w (3 x 3)", layer((3, 3), 3)),
        Case("N = 1, one sample", layer((1, 4), 3)),
        Case("M = 1, one output", layer((5, 3), 1)),
        Case("float32 input", _float32(layer((4, 5), 3))),
        Case("a non-contiguous input (strided views)", _non_contiguous(layer((4, 5), 3))),
    ]


def affine_backward(fn: Callable, forward: Callable | None = None) -> CheckResult:
    """Check an affine backward pass ``fn(dout, cache) -> (dx, dw, db)``.

    Parameters
    ----------
    fn : callable
        The function to check, with the signature of :func:`backprop_utils.layers.affine_backward`.
    forward : callable, optional
        Your ``forward(x, w, b) -> (out, cache)``; by default
        :func:`backprop_utils.layers.affine_forward` builds the cache.

    Returns
    -------
    result : CheckResult

    Raises
    ------
    TypeError
        If ``fn`` is not a function of two arguments or ``forward`` not one of three.
    """
    name = require_function(fn, "fn", ("dout", "cache"))
    forward_name = _forward_name(forward, ("x", "w", "b"))
    battery = _layer_battery(
        fn,
        forward,
        _layers.affine_forward,
        _layers.affine_backward,
        ("x", "w", "b"),
        ("dx", "dw", "db"),
        mistakes.AFFINE_BACKWARD,
    )
    return run_battery(battery, _affine_cases(), _label("affine_backward", name, forward_name))


# the ReLU ---------------------------------------------------------------------------------------


def _relu_cases() -> list[Case]:
    rng = np.random.default_rng(162)

    def batch(n_samples: int, n_features: int) -> dict[str, np.ndarray]:
        # |x| >= 0.1: no input within a finite-difference step of the kink at 0
        size = (n_samples, n_features)
        x = rng.choice([-1.0, 1.0], size=size) * rng.uniform(0.1, 2.0, size=size)
        return _with_dout(rng, {"x": x}, size)

    return [
        Case("a random batch, 4 x 5", batch(4, 5), finite_differences=True),
        Case("N == D, 4 x 4", batch(4, 4)),
        Case("N = 1, one sample", batch(1, 6)),
        Case("D = 1, one feature", batch(5, 1)),
        Case("float32 input", _float32(batch(4, 5))),
        Case("a non-contiguous input (strided views)", _non_contiguous(batch(4, 5))),
    ]


def relu_backward(fn: Callable, forward: Callable | None = None) -> CheckResult:
    """Check a ReLU backward pass ``fn(dout, cache) -> dx``.

    Parameters
    ----------
    fn : callable
        The function to check, with the signature of :func:`backprop_utils.layers.relu_backward`.
    forward : callable, optional
        Your ``forward(x) -> (out, cache)``; by default
        :func:`backprop_utils.layers.relu_forward` builds the cache (it is ``x``).

    Returns
    -------
    result : CheckResult

    Raises
    ------
    TypeError
        If ``fn`` is not a function of two arguments or ``forward`` not one of one.
    """
    name = require_function(fn, "fn", ("dout", "cache"))
    forward_name = _forward_name(forward, ("x",))
    battery = _layer_battery(
        fn,
        forward,
        _layers.relu_forward,
        _layers.relu_backward,
        ("x",),
        ("dx",),
        mistakes.RELU_BACKWARD,
    )
    return run_battery(battery, _relu_cases(), _label("relu_backward", name, forward_name))


# batch and layer normalization ------------------------------------------------------------------


def _normalization_cases(seed: int, layer_norm: bool) -> list[Case]:
    rng = np.random.default_rng(seed)

    def batch(n_samples: int, n_features: int) -> dict[str, np.ndarray]:
        inputs = {
            "x": rng.normal(1.0, 2.0, size=(n_samples, n_features)),
            "gamma": rng.normal(1.0, 0.5, size=n_features),
            "beta": rng.normal(size=n_features),
        }
        return _with_dout(rng, inputs, (n_samples, n_features))

    constant = batch(5, 4)
    if layer_norm:
        constant["x"][2] = 1.5  # one sample with equal features: its variance is 0
        small = ("N = 1, one sample", batch(1, 5))
        one = ("D = 1, one feature", batch(4, 1))
        kind = "a constant sample (variance 0)"
    else:
        constant["x"][:, 2] = 1.5  # one feature equal over the batch: its variance is 0
        small = ("N = 2, the smallest batch", batch(2, 3))
        one = ("D = 1, one feature", batch(5, 1))
        kind = "a constant feature (variance 0)"
    return [
        Case("a random batch, 6 x 4", batch(6, 4), finite_differences=True),
        Case("N == D, 4 x 4", batch(4, 4)),
        Case(*small),
        Case(*one),
        Case(kind, constant),
        Case("float32 input", _float32(batch(6, 4))),
        Case("a non-contiguous input (strided views)", _non_contiguous(batch(6, 4))),
    ]


def _check_normalization(fn: Callable, forward: Callable | None, layer_norm: bool) -> CheckResult:
    """The battery of a batch-norm or layer-norm backward pass (they differ in the module's
    reference functions, the catalogue, the seed and the axis of the cases)."""
    name = require_function(fn, "fn", ("dout", "cache"))
    forward_name = _forward_name(forward, ("x", "gamma", "beta"))
    if layer_norm:
        function, reference = "layernorm_backward", _layernorm
        module_forward, module_backward = reference.layernorm_forward, reference.layernorm_backward
        catalogue, seed = mistakes.LAYERNORM_BACKWARD, 164
    else:
        function, reference = "batchnorm_backward", _batchnorm
        module_forward = reference.batchnorm_forward
        module_backward = reference.batchnorm_backward_alt
        catalogue, seed = mistakes.BATCHNORM_BACKWARD, 163
    battery = _layer_battery(
        fn,
        forward,
        module_forward,
        module_backward,
        ("x", "gamma", "beta"),
        ("dx", "dgamma", "dbeta"),
        catalogue,
    )
    cases = _normalization_cases(seed, layer_norm=layer_norm)
    return run_battery(battery, cases, _label(function, name, forward_name))


def batchnorm_backward(fn: Callable, forward: Callable | None = None) -> CheckResult:
    """Check a batch-norm backward pass ``fn(dout, cache) -> (dx, dgamma, dbeta)``.

    Parameters
    ----------
    fn : callable
        The function to check, with the signature of
        :func:`backprop_utils.batchnorm.batchnorm_backward`.
    forward : callable, optional
        Your ``forward(x, gamma, beta) -> (out, cache)`` (training mode, eps = 1e-5); by
        default :func:`backprop_utils.batchnorm.batchnorm_forward` builds the cache.

    Returns
    -------
    result : CheckResult

    Raises
    ------
    TypeError
        If ``fn`` is not a function of two arguments or ``forward`` not one of three.
    """
    return _check_normalization(fn, forward, layer_norm=False)


def layernorm_backward(fn: Callable, forward: Callable | None = None) -> CheckResult:
    """Check a layer-norm backward pass ``fn(dout, cache) -> (dx, dgamma, dbeta)``.

    Parameters
    ----------
    fn : callable
        The function to check, with the signature of
        :func:`backprop_utils.layernorm.layernorm_backward`.
    forward : callable, optional
        Your ``forward(x, gamma, beta) -> (out, cache)`` (eps = 1e-5); by default
        :func:`backprop_utils.layernorm.layernorm_forward` builds the cache.

    Returns
    -------
    result : CheckResult

    Raises
    ------
    TypeError
        If ``fn`` is not a function of two arguments or ``forward`` not one of three.
    """
    return _check_normalization(fn, forward, layer_norm=True)
