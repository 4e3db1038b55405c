"""Checks moved out of chapter 9 (batch normalization forward): running statistics."""

import numpy as np
import pytest

from backprop_utils.batchnorm import BatchNorm


@pytest.mark.parametrize("n_samples", [2, 4, 32])
def test_running_statistics_match_pytorch_batchnorm1d(n_samples):
    # PyTorch normalizes with the biased variance and stores the unbiased one in running_var
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(n_samples)
    ours = BatchNorm(3, momentum=0.9)
    theirs = torch.nn.BatchNorm1d(3, momentum=0.1, eps=1e-5, dtype=torch.float64)
    theirs.train()
    for _ in range(5):
        x = rng.normal(2.0, 3.0, size=(n_samples, 3))
        out = ours.forward(x)
        with torch.no_grad():
            out_torch = theirs(torch.tensor(x)).numpy()
        np.testing.assert_allclose(out, out_torch, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
    theirs.eval()
    x = rng.normal(2.0, 3.0, size=(1, 3))
    with torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours.forward(x, train=False), expected, rtol=1e-10)


def test_running_variance_is_fed_the_unbiased_batch_variance():
    layer = BatchNorm(1, momentum=0.0)  # keeps only the last batch
    x = np.array([[1.0], [2.0], [6.0]])
    layer.forward(x)
    np.testing.assert_allclose(layer.running_var, [np.var(x, ddof=1)], rtol=1e-14)
    assert not np.isclose(layer.running_var[0], np.var(x))
