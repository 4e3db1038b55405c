"""An independent oracle: HIPS autograd differentiates plain NumPy forward passes.

Nobody here wrote autograd or these plain forward passes' derivatives: if our hand-written
backward passes and autograd agree, both the derivation and the code are right. autograd is a
pinned requirement, imported plainly: a missing oracle fails the run rather than skipping it.
Layer norm is also checked against PyTorch's ``layer_norm``, skipped where torch is not installed.
"""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop_utils.batchnorm import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
)
from backprop_utils.layernorm import layernorm_backward, layernorm_forward
from backprop_utils.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
)
from backprop_utils.softmax import (
    softmax_loss,
    softmax_loss_naive,
    softmax_loss_staged,
)

LOSSES = [softmax_loss, softmax_loss_naive, softmax_loss_staged]
LOSS_IDS = ["vectorized", "naive", "staged"]


def plain_softmax_loss(scores, labels):
    """The textbook formula, exp then normalize then log, with no max shift."""
    probs = anp.exp(scores) / anp.sum(anp.exp(scores), axis=1, keepdims=True)
    return -anp.mean(anp.log(probs[anp.arange(scores.shape[0]), labels]))


def plain_batchnorm(x, gamma, beta, eps=1e-5):
    mean = anp.mean(x, axis=0)
    var = anp.mean((x - mean) ** 2, axis=0)
    return gamma * (x - mean) / anp.sqrt(var + eps) + beta


def plain_layernorm(x, gamma, beta, eps=1e-5):
    mean = anp.mean(x, axis=1, keepdims=True)
    var = anp.mean((x - mean) ** 2, axis=1, keepdims=True)
    return gamma * (x - mean) / anp.sqrt(var + eps) + beta


shapes = st.tuples(st.integers(1, 8), st.integers(1, 8))
seeds = st.integers(0, 2**16)


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
@given(shape=shapes, seed=seeds)
def test_softmax_loss_matches_autograd(loss_fn, shape, seed):
    rng = np.random.default_rng(seed)
    scores = 4 * rng.standard_normal(shape)
    labels = rng.integers(0, shape[1], shape[0])
    loss, dscores = loss_fn(scores, labels)
    np.testing.assert_allclose(loss, plain_softmax_loss(scores, labels), rtol=1e-12)
    expected = autograd.grad(plain_softmax_loss)(scores, labels)
    np.testing.assert_allclose(dscores, expected, rtol=1e-10, atol=1e-14)


def test_autograd_plain_loss_breaks_at_extreme_scores_where_ours_does_not():
    scores = np.array([[1e4, -1e4, 0.0], [0.0, 1.0, 2.0]])
    labels = np.array([1, 2])
    with np.errstate(all="ignore"):
        plain = plain_softmax_loss(scores, labels)
        plain_grad = autograd.grad(plain_softmax_loss)(scores, labels)
    assert not np.isfinite(plain)
    assert not np.all(np.isfinite(plain_grad))
    loss, dscores = softmax_loss(scores, labels)
    assert np.isfinite(loss) and np.all(np.isfinite(dscores))


@pytest.mark.parametrize(
    "backward", [batchnorm_backward, batchnorm_backward_alt], ids=["staged", "closed_form"]
)
@given(shape=st.tuples(st.integers(2, 8), st.integers(1, 6)), seed=seeds)
def test_batchnorm_matches_autograd(backward, shape, seed):
    rng = np.random.default_rng(seed)
    x = 2 + 3 * rng.standard_normal(shape)
    gamma = rng.uniform(0.5, 2, shape[1])
    beta = rng.standard_normal(shape[1])
    dout = rng.standard_normal(shape)  # random, so that no error can hide in a sum
    out, cache = batchnorm_forward(x, gamma, beta)
    np.testing.assert_allclose(out, plain_batchnorm(x, gamma, beta), rtol=1e-12, atol=1e-12)

    def weighted(x_, gamma_, beta_):
        return anp.sum(plain_batchnorm(x_, gamma_, beta_) * dout)

    expected = [autograd.grad(weighted, k)(x, gamma, beta) for k in range(3)]
    for ours, theirs in zip(backward(dout, cache), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


def random_layernorm_batch(shape, seed):
    """x (N, D) off centre, gamma, beta and a random dout (no error can hide in a sum)."""
    rng = np.random.default_rng(seed)
    x = 2 + 3 * rng.standard_normal(shape)
    gamma = rng.uniform(0.5, 2, shape[1])
    beta = rng.standard_normal(shape[1])
    dout = rng.standard_normal(shape)
    return x, gamma, beta, dout


@given(shape=shapes, seed=seeds)
def test_layernorm_matches_autograd(shape, seed):
    x, gamma, beta, dout = random_layernorm_batch(shape, seed)
    out, cache = layernorm_forward(x, gamma, beta)
    np.testing.assert_allclose(out, plain_layernorm(x, gamma, beta), rtol=1e-12, atol=1e-12)

    def weighted(x_, gamma_, beta_):
        return anp.sum(plain_layernorm(x_, gamma_, beta_) * dout)

    expected = [autograd.grad(weighted, k)(x, gamma, beta) for k in range(3)]
    for ours, theirs in zip(layernorm_backward(dout, cache), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


@given(shape=shapes, seed=seeds)
def test_layernorm_matches_pytorch_layer_norm(shape, seed):
    # a second, independent oracle; torch is not a requirement, so skipped when missing
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = random_layernorm_batch(shape, seed)
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, gamma, beta)]
    expected = torch.nn.functional.layer_norm(tensors[0], (shape[1],), *tensors[1:], eps=1e-5)
    expected.backward(torch.tensor(dout))
    out, cache = layernorm_forward(x, gamma, beta, eps=1e-5)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, tensor in zip(layernorm_backward(dout, cache), tensors, strict=True):
        np.testing.assert_allclose(ours, tensor.grad.numpy(), rtol=1e-10, atol=1e-10)


@given(shape=shapes, n_outputs=st.integers(1, 5), seed=seeds)
def test_affine_relu_matches_autograd(shape, n_outputs, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((shape[1], n_outputs))
    b = rng.standard_normal(n_outputs)
    dout = rng.standard_normal((shape[0], n_outputs))

    def weighted(x_, w_, b_):
        return anp.sum(anp.maximum(anp.dot(x_, w_) + b_, 0) * dout)

    hidden, affine_cache = affine_forward(x, w, b)
    _, relu_cache = relu_forward(hidden)
    dhidden = relu_backward(dout, relu_cache)
    ours = affine_backward(dhidden, affine_cache)
    expected = [autograd.grad(weighted, k)(x, w, b) for k in range(3)]
    for mine, theirs in zip(ours, expected, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)
