"""Tests of backprop_utils.surfaces: loss surfaces and gradient fields on grids."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils.gradcheck import numerical_gradient
from backprop_utils.softmax import softmax_loss
from backprop_utils.surfaces import (
    linear_loss,
    random_directions,
    slice_descent,
    slice_gradient,
    slice_loss,
    train_linear_classifier,
    two_score_gradient,
    two_score_loss,
)

N_SAMPLES, N_FEATURES, N_CLASSES = 12, 3, 4


def make_problem(seed=0, dtype=np.float64):
    """A small linear-classifier problem: X (N, D), y (N,), W0, D1, D2 (D, C)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES)).astype(dtype)
    y = rng.integers(0, N_CLASSES, N_SAMPLES)
    W0, D1, D2 = rng.standard_normal((3, N_FEATURES, N_CLASSES)).astype(dtype)
    return X, y, W0, D1, D2


@pytest.fixture
def problem():
    return make_problem()


@pytest.fixture
def grid():
    axis_a = np.linspace(-1.5, 1.5, 7)
    axis_b = np.linspace(-1.0, 1.0, 5)
    return np.meshgrid(axis_a, axis_b)


# --- two scores of one sample -----------------------------------------------------------------


def test_two_score_loss_equals_softmax_loss_at_every_grid_point():
    scores = np.array([0.3, -1.2, 0.8])
    values_i, values_j = np.meshgrid(np.linspace(-3, 3, 5), np.linspace(-2, 4, 4))
    loss = two_score_loss(scores, 1, values_i, values_j, classes=(1, 2))
    assert loss.shape == (4, 5)
    for (row, col), value in np.ndenumerate(loss):
        point = scores.copy()
        point[1], point[2] = values_i[row, col], values_j[row, col]
        expected, _ = softmax_loss(point[None, :], np.array([1]))
        np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_two_score_gradient_equals_probabilities_minus_one_hot():
    scores = np.array([0.3, -1.2, 0.8])
    values_i, values_j = np.meshgrid(np.linspace(-3, 3, 5), np.linspace(-2, 4, 4))
    dloss_di, dloss_dj = two_score_gradient(scores, 0, values_i, values_j, classes=(0, 2))
    stacked = np.stack(
        [values_i, np.full_like(values_i, scores[1]), values_j], axis=-1
    )  # (4, 5, 3)
    probs = np.exp(stacked) / np.exp(stacked).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(dloss_di, probs[..., 0] - 1.0, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dloss_dj, probs[..., 2], rtol=1e-10, atol=1e-14)


def test_two_score_gradient_matches_finite_differences_of_the_loss():
    scores = np.array([1.0, 0.0, -0.5, 2.0])
    values_i = np.array([-1.0, 0.5, 2.0])
    values_j = np.array([0.3, -0.7, 1.1])
    dloss_di, dloss_dj = two_score_gradient(scores, 3, values_i, values_j, classes=(3, 1))
    h = 1e-6
    fd_i = (
        two_score_loss(scores, 3, values_i + h, values_j, (3, 1))
        - two_score_loss(scores, 3, values_i - h, values_j, (3, 1))
    ) / (2 * h)
    fd_j = (
        two_score_loss(scores, 3, values_i, values_j + h, (3, 1))
        - two_score_loss(scores, 3, values_i, values_j - h, (3, 1))
    ) / (2 * h)
    np.testing.assert_allclose(dloss_di, fd_i, rtol=1e-6)
    np.testing.assert_allclose(dloss_dj, fd_j, rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.floats(-30, 30), min_size=2, max_size=2),
    others=st.lists(st.floats(-30, 30), min_size=1, max_size=3),
)
def test_true_class_score_gradient_is_negative_so_no_finite_minimum(values, others):
    scores = np.array([0.0, 0.0, *others])
    dloss_di, _ = two_score_gradient(scores, 0, values[0], values[1], classes=(0, 1))
    loss = two_score_loss(scores, 0, values[0], values[1], classes=(0, 1))
    assert dloss_di < 0 or dloss_di == 0 and loss == 0  # only 0 once p_y rounds to 1
    assert loss >= 0


def test_two_score_output_takes_the_broadcast_shape():
    scores = np.zeros(3)
    loss = two_score_loss(scores, 0, np.zeros((4, 1)), np.zeros((1, 6)))
    dloss_di, dloss_dj = two_score_gradient(scores, 0, np.zeros((4, 1)), np.zeros((1, 6)))
    assert loss.shape == dloss_di.shape == dloss_dj.shape == (4, 6)


def test_two_score_keeps_float32():
    scores = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    values = np.linspace(-1, 1, 3, dtype=np.float32)
    assert two_score_loss(scores, 0, values, values).dtype == np.float32
    assert two_score_gradient(scores, 0, values, values)[0].dtype == np.float32


def test_two_score_does_not_modify_its_inputs():
    scores = np.array([0.1, 0.2, 0.3])
    values = np.linspace(-1, 1, 3)
    two_score_gradient(scores, 0, values, values)
    np.testing.assert_array_equal(scores, [0.1, 0.2, 0.3])


def test_two_score_rejects_2d_scores():
    with pytest.raises(ValueError, match="scores"):
        two_score_loss(np.zeros((2, 3)), 0, 0.0, 0.0)


def test_two_score_rejects_a_single_class():
    with pytest.raises(ValueError, match="C >= 2"):
        two_score_loss(np.zeros(1), 0, 0.0, 0.0, classes=(0, 0))


def test_two_score_rejects_a_label_out_of_range():
    with pytest.raises(ValueError, match="label"):
        two_score_loss(np.zeros(3), 3, 0.0, 0.0)


def test_two_score_rejects_a_float_label():
    with pytest.raises(TypeError, match="label"):
        two_score_loss(np.zeros(3), 1.0, 0.0, 0.0)


def test_two_score_rejects_the_same_class_twice():
    with pytest.raises(ValueError, match="two different"):
        two_score_gradient(np.zeros(3), 0, 0.0, 0.0, classes=(2, 2))


def test_two_score_rejects_a_class_pair_of_the_wrong_length():
    with pytest.raises(TypeError, match="classes"):
        two_score_loss(np.zeros(3), 0, 0.0, 0.0, classes=(0, 1, 2))


def test_two_score_rejects_values_that_do_not_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        two_score_loss(np.zeros(3), 0, np.zeros(3), np.zeros(4))


def test_two_score_rejects_non_finite_values():
    with pytest.raises(ValueError, match="values_j"):
        two_score_loss(np.zeros(3), 0, 0.0, np.array([0.0, np.nan]))


def test_two_score_rejects_string_scores():
    with pytest.raises(TypeError, match="scores"):
        two_score_loss(np.array(["a", "b"]), 0, 0.0, 0.0)


# --- linear loss --------------------------------------------------------------------------------


def test_linear_loss_gradient_matches_numerical_gradient(problem):
    X, y, W0, _, _ = problem
    _, dW = linear_loss(X, y, W0, reg=0.3)
    numeric = numerical_gradient(lambda W: linear_loss(X, y, W, reg=0.3)[0], W0.copy())
    np.testing.assert_allclose(dW, numeric, rtol=1e-6, atol=1e-9)


def test_linear_loss_regularization_adds_half_reg_times_squared_norm(problem):
    X, y, W0, _, _ = problem
    plain, dW_plain = linear_loss(X, y, W0)
    regularized, dW_reg = linear_loss(X, y, W0, reg=0.7)
    np.testing.assert_allclose(regularized - plain, 0.35 * np.sum(W0**2), rtol=1e-12)
    np.testing.assert_allclose(dW_reg - dW_plain, 0.7 * W0, rtol=1e-12, atol=1e-15)


def test_linear_loss_keeps_float32():
    X, y, W0, _, _ = make_problem(dtype=np.float32)
    loss, dW = linear_loss(X, y, W0, reg=0.1)
    assert loss.dtype == np.float32 and dW.dtype == np.float32


# --- random directions --------------------------------------------------------------------------


def test_random_directions_are_deterministic_for_a_seed(problem):
    W0 = problem[2]
    first, second = random_directions(W0, seed=3), random_directions(W0, seed=3)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_random_directions_change_with_the_seed(problem):
    W0 = problem[2]
    assert not np.allclose(random_directions(W0, seed=0)[0], random_directions(W0, seed=1)[0])


def test_random_directions_are_two_different_directions(problem):
    D1, D2 = random_directions(problem[2], seed=0)
    assert not np.allclose(D1, D2)


def test_filter_normalization_gives_each_column_the_norm_of_the_weight_column(problem):
    W0 = problem[2] * np.array([0.1, 1.0, 5.0, 20.0])
    for direction in random_directions(W0, seed=2):
        assert direction.shape == W0.shape
        np.testing.assert_allclose(
            np.linalg.norm(direction, axis=0), np.linalg.norm(W0, axis=0), rtol=1e-12
        )


def test_filter_normalization_maps_a_zero_weight_column_to_a_zero_direction_column(problem):
    W0 = problem[2].copy()
    W0[:, 1] = 0.0
    D1, D2 = random_directions(W0, seed=0)
    np.testing.assert_array_equal(D1[:, 1], 0.0)
    np.testing.assert_array_equal(D2[:, 1], 0.0)


def test_filter_normalization_rescales_each_column_bias_row_included(problem):
    # The bias row (the last row, with the bias trick) is part of its column: it is rescaled
    # with the column, not set to zero as in Li et al.'s code.
    W0 = problem[2]
    drawn = random_directions(W0, seed=5, normalization="none")
    for direction, gaussian in zip(random_directions(W0, seed=5), drawn, strict=True):
        scale = np.linalg.norm(W0, axis=0) / np.linalg.norm(gaussian, axis=0)
        np.testing.assert_allclose(direction, gaussian * scale, rtol=1e-12)
        assert np.all(direction[-1] != 0)


def test_no_normalization_returns_the_gaussian_draw(problem):
    W0 = problem[2]
    D1, D2 = random_directions(W0, seed=4, normalization="none")
    expected = np.random.default_rng(4).standard_normal((2, *W0.shape))
    np.testing.assert_array_equal(D1, expected[0])
    np.testing.assert_array_equal(D2, expected[1])


def test_random_directions_keep_float32(problem):
    D1, _ = random_directions(problem[2].astype(np.float32))
    assert D1.dtype == np.float32


def test_random_directions_reject_all_zero_weights_for_filter_normalization():
    with pytest.raises(ValueError, match="all zeros"):
        random_directions(np.zeros((3, 2)))


def test_random_directions_reject_an_unknown_normalization(problem):
    with pytest.raises(ValueError, match="normalization"):
        random_directions(problem[2], normalization="layer")


def test_random_directions_reject_1d_weights():
    with pytest.raises(ValueError, match="weights"):
        random_directions(np.ones(4))


def test_random_directions_reject_a_float_seed(problem):
    with pytest.raises(TypeError, match="seed"):
        random_directions(problem[2], seed=1.5)


def test_random_directions_reject_a_negative_seed(problem):
    with pytest.raises(ValueError, match="seed"):
        random_directions(problem[2], seed=-1)


# --- loss and gradient on a slice -----------------------------------------------------------


@pytest.mark.parametrize("reg", [0.0, 0.4])
def test_slice_loss_equals_a_loop_over_softmax_loss(problem, grid, reg):
    X, y, W0, D1, D2 = problem
    alphas, betas = grid
    loss = slice_loss(X, y, W0, D1, D2, alphas, betas, reg=reg)
    assert loss.shape == alphas.shape
    for index in [(0, 0), (2, 3), (4, 6), (1, 5)]:
        W = W0 + alphas[index] * D1 + betas[index] * D2
        expected, _ = softmax_loss(X @ W, y)
        expected += reg / 2 * np.sum(W * W)
        np.testing.assert_allclose(loss[index], expected, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(a=st.floats(-3, 3), b=st.floats(-3, 3), reg=st.floats(0, 2), seed=st.integers(0, 50))
def test_slice_loss_is_the_linear_loss_at_the_sliced_weights(a, b, reg, seed):
    X, y, W0, D1, D2 = make_problem(seed)
    expected, _ = linear_loss(X, y, W0 + a * D1 + b * D2, reg=reg)
    np.testing.assert_allclose(slice_loss(X, y, W0, D1, D2, a, b, reg=reg), expected, rtol=1e-10)


def test_slice_loss_at_the_origin_is_the_loss_at_the_centre(problem):
    X, y, W0, D1, D2 = problem
    expected, _ = linear_loss(X, y, W0, reg=0.2)
    np.testing.assert_allclose(slice_loss(X, y, W0, D1, D2, 0.0, 0.0, reg=0.2), expected)


def test_slice_regularization_adds_half_reg_times_squared_norm(problem, grid):
    X, y, W0, D1, D2 = problem
    alphas, betas = grid
    difference = slice_loss(X, y, W0, D1, D2, alphas, betas, reg=0.6) - slice_loss(
        X, y, W0, D1, D2, alphas, betas
    )
    weights = W0 + alphas[..., None, None] * D1 + betas[..., None, None] * D2
    np.testing.assert_allclose(difference, 0.3 * np.sum(weights**2, axis=(-2, -1)), rtol=1e-10)


@pytest.mark.parametrize("reg", [0.0, 0.5])
def test_slice_gradient_equals_finite_difference_directional_derivatives(problem, grid, reg):
    X, y, W0, D1, D2 = problem
    alphas, betas = grid
    dloss_dalpha, dloss_dbeta = slice_gradient(X, y, W0, D1, D2, alphas, betas, reg=reg)
    h = 1e-5
    for index in [(0, 0), (2, 3), (4, 6), (3, 1)]:
        W = W0 + alphas[index] * D1 + betas[index] * D2
        for direction, projected in ((D1, dloss_dalpha), (D2, dloss_dbeta)):
            ahead, _ = linear_loss(X, y, W + h * direction, reg=reg)
            behind, _ = linear_loss(X, y, W - h * direction, reg=reg)
            np.testing.assert_allclose(projected[index], (ahead - behind) / (2 * h), rtol=1e-6)


def test_slice_gradient_is_the_weight_gradient_projected_on_the_directions(problem):
    X, y, W0, D1, D2 = problem
    a, b = 0.7, -0.4
    _, dW = linear_loss(X, y, W0 + a * D1 + b * D2, reg=0.25)
    dloss_dalpha, dloss_dbeta = slice_gradient(X, y, W0, D1, D2, a, b, reg=0.25)
    np.testing.assert_allclose(dloss_dalpha, np.sum(dW * D1), rtol=1e-10)
    np.testing.assert_allclose(dloss_dbeta, np.sum(dW * D2), rtol=1e-10)


def test_slice_functions_keep_float32(grid):
    X, y, W0, D1, D2 = make_problem(dtype=np.float32)
    alphas, betas = grid
    assert slice_loss(X, y, W0, D1, D2, alphas, betas, reg=0.1).dtype == np.float32
    assert slice_gradient(X, y, W0, D1, D2, alphas, betas, reg=0.1)[0].dtype == np.float32


def test_slice_functions_compute_int_input_in_float64(grid):
    X, y, W0, D1, D2 = make_problem()
    loss = slice_loss(X.round().astype(int), y, W0, D1, D2, *grid)
    assert loss.dtype == np.float64


def test_slice_functions_do_not_modify_their_inputs(problem, grid):
    copies = [array.copy() for array in problem]
    alphas, betas = grid
    slice_loss(*problem, alphas, betas, reg=0.1)
    slice_gradient(*problem, alphas, betas, reg=0.1)
    for original, copy in zip(problem, copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_slice_rejects_directions_of_the_wrong_shape(problem):
    X, y, W0, D1, _ = problem
    with pytest.raises(ValueError, match="D2"):
        slice_loss(X, y, W0, D1, np.ones((N_FEATURES, N_CLASSES + 1)), 0.0, 0.0)


def test_slice_rejects_weights_that_do_not_match_x(problem):
    X, y, _, _, _ = problem
    W0 = np.ones((N_FEATURES + 1, N_CLASSES))
    with pytest.raises(ValueError, match="W0"):
        slice_gradient(X, y, W0, W0, W0, 0.0, 0.0)


def test_slice_rejects_labels_of_the_wrong_length(problem):
    X, y, W0, D1, D2 = problem
    with pytest.raises(ValueError, match="y"):
        slice_loss(X, y[:-1], W0, D1, D2, 0.0, 0.0)


def test_slice_rejects_a_label_out_of_range(problem):
    X, y, W0, D1, D2 = problem
    bad = y.copy()
    bad[0] = N_CLASSES
    with pytest.raises(ValueError, match="y"):
        slice_loss(X, bad, W0, D1, D2, 0.0, 0.0)


def test_slice_rejects_float_labels(problem):
    X, y, W0, D1, D2 = problem
    with pytest.raises(TypeError, match="y"):
        slice_loss(X, y.astype(float), W0, D1, D2, 0.0, 0.0)


def test_slice_rejects_1d_x(problem):
    _, y, W0, D1, D2 = problem
    with pytest.raises(ValueError, match="X"):
        slice_loss(np.ones(N_SAMPLES), y, W0, D1, D2, 0.0, 0.0)


def test_slice_rejects_non_finite_x(problem):
    X, y, W0, D1, D2 = problem
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="X"):
        slice_loss(bad, y, W0, D1, D2, 0.0, 0.0)


def test_slice_rejects_coordinates_that_do_not_broadcast(problem):
    with pytest.raises(ValueError, match="broadcast"):
        slice_loss(*problem, np.zeros(3), np.zeros(2))


def test_slice_rejects_an_empty_grid(problem):
    with pytest.raises(ValueError, match="at least one"):
        slice_gradient(*problem, np.zeros(0), np.zeros(0))


def test_slice_rejects_a_negative_reg(problem):
    with pytest.raises(ValueError, match="reg"):
        slice_loss(*problem, 0.0, 0.0, reg=-0.1)


def test_slice_rejects_a_string_reg(problem):
    with pytest.raises(TypeError, match="reg"):
        slice_gradient(*problem, 0.0, 0.0, reg="0.1")


# --- gradient descent -----------------------------------------------------------------------


def test_slice_descent_loss_decreases_at_every_step_for_a_small_step(problem):
    path, losses = slice_descent(*problem, start=(1.0, -1.0), learning_rate=0.05, n_steps=40)
    assert path.shape == (41, 2) and losses.shape == (41,)
    np.testing.assert_array_equal(path[0], [1.0, -1.0])
    assert np.all(np.diff(losses) < 0)


def test_slice_descent_steps_against_the_projected_gradient(problem):
    path, losses = slice_descent(*problem, start=(0.3, 0.2), learning_rate=0.1, n_steps=1)
    dloss_dalpha, dloss_dbeta = slice_gradient(*problem, 0.3, 0.2)
    np.testing.assert_allclose(path[1], [0.3 - 0.1 * dloss_dalpha, 0.2 - 0.1 * dloss_dbeta])
    np.testing.assert_allclose(losses, slice_loss(*problem, path[:, 0], path[:, 1]))


def test_slice_descent_with_zero_steps_returns_the_start(problem):
    path, losses = slice_descent(*problem, start=(0.5, 0.5), learning_rate=0.1, n_steps=0)
    np.testing.assert_array_equal(path, [[0.5, 0.5]])
    assert losses.shape == (1,)


def test_slice_descent_rejects_a_start_that_is_not_a_pair(problem):
    with pytest.raises(ValueError, match="start"):
        slice_descent(*problem, start=(0.0, 0.0, 0.0), learning_rate=0.1, n_steps=3)


def test_train_linear_classifier_loss_decreases_and_gradient_vanishes(problem):
    X, y, W0, _, _ = problem
    weights, losses = train_linear_classifier(X, y, W0, learning_rate=0.5, n_steps=300, reg=0.5)
    assert weights.shape == (301, N_FEATURES, N_CLASSES) and losses.shape == (301,)
    np.testing.assert_array_equal(weights[0], W0)
    assert np.all(np.diff(losses[:30]) < 0)
    assert np.all(np.diff(losses) < 1e-12)  # at the minimum, only rounding moves the loss
    _, dW = linear_loss(X, y, weights[-1], reg=0.5)
    assert np.abs(dW).max() < 1e-6


def test_train_linear_classifier_records_the_loss_of_every_iterate(problem):
    X, y, W0, _, _ = problem
    weights, losses = train_linear_classifier(X, y, W0, learning_rate=0.1, n_steps=3)
    for W, loss in zip(weights, losses, strict=True):
        np.testing.assert_allclose(loss, linear_loss(X, y, W)[0])


def test_train_linear_classifier_does_not_modify_the_start(problem):
    X, y, W0, _, _ = problem
    start = W0.copy()
    train_linear_classifier(X, y, W0, learning_rate=0.1, n_steps=5)
    np.testing.assert_array_equal(W0, start)


@pytest.mark.parametrize("value", [0.0, -0.1, np.inf])
def test_descent_rejects_a_learning_rate_that_is_not_positive_and_finite(problem, value):
    X, y, W0, _, _ = problem
    with pytest.raises(ValueError, match="learning_rate"):
        train_linear_classifier(X, y, W0, learning_rate=value, n_steps=3)


def test_descent_rejects_a_negative_step_count(problem):
    with pytest.raises(ValueError, match="n_steps"):
        slice_descent(*problem, start=(0.0, 0.0), learning_rate=0.1, n_steps=-1)


def test_descent_rejects_a_float_step_count(problem):
    X, y, W0, _, _ = problem
    with pytest.raises(TypeError, match="n_steps"):
        train_linear_classifier(X, y, W0, learning_rate=0.1, n_steps=3.0)


def test_train_rejects_weights_that_do_not_match_x(problem):
    X, y, _, _, _ = problem
    with pytest.raises(ValueError, match="W_init"):
        train_linear_classifier(X, y, np.ones((2, 2)), learning_rate=0.1, n_steps=1)


# --- the edges of issue 15 --------------------------------------------------------------------

SMALL_X = np.array([[1.0, 2.0], [3.0, -1.0]])
SMALL_Y = np.array([0, 1])
IDENTITY = np.eye(2)


@pytest.mark.parametrize("scale", [1e155, 1e307])
def test_linear_loss_without_reg_is_finite_for_weights_whose_squares_overflow(scale):
    # reg = 0 computed the penalty as 0 * inf: NaN, although the data loss is finite
    loss, dW = linear_loss(SMALL_X, SMALL_Y, scale * IDENTITY)
    expected_loss, expected_dscores = softmax_loss(SMALL_X @ (scale * IDENTITY), SMALL_Y)
    assert loss == expected_loss
    np.testing.assert_array_equal(dW, SMALL_X.T @ expected_dscores)


def test_linear_loss_penalty_is_computed_where_only_the_squares_overflow():
    # ||W||^2 = 2e310 overflows, reg / 2 * ||W||^2 = 1e10 does not
    loss, _ = linear_loss(SMALL_X, SMALL_Y, 1e155 * IDENTITY, reg=1e-300)
    data_loss, _ = softmax_loss(SMALL_X @ (1e155 * IDENTITY), SMALL_Y)
    assert loss == pytest.approx(data_loss + 1e10, rel=1e-12)


def test_slice_loss_penalty_is_computed_where_only_the_squares_overflow():
    zero = np.zeros((2, 2))
    loss = slice_loss(SMALL_X, SMALL_Y, zero, IDENTITY, zero, [0.0, 1e-160], [0.0, 0.0], reg=1.0)
    expected = linear_loss(SMALL_X, SMALL_Y, 1e-160 * IDENTITY, reg=1.0)[0]
    assert loss[1] == pytest.approx(expected, rel=1e-12)
    W0 = 1e155 * IDENTITY
    loss = slice_loss(SMALL_X * 1e-160, SMALL_Y, W0, IDENTITY, zero, 0.0, 0.0, reg=1e-300)
    assert loss == pytest.approx(np.log(2) + 1e10, rel=1e-6)


def test_linear_loss_whose_scores_overflow_raises_naming_x_and_w():
    with pytest.raises(ValueError, match="the scores X @ W overflows float64: X and W"):
        linear_loss(SMALL_X, SMALL_Y, 1e308 * IDENTITY)


def test_linear_loss_whose_penalty_overflows_raises_naming_reg():
    with pytest.raises(ValueError, match=r"the L2 penalty .* overflows float64: reg and W"):
        linear_loss(SMALL_X, SMALL_Y, 1e100 * IDENTITY, reg=1e300)


def test_linear_loss_whose_gradient_overflows_raises_naming_reg():
    # one sample: loss 0.75e308 + penalty 0.25e308 fit, dW = 1.5e308 + reg * 0.5 does not
    X, y = np.array([[1.5e308, 0.0]]), np.array([1])
    with pytest.raises(ValueError, match=r"the gradient .* overflows float64: reg and W"):
        linear_loss(X, y, 0.5 * IDENTITY, reg=1e308)


@pytest.mark.parametrize("function", [slice_loss, slice_gradient])
def test_slice_whose_scores_overflow_raises_naming_the_arguments_not_the_scores(function):
    # log_softmax said "scores must be finite": scores is no argument of these functions
    with pytest.raises(ValueError, match="overflows float64: X, W0, D1, D2, alphas and betas"):
        function(SMALL_X, SMALL_Y, IDENTITY, IDENTITY, IDENTITY, [1e308], [0.0])


@pytest.mark.parametrize("function", [slice_loss, slice_gradient])
def test_slice_whose_penalty_overflows_raises_naming_reg(function):
    with pytest.raises(ValueError, match="overflows float64: reg, X, W0"):
        function(SMALL_X * 1e-300, SMALL_Y, IDENTITY, IDENTITY, IDENTITY, [1e200], [0.0], 1e200)


def test_train_linear_classifier_that_diverges_raises_naming_learning_rate():
    # the weights grew step by step until linear_loss said "W must be finite"
    with pytest.raises(ValueError, match="gradient descent diverged.*lower learning_rate"):
        train_linear_classifier(SMALL_X, SMALL_Y, IDENTITY, 1.0, 50, reg=1e10)


def test_train_linear_classifier_whose_start_overflows_names_w_init():
    with pytest.raises(ValueError, match="the scores X @ W_init overflows"):
        train_linear_classifier(SMALL_X, SMALL_Y, 1e308 * IDENTITY, 0.1, 5)


def test_slice_descent_that_diverges_raises_naming_learning_rate():
    with pytest.raises(ValueError, match="gradient descent diverged.*lower learning_rate"):
        slice_descent(SMALL_X, SMALL_Y, IDENTITY, IDENTITY, IDENTITY, (0.0, 0.0), 1e10, 50, 1e10)


def test_slice_descent_whose_start_overflows_names_start():
    with pytest.raises(ValueError, match="overflows float64: X, W0, D1, D2 and start"):
        slice_descent(SMALL_X, SMALL_Y, IDENTITY, IDENTITY, IDENTITY, (1e308, 0.0), 0.1, 5)


def test_slice_descent_start_beyond_float32_raises_naming_start():
    X, y, W0, D1, D2 = make_problem(dtype=np.float32)
    with pytest.raises(ValueError, match="start holds values beyond the range of float32"):
        slice_descent(X, y, W0, D1, D2, (1e39, 0.0), 0.1, 1)


@pytest.mark.parametrize("function", [two_score_loss, two_score_gradient])
def test_two_score_values_beyond_float32_raise_naming_them(function):
    # cast to float32, 1e39 became infinity, and log_softmax said "scores must be finite"
    with pytest.raises(ValueError, match="values_i holds values beyond the range of float32"):
        function(np.zeros(3, np.float32), 0, [1e39], [0.0])


@pytest.mark.parametrize("function", [slice_loss, slice_gradient])
def test_slice_coordinates_beyond_float32_raise_naming_them(function):
    X, y, W0, D1, D2 = make_problem(dtype=np.float32)
    with pytest.raises(ValueError, match="betas holds values beyond the range of float32"):
        function(X, y, W0, D1, D2, [0.0], [-1e39])


def test_filter_normalization_holds_weights_whose_squares_overflow():
    # np.linalg.norm added squares of 1e200: infinite norms, infinite directions
    weights = np.array([[1e200, 3.0], [1e200, 4.0]])
    D1, D2 = random_directions(weights)
    np.testing.assert_allclose(np.linalg.norm(D1 / 1e200, axis=0)[0], np.sqrt(2), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(D2[:, 1]), 5.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_filter_normalization_whose_directions_overflow_raises_naming_weights(dtype):
    largest = np.finfo(dtype).max
    with pytest.raises(ValueError, match="overflows .*: weights are too large"):
        random_directions(np.full((3, 2), largest, dtype=dtype))


def masked(array):
    return np.ma.masked_array(array, mask=np.zeros(np.shape(array), dtype=bool))


@pytest.mark.parametrize("name", ["X", "y", "W0", "D1", "D2", "alphas", "betas"])
def test_slice_functions_refuse_a_masked_argument(problem, name):
    X, y, W0, D1, D2 = problem
    arguments = {"X": X, "y": y, "W0": W0, "D1": D1, "D2": D2, "alphas": [0.0], "betas": [0.0]}
    arguments[name] = masked(arguments[name])
    for function in (slice_loss, slice_gradient):
        with pytest.raises(TypeError, match=f"^{name} must not be a masked array"):
            function(**arguments)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda X, y, W: linear_loss(masked(X), y, W), "X"),
        (lambda X, y, W: linear_loss(X, masked(y), W), "y"),
        (lambda X, y, W: linear_loss(X, y, masked(W)), "W"),
        (lambda X, y, W: train_linear_classifier(X, y, masked(W), 0.1, 1), "W_init"),
        (lambda X, y, W: random_directions(masked(W)), "weights"),
        (lambda X, y, W: two_score_loss(masked(np.zeros(3)), 0, [0.0], [0.0]), "scores"),
        (lambda X, y, W: two_score_gradient(np.zeros(3), 0, masked([0.0]), [0.0]), "values_i"),
        (lambda X, y, W: slice_descent(X, y, W, W, W, masked([0.0, 0.0]), 0.1, 1), "start"),
    ],
)
def test_other_functions_refuse_a_masked_argument(problem, call, name):
    X, y, W0, _, _ = problem
    with pytest.raises(TypeError, match=f"^{name} must not be a masked array"):
        call(X, y, W0)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: linear_loss([[1.0, 2.0], [3.0]], SMALL_Y, IDENTITY), "X"),
        (lambda: linear_loss(SMALL_X, [[0], [1, 0]], IDENTITY), "y"),
        (
            lambda: slice_loss(SMALL_X, SMALL_Y, IDENTITY, IDENTITY, IDENTITY, [[0.0], []], 0),
            "alphas",
        ),
        (lambda: two_score_loss([0.0, [1.0, 2.0]], 0, [0.0], [0.0]), "scores"),
        (lambda: random_directions([[1.0, 2.0], [3.0]]), "weights"),
    ],
)
def test_ragged_nested_lists_raise_naming_the_argument(call, name):
    # np.asarray's own error: "setting an array element with a sequence ... inhomogeneous"
    with pytest.raises(ValueError, match=f"^{name} must be a rectangular array"):
        call()
