"""Laws that chapter 8 (loss surfaces) states about backprop_utils.surfaces, for all weights."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils.surfaces import linear_loss


def regularized_hessian(X, y, W, reg, h=1e-5):
    """The Hessian of linear_loss by centred differences of its gradient, (D*C, D*C)."""
    columns = []
    for unit in np.eye(W.size):
        step = h * unit.reshape(W.shape)
        ahead = linear_loss(X, y, W + step, reg=reg)[1]
        behind = linear_loss(X, y, W - step, reg=reg)[1]
        columns.append((ahead - behind).ravel() / (2 * h))
    hessian = np.column_stack(columns)
    return (hessian + hessian.T) / 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.01, 5.0), reg=st.floats(0.01, 1.0))
def test_regularized_hessian_has_no_eigenvalue_below_reg(seed, scale, reg):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.standard_normal((20, 2)), np.ones(20)])
    y = rng.integers(0, 3, 20)
    W = scale * rng.standard_normal((3, 3))
    eigenvalues = np.linalg.eigvalsh(regularized_hessian(X, y, W, reg))
    assert eigenvalues.min() >= reg - 1e-6


def test_regularized_hessian_equals_reg_along_a_shift_of_every_class_template():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.standard_normal((20, 2)), np.ones(20)])
    y = rng.integers(0, 3, 20)
    W, reg = rng.standard_normal((3, 3)), 0.1
    shift = np.outer(rng.standard_normal(3), np.ones(3)).ravel()
    shift /= np.linalg.norm(shift)
    curvature = shift @ regularized_hessian(X, y, W, reg) @ shift
    assert abs(curvature - reg) < 1e-6
