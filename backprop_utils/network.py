"""Fully connected networks built from the module's layers, and a small training loop.

A network is a stack of hidden blocks followed by a linear read-out and the softmax loss::

    [affine -> (batch norm) -> relu] x len(hidden_dims) -> affine -> softmax loss

:class:`FullyConnectedNet` has any number of hidden blocks; :class:`TwoLayerNet` is the case
of one hidden block. Every forward and backward step is a function of
:mod:`backprop_utils.layers`, :mod:`backprop_utils.batchnorm` or :mod:`backprop_utils.softmax`;
this module only chains them and adds the L2 penalty ``0.5 * reg * sum(W ** 2)`` over the weight
matrices. The parameters live in one dict, ``net.params``: ``W1, b1, ..., WL, bL`` and, with batch
norm, ``gamma1, beta1, ...`` for the hidden blocks. With batch norm the hidden affine layers
have no bias: batch norm subtracts the batch mean, so such a bias has a gradient of exactly zero
and ``beta`` plays its part.

:func:`train` runs mini-batch SGD with momentum and keeps a history of the loss and accuracy;
:func:`probe_gradient_direction` measures the loss and the gradient along the negative gradient
(the measurements of Santurkar et al., 2018).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from numbers import Integral, Real
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from backprop_utils._validation import OverflowValueError, refuse_masked
from backprop_utils.batchnorm import BatchNorm
from backprop_utils.layers import affine_backward, affine_forward, relu_backward, relu_forward
from backprop_utils.softmax import softmax_loss

# train's progress bar appears only once a run has lasted this many seconds: short runs print
# nothing.
_PROGRESS_DELAY = 2.0

__all__ = [
    "FullyConnectedNet",
    "TwoLayerNet",
    "plot_network_graph",
    "probe_gradient_direction",
    "train",
]


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {low}, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    return int(value)


def _check_real(name: str, value: object, low: float, high: float, closed_high: bool) -> float:
    """Check that ``value`` is a real number in [low, high] (or [low, high) if not closed)."""
    interval = f"[{low}, {high}{']' if closed_high else ')'}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number in {interval}, got {type(value).__name__}")
    value = float(value)
    above = value > high if closed_high else value >= high
    if not math.isfinite(value) or value < low or above:
        raise ValueError(f"{name} must be a real number in {interval}, got {value}")
    return value


def _check_data(
    X: object,
    y: object,
    input_dim: int,
    num_classes: int,
    dtype: type,
    names: tuple[str, str] = ("X", "y"),
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate a batch: X of shape (N, input_dim), finite; y of shape (N,) in [0, num_classes).

    ``names`` are the caller's names of the two arguments (``("X_val", "y_val")``, ...), used
    in every message. Returns X in ``dtype`` (no copy if it already is) and y as an int64 array
    (or None).
    """
    x_name, y_name = names
    refuse_masked(x_name, X)
    try:
        X = np.asarray(X)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{x_name} must be a rectangular array of shape (N, {input_dim})") from err
    if X.dtype == np.bool_ or X.dtype.kind not in "fiu":
        raise TypeError(f"{x_name} must be a real numeric array, got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[1] != input_dim:
        raise ValueError(
            f"{x_name} must have shape (N, {input_dim}): one row of {input_dim} features per "
            f"sample, got shape {X.shape}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{x_name} holds an empty batch: N must be at least 1")
    if not np.isfinite(X).all():
        raise ValueError(f"{x_name} must be finite: found NaN or infinity")
    with np.errstate(over="ignore"):  # tested on the next line
        X = X.astype(dtype, copy=False)
    if dtype == np.float32 and not np.isfinite(X).all():
        raise ValueError(
            f"{x_name} holds values beyond the range of float32 (about 3.4e+38), the dtype of "
            "the network; rescale it or use a float64 network"
        )
    if y is None:
        return X, None
    refuse_masked(y_name, y)
    try:
        y = np.asarray(y)
    except ValueError as err:
        raise ValueError(f"{y_name} must be a 1-D integer array of shape ({X.shape[0]},)") from err
    if y.dtype == np.bool_ or y.dtype.kind not in "iu":
        raise TypeError(f"{y_name} must be an integer array of class labels, got dtype {y.dtype}")
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"{y_name} must have shape ({X.shape[0]},), one label per row of {x_name}, "
            f"got {y.shape}"
        )
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"{y_name} must hold class labels in [0, {num_classes}), got values in "
            f"[{y.min()}, {y.max()}]"
        )
    return X, y.astype(np.int64, copy=False)


@contextmanager
def _diverges(where: str, error_type: type[Exception] = OverflowValueError) -> Iterator[None]:
    """Report an overflow inside the network as FloatingPointError: training diverged.

    A layer's own error names its own arguments (batch norm's ``x``, ``dout``): inside the
    network those are activations, not anything the caller passed.
    """
    try:
        yield
    except error_type as error:
        raise FloatingPointError(f"{where} overflowed: the network diverged ({error})") from error


class FullyConnectedNet:
    """A fully connected ReLU network with optional batch norm, a softmax loss and L2 penalty.

    Architecture: ``[affine -> (batch norm) -> relu] x H -> affine -> softmax``, with
    ``H = len(hidden_dims)`` hidden blocks (``H = 0`` is a linear softmax classifier).

    Parameters
    ----------
    input_dim : int, >= 1
        Features per sample, D.
    hidden_dims : sequence of int, each >= 1
        Width of each hidden block.
    num_classes : int, >= 2
        Classes, C.
    batchnorm : bool, default False
        Put a :class:`~backprop_utils.batchnorm.BatchNorm` between each hidden affine layer and
        its ReLU (and drop that affine layer's bias).
    reg : float, >= 0, default 0.0
        Strength of the L2 penalty ``0.5 * reg * sum(W ** 2)`` over the weight matrices.
    weight_scale : float > 0 or None, default None
        Standard deviation of the initial weights; None is He initialisation,
        ``sqrt(2 / fan_in)`` for each layer. Biases and ``beta`` start at 0, ``gamma`` at 1.
    seed : int, >= 0, default 0
        Seed of ``np.random.default_rng`` for the initial weights.
    dtype : np.float64 or np.float32, default np.float64
        Dtype of the parameters; every input is cast to it.

    Attributes
    ----------
    params : dict of str to ndarray
        ``W{l}`` (fan_in, fan_out), ``b{l}`` (fan_out,) and, with batch norm, ``gamma{l}``,
        ``beta{l}`` (width,) for the hidden blocks, l = 1, 2, ... They may be changed in place
        or replaced by float arrays of the same shapes; every call checks them again.
    bn_layers : list of BatchNorm
        One per hidden block with batch norm (it holds the running statistics), else empty.

    Raises
    ------
    TypeError
        If a size or the seed is not an integer, ``reg`` or ``weight_scale`` is not a real
        number, ``batchnorm`` is not a bool or ``dtype`` is not float32 or float64.
    ValueError
        If a size is below its minimum, ``reg`` is negative or not finite, or ``weight_scale``
        is not positive.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dims: Sequence[int],
        num_classes: int,
        *,
        batchnorm: bool = False,
        reg: float = 0.0,
        weight_scale: float | None = None,
        seed: int = 0,
        dtype: type = np.float64,
    ) -> None:
        self.input_dim = _check_int("input_dim", input_dim, 1)
        if isinstance(hidden_dims, str | bytes) or not isinstance(hidden_dims, Sequence):
            raise TypeError(f"hidden_dims must be a sequence of integers, got {hidden_dims!r}")
        self.hidden_dims = [_check_int("hidden_dims[i]", width, 1) for width in hidden_dims]
        self.num_classes = _check_int("num_classes", num_classes, 2)
        if not isinstance(batchnorm, bool | np.bool_):
            raise TypeError(f"batchnorm must be a bool, got {type(batchnorm).__name__}")
        self.batchnorm = bool(batchnorm)
        self.reg = _check_real("reg", reg, 0.0, math.inf, closed_high=False)
        if weight_scale is not None:
            weight_scale = _check_real("weight_scale", weight_scale, 0.0, math.inf, False)
            if weight_scale == 0:
                raise ValueError("weight_scale must be > 0 (or None for He initialisation)")
        _check_int("seed", seed, 0)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
        self.dtype = dtype

        rng = np.random.default_rng(seed)
        widths = [self.input_dim, *self.hidden_dims, self.num_classes]
        self.params: dict[str, np.ndarray] = {}
        self.bn_layers: list[BatchNorm] = []
        for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True), 1):
            scale = math.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale
            weights = scale * rng.standard_normal((fan_in, fan_out))
            self.params[f"W{layer}"] = weights.astype(dtype)
            is_hidden = layer < len(widths) - 1
            if self.batchnorm and is_hidden:
                self.params[f"gamma{layer}"] = np.ones(fan_out, dtype=dtype)
                self.params[f"beta{layer}"] = np.zeros(fan_out, dtype=dtype)
                self.bn_layers.append(BatchNorm(fan_out))
            else:
                self.params[f"b{layer}"] = np.zeros(fan_out, dtype=dtype)
        self._shapes = {name: param.shape for name, param in self.params.items()}

    @property
    def num_layers(self) -> int:
        """Number of affine layers, ``len(hidden_dims) + 1``."""
        return len(self.hidden_dims) + 1

    def _check_params(self, check_finite: bool = True) -> None:
        """Parameters and ``reg`` set by hand must still fit the network.

        Every key of ``params`` must hold a float ndarray of its shape (in place updates need
        an array: ``param += step`` on a list would extend it). A parameter that holds NaN or
        infinity raises FloatingPointError (training diverged), unless ``check_finite`` is False.
        """
        self.reg = _check_real("reg", self.reg, 0.0, math.inf, closed_high=False)
        if not isinstance(self.params, dict) or self.params.keys() != self._shapes.keys():
            raise ValueError(f"params must be a dict with the keys {list(self._shapes)}")
        for name, shape in self._shapes.items():
            param, label = self.params[name], f"params[{name!r}]"
            refuse_masked(label, param)
            if not isinstance(param, np.ndarray) or param.dtype.kind != "f":
                kind = param.dtype if isinstance(param, np.ndarray) else type(param).__name__
                raise TypeError(f"{label} must be a float numpy array of shape {shape}, got {kind}")
            if param.shape != shape:
                raise ValueError(f"{label} must have shape {shape}, got {param.shape}")
            if check_finite and not np.isfinite(param).all():
                raise FloatingPointError(f"parameter {name} holds NaN or infinity: it diverged")

    def _forward(self, X: np.ndarray, train: bool) -> tuple[np.ndarray, list]:
        """Scores and the caches of every layer; train selects batch or running statistics."""
        self._check_params()
        hidden, caches = X, []
        for layer in range(1, self.num_layers):
            weights = self.params[f"W{layer}"]
            bias = self.params.get(f"b{layer}", np.zeros(weights.shape[1], dtype=self.dtype))
            with _diverges(f"affine layer {layer}"):
                hidden, affine_cache = affine_forward(hidden, weights, bias)
            if self.batchnorm:
                bn = self.bn_layers[layer - 1]
                bn.gamma, bn.beta = self.params[f"gamma{layer}"], self.params[f"beta{layer}"]
                with _diverges(f"batch norm {layer}"):
                    hidden = bn.forward(hidden, train=train)
            hidden, relu_cache = relu_forward(hidden)
            caches.append((affine_cache, relu_cache))
        last = self.num_layers
        with _diverges("the scores"):
            scores, affine_cache = affine_forward(
                hidden, self.params[f"W{last}"], self.params[f"b{last}"]
            )
        caches.append(affine_cache)
        return scores, caches

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores (inference mode) or the loss and every parameter's gradient (training mode).

        Parameters
        ----------
        X : array_like of real numbers, shape (N, input_dim)
            A batch; N >= 2 in training mode with batch norm. Cast to the network's dtype.
        y : array_like of int, shape (N,), in [0, num_classes), or None
            Labels. None gives the scores, with batch norm's running statistics.

        Returns
        -------
        scores : ndarray, shape (N, num_classes)
            If ``y`` is None.
        (loss, grads) : tuple of float and dict of str to ndarray
            Otherwise: the mean softmax loss plus the L2 penalty, computed with the batch
            statistics (which also updates the running ones), and a gradient for each key of
            ``params``, of the same shape and dtype.

        Raises
        ------
        TypeError
            If ``X`` is not a real numeric array or ``y`` not an integer array (masked arrays
            are refused), or a parameter set by hand is not a float ndarray.
        ValueError
            If ``X`` is not (N, input_dim), empty or not finite (in float32, for a float32
            network), or ``y`` is not (N,) or holds a label outside [0, num_classes); with
            batch norm in training mode, if N < 2; if a parameter set by hand does not have
            its shape, ``params`` lost or gained a key, or ``reg`` set by hand is not >= 0.
        FloatingPointError
            If a parameter or an activation is NaN or infinite, or overflows inside batch norm
            (training diverged).
        """
        X, y = _check_data(X, y, self.input_dim, self.num_classes, self.dtype)
        if y is None:
            return self._forward(X, train=False)[0]
        if self.batchnorm and X.shape[0] < 2:
            raise ValueError("X must hold at least 2 samples in training mode with batch norm")
        scores, caches = self._forward(X, train=True)
        data_loss, dscores = softmax_loss(scores, y)
        weights = [self.params[f"W{layer}"] for layer in range(1, self.num_layers + 1)]
        # no penalty is 0, not 0 * inf: sum(w * w) overflows for weights above ~1e154
        penalty = 0.5 * self.reg * sum(float(np.sum(w * w)) for w in weights) if self.reg else 0.0

        grads: dict[str, np.ndarray] = {}
        last = self.num_layers
        # Every argument below was made by the forward pass: a ValueError here can only be a
        # gradient that overflowed (or its NaN, caught by the next layer), so it is divergence.
        with _diverges("the backward pass", ValueError):
            dhidden, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dscores, caches[-1])
            for layer in range(last - 1, 0, -1):
                affine_cache, relu_cache = caches[layer - 1]
                dhidden = relu_backward(dhidden, relu_cache)
                if self.batchnorm:
                    bn = self.bn_layers[layer - 1]
                    dhidden = bn.backward(dhidden)
                    grads[f"gamma{layer}"], grads[f"beta{layer}"] = bn.dgamma, bn.dbeta
                dhidden, grads[f"W{layer}"], dbias = affine_backward(dhidden, affine_cache)
                if not self.batchnorm:
                    grads[f"b{layer}"] = dbias
        for layer, w in enumerate(weights, 1):
            grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * w
        grads = {name: grads[name].astype(self.dtype, copy=False) for name in self.params}
        loss = float(data_loss) + penalty
        if not (math.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())):
            raise FloatingPointError("the loss or a gradient overflowed: the network diverged")
        return loss, grads

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class of each sample (inference mode: batch norm's running statistics).

        Parameters
        ----------
        X : array_like of real numbers, shape (N, input_dim)

        Returns
        -------
        labels : ndarray of int64, shape (N,), in [0, num_classes)

        Raises
        ------
        TypeError, ValueError, FloatingPointError
            As :meth:`loss`.
        """
        return np.argmax(self.loss(X), axis=1).astype(np.int64)


class TwoLayerNet(FullyConnectedNet):
    """``affine -> (batch norm) -> relu -> affine -> softmax``: one hidden block.

    Parameters
    ----------
    input_dim : int, >= 1
    hidden_dim : int, >= 1
        Width of the hidden layer.
    num_classes : int, >= 2
    **kwargs
        ``batchnorm``, ``reg``, ``weight_scale``, ``seed``, ``dtype``, as
        :class:`FullyConnectedNet`.

    Raises
    ------
    TypeError, ValueError
        As :class:`FullyConnectedNet`.
    """

    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int, **kwargs: Any) -> None:
        _check_int("hidden_dim", hidden_dim, 1)
        super().__init__(input_dim, [hidden_dim], num_classes, **kwargs)


def _check_writeable(net: FullyConnectedNet) -> None:
    """Raise unless every parameter is a float array that can be changed in place."""
    net._check_params(check_finite=False)  # NaN is for the steps to report as divergence
    for name, param in net.params.items():
        if not param.flags.writeable:
            raise ValueError(f"params[{name!r}] is read-only: its values are changed in place")


def _accuracy(net: FullyConnectedNet, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(net.predict(X) == y))


def train(
    net: FullyConnectedNet,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    *,
    learning_rate: float = 0.05,
    momentum: float = 0.9,
    epochs: int = 10,
    batch_size: int = 64,
    lr_decay: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    callback: Callable[[FullyConnectedNet, np.ndarray, np.ndarray], Any] | None = None,
    callback_every: int = 1,
) -> dict[str, Any]:
    """Train ``net`` in place by mini-batch SGD with momentum; return the history.

    Each epoch shuffles the training set and takes ``N // batch_size`` mini-batches of
    ``batch_size`` samples (the remainder waits for a later shuffle). Each step is
    ``v = momentum * v - learning_rate * grad``, ``param += v``. After each epoch the learning
    rate is multiplied by ``lr_decay`` and the accuracies are measured in inference mode.
    If a step overflows (a parameter, an activation or the loss becomes NaN or infinite),
    training stops and ``history["diverged"]`` is True; the parameters are left as they are,
    possibly not finite. While training, BLAS runs on one thread: for matrices this small,
    several threads cost more than they save.

    Parameters
    ----------
    net : FullyConnectedNet
        Changed in place.
    X_train : array_like, shape (N, input_dim)
    y_train : array_like of int, shape (N,)
    X_val, y_val : array_like, shapes (M, input_dim) and (M,), or both None
        Validation data, for ``history["val_acc"]``.
    learning_rate : float, > 0
    momentum : float, in [0, 1)
    epochs : int, >= 1
    batch_size : int, >= 1
        Clipped to N.
    lr_decay : float, in (0, 1]
    seed : int, >= 0
        Seed of the shuffles.
    progress : bool, default True
        Show a tqdm progress bar on stderr if training lasts longer than 2 s.
    callback : callable or None
        ``callback(net, X_batch, y_batch)`` is called before every ``callback_every``-th
        step; its results are kept in ``history["callback"]``.
    callback_every : int, >= 1

    Returns
    -------
    history : dict
        ``loss`` (ndarray, one per step taken), ``train_acc`` and ``val_acc`` (ndarray, one per
        finished epoch; ``val_acc`` is empty without validation data), ``diverged`` (bool),
        ``callback`` (list).

    Raises
    ------
    TypeError
        If ``net`` is not a FullyConnectedNet, an argument has the wrong type (``progress`` not
        a bool, ...), or ``callback`` is not callable.
    ValueError
        If data are invalid for ``net`` (see :meth:`FullyConnectedNet.loss`), only one of
        ``X_val``, ``y_val`` is given, a number is outside its range, ``batch_size`` (or the
        number of training samples) is below 2 for a network with batch norm, or a parameter
        is read-only.
    """
    if not isinstance(net, FullyConnectedNet):
        raise TypeError(f"net must be a FullyConnectedNet, got {type(net).__name__}")
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be given together (or both left None)")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    dims = (net.input_dim, net.num_classes, net.dtype)
    X_train, y_train = _check_data(X_train, y_train, *dims, names=("X_train", "y_train"))
    if X_val is not None:
        X_val, y_val = _check_data(X_val, y_val, *dims, names=("X_val", "y_val"))
    learning_rate = _check_real("learning_rate", learning_rate, 0.0, math.inf, False)
    if learning_rate == 0:
        raise ValueError("learning_rate must be > 0")
    momentum = _check_real("momentum", momentum, 0.0, 1.0, closed_high=False)
    epochs = _check_int("epochs", epochs, 1)
    batch_size = min(_check_int("batch_size", batch_size, 1), X_train.shape[0])
    if net.batchnorm and batch_size < 2:  # the batch variance of one sample is 0
        if X_train.shape[0] < 2:
            raise ValueError(
                "X_train holds a single sample: a network with batch norm trains on batches of "
                "at least 2"
            )
        raise ValueError(
            "batch_size must be at least 2 for a network with batch norm (the batch variance "
            f"of a single sample is 0), got {batch_size}"
        )
    _check_writeable(net)
    lr_decay = _check_real("lr_decay", lr_decay, 0.0, 1.0, closed_high=True)
    if lr_decay == 0:
        raise ValueError("lr_decay must be in (0, 1], got 0.0")
    _check_int("seed", seed, 0)
    callback_every = _check_int("callback_every", callback_every, 1)
    if not isinstance(progress, bool | np.bool_):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__}")

    rng = np.random.default_rng(seed)
    steps_per_epoch = X_train.shape[0] // batch_size
    velocity = {name: np.zeros_like(param) for name, param in net.params.items()}
    history: dict[str, Any] = {"loss": [], "train_acc": [], "val_acc": [], "callback": []}
    history["diverged"] = False
    bar = tqdm(
        total=epochs * steps_per_epoch, disable=not progress, delay=_PROGRESS_DELAY, unit="step"
    )
    # The matrices are small: one BLAS thread is faster than several competing for the cores.
    with bar, np.errstate(over="ignore", invalid="ignore"), threadpool_limits(1, "blas"):
        for _ in range(epochs):
            order = rng.permutation(X_train.shape[0])
            for batch in range(steps_per_epoch):
                rows = order[batch * batch_size : (batch + 1) * batch_size]
                X_batch, y_batch = X_train[rows], y_train[rows]
                if callback is not None and len(history["loss"]) % callback_every == 0:
                    history["callback"].append(callback(net, X_batch, y_batch))
                try:
                    loss, grads = net.loss(X_batch, y_batch)
                except FloatingPointError:
                    history["diverged"] = True
                    break
                history["loss"].append(loss)
                for name, param in net.params.items():
                    velocity[name] = momentum * velocity[name] - learning_rate * grads[name]
                    param += velocity[name]
                bar.update()
            if history["diverged"]:
                break
            learning_rate *= lr_decay
            try:
                history["train_acc"].append(_accuracy(net, X_train, y_train))
                if X_val is not None:
                    history["val_acc"].append(_accuracy(net, X_val, y_val))
            except FloatingPointError:
                history["diverged"] = True
                break
            # refresh=False: a refresh would draw the bar before its delay is over
            bar.set_postfix(
                loss=f"{history['loss'][-1]:.3f}", train_acc=history["train_acc"][-1], refresh=False
            )
    for key in ("loss", "train_acc", "val_acc"):
        history[key] = np.asarray(history[key], dtype=np.float64)
    return history


def probe_gradient_direction(
    net: FullyConnectedNet, X: np.ndarray, y: np.ndarray, step_sizes: Sequence[float]
) -> dict[str, np.ndarray | float]:
    """Loss and gradient at points along the negative gradient, as in Santurkar et al. (2018).

    With g the gradient of the training-mode loss L at the current parameters theta, for each
    step size eta this evaluates L(theta - eta g) and g(eta), the gradient there, on the same
    batch. The network is left exactly as it was (parameters and running statistics).

    Parameters
    ----------
    net : FullyConnectedNet
    X : array_like, shape (N, input_dim)
    y : array_like of int, shape (N,)
    step_sizes : sequence of float, each > 0

    Returns
    -------
    probe : dict
        ``loss0`` (float, L(theta)); ``grad_norm`` (float, ||g||); and, one value per step
        size: ``loss`` (L(theta - eta g)), ``grad_change`` (||g(eta) - g||, the l2 norm over all
        parameters) and ``grad_cosine`` (the cosine between g(eta) and g). A loss or gradient
        that overflows is NaN.

    Raises
    ------
    TypeError
        If ``net`` is not a FullyConnectedNet or a step size is not a real number.
    ValueError
        If the data are invalid for ``net``, ``step_sizes`` is empty or holds a step <= 0, or
        a parameter is read-only.
    FloatingPointError
        If the loss at theta itself overflows.
    """
    if not isinstance(net, FullyConnectedNet):
        raise TypeError(f"net must be a FullyConnectedNet, got {type(net).__name__}")
    refuse_masked("step_sizes", step_sizes)
    if isinstance(step_sizes, str | bytes) or not isinstance(step_sizes, Sequence | np.ndarray):
        raise TypeError(f"step_sizes must be a sequence of real numbers, got {step_sizes!r}")
    steps = [_check_real("step_sizes[i]", eta, 0.0, math.inf, False) for eta in step_sizes]
    if not steps or min(steps) == 0:
        raise ValueError(f"step_sizes must be a non-empty sequence of numbers > 0, got {steps}")
    X, y = _check_data(X, y, net.input_dim, net.num_classes, net.dtype)
    _check_writeable(net)

    saved = {name: param.copy() for name, param in net.params.items()}
    saved_stats = [(bn.running_mean.copy(), bn.running_var.copy()) for bn in net.bn_layers]
    try:
        loss0, grads0 = net.loss(X, y)
        g0 = np.concatenate([grads0[name].ravel() for name in net.params]).astype(np.float64)
        result = {"loss": [], "grad_change": [], "grad_cosine": []}
        for eta in steps:
            for name, param in net.params.items():
                param[...] = saved[name] - eta * grads0[name]
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    loss, grads = net.loss(X, y)
            except FloatingPointError:
                for key in result:
                    result[key].append(np.nan)
                continue
            g = np.concatenate([grads[name].ravel() for name in net.params]).astype(np.float64)
            result["loss"].append(loss)
            result["grad_change"].append(np.linalg.norm(g - g0))
            result["grad_cosine"].append(g @ g0 / (np.linalg.norm(g) * np.linalg.norm(g0)))
    finally:
        for name, param in net.params.items():
            param[...] = saved[name]
        for bn, (mean, var) in zip(net.bn_layers, saved_stats, strict=True):
            bn.running_mean, bn.running_var = mean, var
    probe: dict[str, np.ndarray | float] = {key: np.asarray(v) for key, v in result.items()}
    probe["loss0"] = loss0
    probe["grad_norm"] = float(np.linalg.norm(g0))
    return probe


def _layer_boxes(net: FullyConnectedNet) -> list[tuple[str, str, str]]:
    """(box text, name of its output, gradients of its parameters) for each node, in order."""
    boxes = [("X", "X", "")]
    for layer in range(1, net.num_layers):
        bias = "" if net.batchnorm else f", b{layer}"
        boxes.append(
            (f"affine\nW{layer}{bias}", f"z{layer}", f"dW{layer}{bias.replace(' b', ' db')}")
        )
        if net.batchnorm:
            boxes.append((f"batch norm\nγ{layer}, β{layer}", f"u{layer}", f"dγ{layer}, dβ{layer}"))
        boxes.append(("ReLU", f"h{layer}", ""))
    last = net.num_layers
    boxes.append((f"affine\nW{last}, b{last}", "scores", f"dW{last}, db{last}"))
    boxes.append(("softmax\nloss + L2", "L", "+ reg W to each dW"))
    return boxes


def plot_network_graph(net: FullyConnectedNet, ax: Any = None) -> tuple[Any, Any]:
    """Draw the network as a chain of layer nodes with its forward and backward flow.

    Black arrows above carry the activations forward (labelled with their names); red arrows
    below carry the gradients back (``dscores``, ``dh1``, ...). Under each node with
    parameters, in red, the gradients that its backward pass returns; under the loss, the
    term that the L2 penalty adds to each weight gradient.

    Parameters
    ----------
    net : FullyConnectedNet
    ax : matplotlib Axes or None
        Where to draw; None makes a new figure.

    Returns
    -------
    fig, ax : the matplotlib Figure and Axes

    Raises
    ------
    TypeError
        If ``net`` is not a FullyConnectedNet.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if not isinstance(net, FullyConnectedNet):
        raise TypeError(f"net must be a FullyConnectedNet, got {type(net).__name__}")
    boxes = _layer_boxes(net)
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.45 * len(boxes) + 0.5, 2.6))
    fig = ax.figure
    gap, width, height, red = 1.8, 1.0, 0.75, "#c0392b"  # gap: room for the label "dscores"
    for k, (text, output, param_grads) in enumerate(boxes):
        x = k * gap
        box = FancyBboxPatch(
            (x - width / 2, -height / 2), width, height, boxstyle="round,pad=0.04",
            facecolor=plt.cm.viridis(0.35 + 0.5 * k / len(boxes)), alpha=0.35, edgecolor="k",
        )  # fmt: skip
        ax.add_patch(box)
        ax.text(x, 0, text, ha="center", va="center", fontsize=9)
        if param_grads:
            ax.text(
                x, -height / 2 - 0.22, param_grads, ha="center", va="top", color=red, fontsize=8
            )
        if k + 1 < len(boxes):
            start, end = x + width / 2 + 0.04, x + gap - width / 2 - 0.04
            for y, color, (tail, head), label in (
                (0.18, "k", (start, end), output),
                (-0.18, red, (end, start), "d" + output),
            ):
                ax.add_patch(FancyArrowPatch((tail, y), (head, y), arrowstyle="-|>",
                                             mutation_scale=10, color=color))  # fmt: skip
                va = "bottom" if y > 0 else "top"
                ax.text((start + end) / 2, 1.9 * y, label, ha="center", va=va, fontsize=8,
                        color=color)  # fmt: skip
    ax.text(len(boxes) * gap - gap / 2 - 0.05, 0, "L", fontsize=11, va="center")
    ax.set_xlim(-gap / 2, len(boxes) * gap - gap / 2 + 0.2)
    ax.set_ylim(-1.25, 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax
