"""Checks of chapter 12 (what batch norm does to training): which weights are scale invariant."""

import numpy as np
import pytest

from backprop_utils.data import make_spiral
from backprop_utils.network import FullyConnectedNet

X, Y = make_spiral(n_per_class=20, n_classes=3, noise=0.2, seed=0)


def _losses(layer, batchnorm, scale=10.0):
    net = FullyConnectedNet(2, [16, 16, 16], 3, batchnorm=batchnorm, seed=1)
    loss, grads = net.loss(X, Y)
    net.params[f"W{layer}"] *= scale
    loss_scaled, grads_scaled = net.loss(X, Y)
    net.params[f"W{layer}"] /= scale
    return loss, loss_scaled, grads[f"W{layer}"], grads_scaled[f"W{layer}"], net


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_every_weight_matrix_followed_by_batch_norm_is_scale_invariant(layer):
    loss, loss_scaled, grad, grad_scaled, _ = _losses(layer, batchnorm=True)
    assert abs(loss_scaled / loss - 1) < 1e-4
    # up to terms of order eps / var
    np.testing.assert_allclose(grad_scaled, grad / 10.0, rtol=2e-2, atol=1e-6)


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_the_gradient_of_a_normalized_layer_is_orthogonal_to_its_weights(layer):
    _, _, grad, _, net = _losses(layer, batchnorm=True)
    weights = net.params[f"W{layer}"]
    dots = np.sum(weights * grad, axis=0)
    norms = np.linalg.norm(weights, axis=0) * np.linalg.norm(grad, axis=0)
    assert np.all(np.abs(dots) <= 1e-2 * np.maximum(norms, 1e-300))


def test_the_read_out_is_not_scale_invariant():
    loss, loss_scaled, *_ = _losses(4, batchnorm=True)
    assert abs(loss_scaled / loss - 1) > 0.1


@pytest.mark.parametrize("layer", [1, 2])
def test_without_batch_norm_no_weight_matrix_is_scale_invariant(layer):
    loss, loss_scaled, *_ = _losses(layer, batchnorm=False)
    assert abs(loss_scaled / loss - 1) > 0.1
