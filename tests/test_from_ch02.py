"""The claims of chapter 2 (backprop through arrays), for any sizes rather than the chapter's.

The chapter checks each claim on one seeded example; these tests check the same laws over many
shapes: the Jacobian of a matrix product is block diagonal, I_N kron W^T; the affine layer's
backward pass is the product with that Jacobian; a broadcast forward is a sum backward.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils.gradcheck import numerical_gradient_array
from backprop_utils.layers import affine_backward, affine_forward

sizes = st.integers(min_value=1, max_value=4)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _jacobian_of_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """d(x @ w)_{ij} / dx_{nd} by centred differences: row (i, j) has upstream gradient e_ij."""
    n_rows = x.shape[0] * w.shape[1]
    return np.vstack(
        [
            numerical_gradient_array(
                lambda v: v @ w, x.copy(), one_hot.reshape(-1, w.shape[1])
            ).ravel()
            for one_hot in np.eye(n_rows)
        ]
    )


@settings(max_examples=25, deadline=None)
@given(sizes, sizes, sizes, seeds)
def test_matmul_jacobian_is_block_diagonal_with_copies_of_w_transposed(n, d, m, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(n, d)), rng.normal(size=(d, m))
    np.testing.assert_allclose(_jacobian_of_matmul(x, w), np.kron(np.eye(n), w.T), atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(sizes, sizes, sizes, seeds)
def test_affine_backward_is_the_vector_jacobian_product(n, d, m, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    dout = rng.normal(size=(n, m))
    dx, _, _ = affine_backward(dout, affine_forward(x, w, b)[1])
    jacobian = np.kron(np.eye(n), w.T)  # (n m) x (n d)
    np.testing.assert_allclose(dx.ravel(), dout.ravel() @ jacobian, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(sizes, sizes, sizes, st.integers(min_value=0, max_value=2), seeds)
def test_a_broadcast_forward_is_a_sum_backward(n, d, k, axis, seed):
    rng = np.random.default_rng(seed)
    shape = (n, d, k)
    small = list(shape)
    small[axis] = 1  # the array broadcast along `axis`
    x, c = rng.normal(size=shape), rng.normal(size=small)
    dout = rng.normal(size=shape)
    numeric = numerical_gradient_array(lambda v: x + v, c, dout)
    np.testing.assert_allclose(numeric, dout.sum(axis=axis, keepdims=True), rtol=1e-7, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(sizes, sizes, sizes, sizes, seeds)
def test_affine_gradients_have_the_shapes_of_their_variables(n, d1, d2, m, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=(n, d1, d2)), rng.normal(size=(d1 * d2, m)), rng.normal(size=m)
    dx, dw, db = affine_backward(rng.normal(size=(n, m)), affine_forward(x, w, b)[1])
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
