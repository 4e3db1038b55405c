"""Experiments of the chapters that are too long for a notebook cell.

Each function trains small networks of :mod:`backprop_utils.network` on the digits of
:mod:`backprop_utils.data` with a given seed and returns plain numbers, so that a chapter can run
it over several seeds and report the median and the range.

Functions are only appended to this module (several chapters add to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np

from backprop_utils.batchnorm import batchnorm_forward
from backprop_utils.data import load_digits_splits
from backprop_utils.layers import affine_forward, relu_forward
from backprop_utils.network import FullyConnectedNet, train

__all__ = [
    "batch_statistics_predict",
    "inference_modes",
    "running_statistics_early",
]


def _check_batch_norm_net(net: object) -> FullyConnectedNet:
    if not isinstance(net, FullyConnectedNet):
        raise TypeError(f"net must be a FullyConnectedNet, got {type(net).__name__}")
    if not net.batchnorm:
        raise ValueError("net must have batch norm (batchnorm=True)")
    return net


def _check_count(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {low}, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    return int(value)


def batch_statistics_predict(net: FullyConnectedNet, X: np.ndarray, batch_size: int) -> np.ndarray:
    """Predicted classes with batch norm in *training* mode: the "forgot eval mode" bug.

    The rows of ``X`` are cut, in order, into consecutive batches of ``batch_size`` (a last
    batch of a single row joins the one before it, since one sample has no batch variance), and
    each batch is normalized with its own mean and variance, as in training. The running
    statistics are neither used nor changed.

    Parameters
    ----------
    net : FullyConnectedNet with batch norm
    X : ndarray, shape (N, net.input_dim), N >= 2
    batch_size : int, >= 2

    Returns
    -------
    labels : ndarray of int64, shape (N,)

    Raises
    ------
    TypeError
        If ``net`` is not a FullyConnectedNet or ``batch_size`` not an integer.
    ValueError
        If ``net`` has no batch norm, ``batch_size`` < 2, or ``X`` is not (N, input_dim)
        with N >= 2.
    """
    net = _check_batch_norm_net(net)
    batch_size = _check_count("batch_size", batch_size, 2)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != net.input_dim or X.shape[0] < 2:
        raise ValueError(f"X must have shape (N, {net.input_dim}) with N >= 2, got {X.shape}")
    starts = list(range(0, X.shape[0], batch_size))
    if X.shape[0] - starts[-1] == 1:
        starts.pop()
    ends = [*starts[1:], X.shape[0]]
    labels = []
    for start, end in zip(starts, ends, strict=True):
        hidden = X[start:end]
        for layer in range(1, net.num_layers):
            weights = net.params[f"W{layer}"]
            hidden, _ = affine_forward(hidden, weights, np.zeros(weights.shape[1]))
            gamma, beta = net.params[f"gamma{layer}"], net.params[f"beta{layer}"]
            hidden, _ = batchnorm_forward(hidden, gamma, beta)
            hidden, _ = relu_forward(hidden)
        last = net.num_layers
        scores, _ = affine_forward(hidden, net.params[f"W{last}"], net.params[f"b{last}"])
        labels.append(np.argmax(scores, axis=1))
    return np.concatenate(labels).astype(np.int64)


def _trained_digits_net(
    seed: int, epochs: int, batch_size: int = 32
) -> tuple[FullyConnectedNet, dict[str, np.ndarray]]:
    """A network [64, 64] with batch norm, trained on the digits split of ``seed``."""
    data = load_digits_splits(seed=seed)
    net = FullyConnectedNet(64, [64, 64], 10, batchnorm=True, seed=seed)
    train(
        net,
        data["X_train"],
        data["y_train"],
        learning_rate=0.05,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        progress=False,
    )
    return net, data


def inference_modes(
    seed: int, batch_sizes: Sequence[int] = (2, 4, 8, 32), epochs: int = 5
) -> dict[str, float]:
    """Test accuracy of one trained batch-norm network, predicting in different ways.

    A network ``64 -> [64, 64] -> 10`` with batch norm is trained on the digits (split, weights
    and shuffles seeded by ``seed``) with mini-batches of 32, then tested: with the running
    statistics (inference mode, key ``"running"``); with the statistics of each test batch, the
    test set in a seeded random order cut into batches of each size in ``batch_sizes`` (key
    ``"batch 2"``, ...); and with batch statistics on batches of 32 of the test set sorted by
    class (key ``"sorted 32"``).

    Parameters
    ----------
    seed : int, >= 0
    batch_sizes : sequence of int, each >= 2
    epochs : int, >= 1

    Returns
    -------
    accuracies : dict of str to float

    Raises
    ------
    TypeError, ValueError
        If ``seed``, ``epochs`` or a batch size is not an integer in its range.
    """
    seed = _check_count("seed", seed, 0)
    epochs = _check_count("epochs", epochs, 1)
    sizes = [_check_count("batch_sizes[i]", size, 2) for size in batch_sizes]
    net, data = _trained_digits_net(seed, epochs)
    X_test, y_test = data["X_test"], data["y_test"]
    accuracies = {"running": float(np.mean(net.predict(X_test) == y_test))}
    shuffled = np.random.default_rng(seed).permutation(len(y_test))
    for size in sizes:
        labels = batch_statistics_predict(net, X_test[shuffled], size)
        accuracies[f"batch {size}"] = float(np.mean(labels == y_test[shuffled]))
    by_class = np.argsort(y_test, kind="stable")
    labels = batch_statistics_predict(net, X_test[by_class], 32)
    accuracies["sorted 32"] = float(np.mean(labels == y_test[by_class]))
    return accuracies


def running_statistics_early(
    seed: int, momentum: float, epochs: int = 3, every: int = 3
) -> dict[str, np.ndarray]:
    """How far the running statistics lag early in training, for one momentum.

    The network and data of :func:`inference_modes` (seed ``seed``), every batch-norm layer
    with momentum ``momentum``, trained for ``epochs`` epochs in steps of 32 samples. Before every
    ``every``-th step the first batch-norm layer's running variance is compared with the variance
    of that layer's input over the whole training set (the statistic that the layer would use
    if it knew it), and the test accuracy in inference mode is measured. The momentum does not
    change training itself: training uses batch statistics only.

    Parameters
    ----------
    seed : int, >= 0
    momentum : float, in [0, 1]
    epochs : int, >= 1
    every : int, >= 1

    Returns
    -------
    history : dict
        ``step`` (the number of steps taken), ``var_ratio`` (the median over units of
        running variance / training-set variance) and
        ``accuracy`` (test accuracy with the running statistics), one entry per measurement;
        ``params`` (dict of the final parameters).

    Raises
    ------
    TypeError, ValueError
        If an argument is not a number in its range.
    """
    seed = _check_count("seed", seed, 0)
    epochs = _check_count("epochs", epochs, 1)
    every = _check_count("every", every, 1)
    if isinstance(momentum, bool) or not isinstance(momentum, int | float):
        raise TypeError(f"momentum must be a number in [0, 1], got {type(momentum).__name__}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    data = load_digits_splits(seed=seed)
    net = FullyConnectedNet(64, [64, 64], 10, batchnorm=True, seed=seed)
    for layer in net.bn_layers:
        layer.momentum = float(momentum)

    def measure(net: FullyConnectedNet, X_batch: np.ndarray, y_batch: np.ndarray) -> tuple:
        inputs = data["X_train"] @ net.params["W1"]
        ratio = np.median(net.bn_layers[0].running_var / inputs.var(axis=0))
        return float(ratio), float(np.mean(net.predict(data["X_test"]) == data["y_test"]))

    history = {"step": [], "var_ratio": [], "accuracy": []}
    result = train(
        net,
        data["X_train"],
        data["y_train"],
        learning_rate=0.05,
        epochs=epochs,
        batch_size=32,
        seed=seed,
        progress=False,
        callback=measure,
        callback_every=every,
    )
    for index, (ratio, accuracy) in enumerate(result["callback"]):
        history["step"].append(index * every)
        history["var_ratio"].append(ratio)
        history["accuracy"].append(accuracy)
    out = {key: np.asarray(values) for key, values in history.items()}
    out["params"] = {name: value.copy() for name, value in net.params.items()}
    return out


def active_units(net: FullyConnectedNet, X: np.ndarray) -> np.ndarray:
    """Fraction of each hidden layer's ReLU units that are active on at least one row of ``X``.

    A unit is active on a sample when its input to the ReLU is positive; a unit that is active on
    no row of ``X`` passes no signal forward and no gradient back for any of them (a "dead" unit).
    Batch norm, if the network has it, normalizes with the statistics of all of ``X`` (training
    mode, one batch). Nothing in ``net`` changes.

    Parameters
    ----------
    net : FullyConnectedNet
    X : ndarray, shape (N, net.input_dim), N >= 2

    Returns
    -------
    fractions : ndarray of float64, shape (len(net.hidden_dims),)
        One fraction in [0, 1] per hidden layer, first layer first.

    Raises
    ------
    TypeError
        If ``net`` is not a FullyConnectedNet.
    ValueError
        If ``X`` is not (N, input_dim) with N >= 2, or holds NaN or infinity.
    """
    if not isinstance(net, FullyConnectedNet):
        raise TypeError(f"net must be a FullyConnectedNet, got {type(net).__name__}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != net.input_dim or X.shape[0] < 2:
        raise ValueError(f"X must have shape (N, {net.input_dim}) with N >= 2, got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X must be finite: found NaN or infinity")
    hidden, fractions = X, []
    for layer in range(1, net.num_layers):
        weights = net.params[f"W{layer}"]
        bias = net.params.get(f"b{layer}", np.zeros(weights.shape[1]))
        pre_relu, _ = affine_forward(hidden, weights, bias)
        if net.batchnorm:
            gamma, beta = net.params[f"gamma{layer}"], net.params[f"beta{layer}"]
            pre_relu, _ = batchnorm_forward(pre_relu, gamma, beta)
        fractions.append(np.mean((pre_relu > 0).any(axis=0)))
        hidden, _ = relu_forward(pre_relu)
    return np.asarray(fractions, dtype=np.float64)


__all__ += ["active_units"]
