"""Claims of chapter 13 (a two-layer network, end to end), checked beyond the notebook's seeds."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
import pytest

from backprop_utils.experiments import active_units
from backprop_utils.gradcheck import numerical_gradient, rel_error
from backprop_utils.layers import affine_backward
from backprop_utils.network import FullyConnectedNet, TwoLayerNet, train


def _deep_net(batchnorm: bool, seed: int) -> tuple[FullyConnectedNet, np.ndarray, np.ndarray]:
    """The chapter's five-layer check network at width 5, biases and beta near 0.5."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((10, 2)), rng.integers(0, 3, size=10)
    net = FullyConnectedNet(2, [5] * 4, 3, batchnorm=batchnorm, reg=0.1, seed=seed)
    for name, param in net.params.items():
        if not name.startswith("W"):
            shift = 0.5 if name.startswith("b") else 0.0
            param += shift + 0.1 * rng.standard_normal(param.shape)
    return net, X, y


def _linear_loss(upstream: np.ndarray):
    """A stand-in for softmax_loss: L = sum(upstream * scores), so dscores = upstream."""

    def loss(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        return float(np.sum(upstream * scores)), upstream

    return loss


def _max_rel_error(net: FullyConnectedNet, X: np.ndarray, y: np.ndarray) -> float:
    _, grads = net.loss(X, y)
    return max(
        rel_error(numerical_gradient(lambda _: net.loss(X, y)[0], param), grads[name])
        for name, param in net.params.items()
    )


def _readout_row_sum_mistake(dout: np.ndarray, cache: tuple):
    """affine_backward with a wrong-axis term in dx, but only for the read-out (3 classes)."""
    dx, dw, db = affine_backward(dout, cache)
    if dout.shape[1] == 3:
        dx = dx + dout.sum(axis=1, keepdims=True)
    return dx, dw, db


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("seed", [3, 11])
def test_five_layer_gradients_match_with_a_random_upstream_gradient(batchnorm, seed):
    net, X, y = _deep_net(batchnorm, seed)
    upstream = np.random.default_rng(seed + 100).standard_normal((10, 3))
    with patch("backprop_utils.network.softmax_loss", _linear_loss(upstream)):
        assert _max_rel_error(net, X, y) < 1e-6


def test_a_row_sum_mistake_passes_through_softmax_but_not_a_random_upstream_gradient():
    net, X, y = _deep_net(False, 3)
    assert np.all(active_units(net, X) == 1)
    with patch("backprop_utils.network.affine_backward", _readout_row_sum_mistake):
        # the softmax gradient's rows sum to zero: the mistake adds nothing
        assert _max_rel_error(net, X, y) < 1e-6
        upstream = np.random.default_rng(0).standard_normal((10, 3))
        with patch("backprop_utils.network.softmax_loss", _linear_loss(upstream)):
            assert _max_rel_error(net, X, y) > 1e-2


def test_the_linear_stand_in_sets_the_upstream_gradient_of_the_scores():
    net, X, y = _deep_net(True, 3)
    upstream = np.random.default_rng(1).standard_normal((10, 3))
    with patch("backprop_utils.network.softmax_loss", _linear_loss(upstream)):
        loss, grads = net.loss(X, y)
    _, caches = net._forward(X, train=True)
    hidden = caches[-1][0]  # the read-out's input
    np.testing.assert_allclose(grads["W5"], hidden.T @ upstream + 0.1 * net.params["W5"])
    np.testing.assert_allclose(grads["b5"], upstream.sum(axis=0))
    # outside the with block the softmax loss is back
    assert net.loss(X, y)[0] != pytest.approx(loss)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_weights_of_an_always_zero_feature_only_decay(batchnorm):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 6))
    X[:, 2] = 0.0  # a pixel blank in every image
    y = rng.integers(0, 3, size=96)
    lr, reg = 0.1, 1e-2
    net = TwoLayerNet(6, 8, 3, batchnorm=batchnorm, reg=reg, seed=0)
    initial = net.params["W1"].copy()
    history = train(net, X, y, learning_rate=lr, epochs=3, batch_size=32, progress=False)
    factor, velocity = 1.0, 0.0
    for _ in range(history["loss"].size):
        velocity = 0.9 * velocity - lr * reg * factor
        factor += velocity
    np.testing.assert_allclose(net.params["W1"][2], factor * initial[2], rtol=1e-10)
    assert not np.allclose(net.params["W1"][0], factor * initial[0], rtol=1e-3)
