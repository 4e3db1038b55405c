"""Tests of backprop_utils.softmax: softmax, log_softmax and the softmax loss three ways."""

import importlib

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop_utils.gradcheck import numerical_gradient, numerical_gradient_array, rel_error
from backprop_utils.softmax import (
    BLOCK_BYTES,
    _max_node_backward,
    log_softmax,
    max_node_backward,
    softmax,
    softmax_loss,
    softmax_loss_naive,
    softmax_loss_staged,
)

# the module itself: the package's attribute backprop_utils.softmax is the function softmax
softmax_module = importlib.import_module("backprop_utils.softmax")

LOSSES = [softmax_loss, softmax_loss_naive, softmax_loss_staged]
LOSS_IDS = ["vectorized", "naive", "staged"]
SCORE_ONLY = [softmax, log_softmax]


@st.composite
def scores_and_labels(draw, low=-4.0, high=4.0, max_side=6):
    """Scores (N, C) in [low, high], some with ties at the row maximum, and labels."""
    n_samples = draw(st.integers(1, max_side))
    n_classes = draw(st.integers(1, max_side))
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False)
    if draw(st.booleans()):  # few distinct values: ties at the row maximum are common
        elements = st.sampled_from([low, 0.0, 1.0, high])
    scores = draw(arrays(np.float64, (n_samples, n_classes), elements=elements))
    labels = draw(arrays(np.int64, n_samples, elements=st.integers(0, n_classes - 1)))
    return scores, labels


def random_problem(n_samples, n_classes, seed=0, scale=3.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    scores = (scale * rng.standard_normal((n_samples, n_classes))).astype(dtype)
    labels = rng.integers(0, n_classes, n_samples)
    return scores, labels


def mpmath_loss_and_gradient(scores, labels):
    """Reference loss and gradient with 50 significant digits, from the definition."""
    mpmath.mp.dps = 50
    n_samples, n_classes = scores.shape
    loss = mpmath.mpf(0)
    grad = np.zeros(scores.shape)
    for i in range(n_samples):
        row = [mpmath.mpf(float(s)) for s in scores[i]]
        exps = [mpmath.exp(s) for s in row]
        total = mpmath.fsum(exps)
        loss -= mpmath.log(exps[labels[i]] / total) / n_samples
        for j in range(n_classes):
            grad[i, j] = float((exps[j] / total - (j == labels[i])) / n_samples)
    return float(loss), grad


# --- gradients --------------------------------------------------------------------------


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
@given(problem=scores_and_labels())
def test_gradient_matches_finite_differences(loss_fn, problem):
    scores, labels = problem
    _, dscores = loss_fn(scores, labels)
    numerical = numerical_gradient(lambda s: loss_fn(s, labels)[0], scores.copy())
    np.testing.assert_allclose(dscores, numerical, rtol=0, atol=1e-10)


@given(problem=scores_and_labels(low=-30.0, high=30.0, max_side=8))
def test_three_implementations_agree(problem):
    scores, labels = problem
    loss, dscores = softmax_loss(scores, labels)
    for loss_fn in (softmax_loss_naive, softmax_loss_staged):
        other_loss, other_dscores = loss_fn(scores, labels)
        np.testing.assert_allclose(other_loss, loss, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(other_dscores, dscores, rtol=0, atol=1e-13)


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (5, 1), (2, 2), (3, 3), (4, 2), (7, 7)])
@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_gradient_matches_mpmath_reference(loss_fn, shape):
    scores, labels = random_problem(*shape, seed=sum(shape))
    loss, dscores = loss_fn(scores, labels)
    ref_loss, ref_grad = mpmath_loss_and_gradient(scores, labels)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(dscores, ref_grad, rtol=0, atol=1e-15)


def test_square_scores_gradient_is_not_transposed():
    # N == C is where a wrong-axis broadcast goes unnoticed by shape alone
    scores, labels = random_problem(3, 3, seed=7)
    probs = softmax(scores)
    expected = probs.copy()
    expected[np.arange(3), labels] -= 1
    _, dscores = softmax_loss(scores, labels)
    np.testing.assert_allclose(dscores, expected / 3, rtol=0, atol=1e-15)


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_uniform_scores_give_log_c_and_known_gradient(loss_fn):
    scores = np.full((4, 5), 2.5)
    labels = np.array([0, 4, 2, 2])
    loss, dscores = loss_fn(scores, labels)
    expected = np.full((4, 5), 1 / 5)
    expected[np.arange(4), labels] -= 1
    np.testing.assert_allclose(loss, np.log(5), rtol=1e-15)
    np.testing.assert_allclose(dscores, expected / 4, atol=1e-16)


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_single_class_has_zero_loss_and_gradient(loss_fn):
    loss, dscores = loss_fn(np.array([[3.0], [-2.0]]), np.array([0, 0]))
    assert loss == 0
    np.testing.assert_array_equal(dscores, np.zeros((2, 1)))


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_tied_row_maximum_gives_symmetric_gradient(loss_fn):
    # two tied maxima that are not the label get the same gradient (up to the rounding
    # residue that the staged MAX node hands to the first of them)
    scores = np.array([[5.0, 5.0, 1.0]])
    _, dscores = loss_fn(scores, np.array([2]))
    assert dscores[0, 0] == pytest.approx(dscores[0, 1], abs=1e-15)


def test_max_node_contribution_of_the_loss_is_zero_up_to_rounding():
    # each row of the gradient at the normalized scores sums to zero, so what the MAX node
    # routes back is rounding residue, and the total is the closed form (p - [j = y]) / N
    scores, labels = random_problem(6, 4, seed=3)
    _, dscores, nodes = softmax_loss_staged(scores, labels, return_nodes=True)
    np.testing.assert_allclose(nodes["dscores_max"], 0, rtol=0, atol=1e-16)
    _, closed_form = softmax_loss(scores, labels)
    np.testing.assert_allclose(dscores, closed_form, rtol=0, atol=1e-16)


# --- the MAX node on its own ------------------------------------------------------------


def max_shift(scores):
    """The forward pass of the MAX node and the subtraction: s_ij = s*_ij - max_k s*_ik."""
    return scores - scores.max(axis=1, keepdims=True)


def test_max_node_routes_minus_the_row_sum_to_the_argmax():
    scores = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, -1.0]])
    upstream = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])  # rows sum to 6 and 3.5
    expected = np.array([[0.0, -6.0, 0.0], [-3.5, 0.0, 0.0]])
    np.testing.assert_array_equal(_max_node_backward(upstream, scores), expected)


def test_max_node_sends_a_tie_to_exactly_one_column_the_first():
    scores = np.array([[2.0, 2.0, 0.5], [3.0, 1.0, 3.0], [4.0, 4.0, 4.0]])
    upstream = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    routed = _max_node_backward(upstream, scores)
    expected = np.zeros((3, 3))
    expected[:, 0] = [-3.0, -6.0, -1.5]
    np.testing.assert_array_equal(routed, expected)


@given(seed=st.integers(0, 2**16), n_samples=st.integers(1, 6), n_classes=st.integers(1, 6))
def test_max_node_matches_finite_differences_of_the_max_shift(seed, n_samples, n_classes):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n_samples, n_classes))  # ties have probability zero
    upstream = rng.standard_normal((n_samples, n_classes))
    numerical = numerical_gradient_array(max_shift, scores.copy(), upstream)
    analytic = upstream + _max_node_backward(upstream, scores)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-7, atol=1e-9)


def test_max_node_check_sees_a_missing_max_node():
    # guards the test above: with rows of the upstream gradient that do not sum to zero, the
    # gradient without the MAX node is far from the finite differences
    rng = np.random.default_rng(4)
    scores, upstream = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    assert np.all(np.abs(upstream.sum(axis=1)) > 1e-3)
    numerical = numerical_gradient_array(max_shift, scores.copy(), upstream)
    assert rel_error(upstream + _max_node_backward(upstream, scores), numerical) < 1e-8
    assert rel_error(upstream, numerical) > 1e-2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_node_keeps_the_dtype_of_its_upstream_gradient(dtype):
    scores, _ = random_problem(3, 4, dtype=dtype)
    routed = _max_node_backward(np.ones((3, 4), dtype), scores)
    assert routed.dtype == dtype
    np.testing.assert_array_equal(routed.sum(axis=1), -4)


@pytest.mark.parametrize("loss_fn", [softmax_loss_naive, softmax_loss_staged], ids=LOSS_IDS[1:])
def test_loss_adds_what_the_max_node_sends_back(loss_fn, monkeypatch):
    # The loss's own MAX-node contribution is zero up to rounding, so no check of the loss can
    # see it. Swap in a MAX node that sends back something large: the gradient must move.
    scores, labels = random_problem(5, 4, seed=8)
    routed = np.random.default_rng(9).standard_normal(scores.shape)
    calls = []

    def fake_max_node(dnormalized, raw_scores):
        calls.append((dnormalized.copy(), raw_scores.copy()))
        return routed

    monkeypatch.setattr(softmax_module, "_max_node_backward", fake_max_node)
    _, dscores = loss_fn(scores, labels)
    assert len(calls) == 1
    dnormalized, raw_scores = calls[0]
    _, closed_form = softmax_loss(scores, labels)
    np.testing.assert_allclose(dnormalized, closed_form, rtol=0, atol=1e-16)
    np.testing.assert_array_equal(raw_scores, scores)
    np.testing.assert_array_equal(dscores, dnormalized + routed)


def test_staged_returns_the_gradient_at_every_node():
    scores, labels = random_problem(7, 5, seed=12)
    loss, dscores = softmax_loss_staged(scores, labels)
    loss_n, dscores_n, nodes = softmax_loss_staged(scores, labels, return_nodes=True)
    assert loss_n == loss
    np.testing.assert_array_equal(dscores_n, dscores)
    shapes = {name: grad.shape for name, grad in nodes.items()}
    assert shapes == {
        "dlog_probs": (7,),
        "dtarget_probs": (7,),
        "dexps": (7, 5),
        "dsums": (7,),
        "dnormalized": (7, 5),
        "drow_max": (7,),
        "dscores_max": (7, 5),
    }
    np.testing.assert_array_equal(nodes["dlog_probs"], -1 / 7)
    np.testing.assert_array_equal(
        nodes["dscores_max"], _max_node_backward(nodes["dnormalized"], scores)
    )
    np.testing.assert_array_equal(nodes["drow_max"], -nodes["dnormalized"].sum(axis=1))
    np.testing.assert_array_equal(dscores, nodes["dnormalized"] + nodes["dscores_max"])


def test_staged_max_node_gradient_is_the_rounding_residue_of_the_row_sums():
    # the MAX node's gradient is computed, not left out: in floating point the row sums of
    # dnormalized are not all exactly zero, and the MAX node receives exactly minus them
    scores, labels = random_problem(20, 7, seed=13)
    _, _, nodes = softmax_loss_staged(scores, labels, return_nodes=True)
    row_sums = nodes["dnormalized"].sum(axis=1)
    assert np.any(row_sums != 0)
    np.testing.assert_array_equal(nodes["drow_max"], -row_sums)
    argmax = scores.argmax(axis=1)
    np.testing.assert_array_equal(nodes["dscores_max"][np.arange(20), argmax], -row_sums)


# --- laws -------------------------------------------------------------------------------


@given(
    problem=scores_and_labels(low=-50.0, high=50.0),
    shift=st.floats(-1e3, 1e3, allow_nan=False),
)
def test_loss_is_shift_invariant(problem, shift):
    scores, labels = problem
    loss, dscores = softmax_loss(scores, labels)
    shifted_loss, shifted_dscores = softmax_loss(scores + shift, labels)
    np.testing.assert_allclose(shifted_loss, loss, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(shifted_dscores, dscores, rtol=0, atol=1e-9)


@given(problem=scores_and_labels(low=-50.0, high=50.0), seed=st.integers(0, 2**16))
def test_softmax_is_invariant_to_a_shift_per_row(problem, seed):
    scores, _ = problem
    row_shifts = np.random.default_rng(seed).uniform(-1e3, 1e3, (scores.shape[0], 1))
    np.testing.assert_allclose(softmax(scores + row_shifts), softmax(scores), atol=1e-9)


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
@given(problem=scores_and_labels(low=-30.0, high=30.0))
def test_dscores_rows_sum_to_zero(loss_fn, problem):
    scores, labels = problem
    _, dscores = loss_fn(scores, labels)
    np.testing.assert_allclose(dscores.sum(axis=1), 0, atol=1e-15)


@given(problem=scores_and_labels(low=-1e4, high=1e4))
def test_probabilities_sum_to_one(problem):
    scores, _ = problem
    probs = softmax(scores)
    assert np.all((probs >= 0) & (probs <= 1))
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-14)


@given(problem=scores_and_labels(low=-30.0, high=30.0))
def test_log_softmax_is_log_of_softmax(problem):
    scores, _ = problem
    np.testing.assert_allclose(log_softmax(scores), np.log(softmax(scores)), atol=1e-12)


@given(problem=scores_and_labels(low=-50.0, high=50.0))
def test_loss_is_mean_negative_log_softmax_of_labels(problem):
    scores, labels = problem
    loss, _ = softmax_loss(scores, labels)
    expected = -log_softmax(scores)[np.arange(len(labels)), labels].mean()
    np.testing.assert_allclose(loss, expected, rtol=1e-13, atol=1e-13)


# --- extreme scores ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_scores_give_finite_correct_loss_and_gradient(dtype):
    scores = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [2.0, -1e4, 1e4]], dtype=dtype)
    labels = np.array([1, 0, 2])  # the first two labels have probability exp(-2e4), far below 0
    loss, dscores = softmax_loss(scores, labels)
    ref_loss, ref_grad = mpmath_loss_and_gradient(scores, labels)
    assert np.isfinite(loss) and np.all(np.isfinite(dscores))
    np.testing.assert_allclose(loss, ref_loss, rtol=np.finfo(dtype).eps * 4)
    np.testing.assert_allclose(dscores, ref_grad, atol=np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_scores_give_finite_log_softmax(dtype):
    scores = np.array([[1e4, -1e4, 0.0]], dtype=dtype)
    expected = np.array([[0.0, -2e4, -1e4]])
    np.testing.assert_allclose(log_softmax(scores), expected, rtol=1e-6)


def test_naive_matches_vectorized_at_extreme_scores():
    scores = np.array([[1e4, -1e4, 0.0], [-3e3, 1e4, 5e3]])
    labels = np.array([1, 0])
    loss, dscores = softmax_loss(scores, labels)
    naive_loss, naive_dscores = softmax_loss_naive(scores, labels)
    np.testing.assert_allclose(naive_loss, loss, rtol=1e-15)
    np.testing.assert_allclose(naive_dscores, dscores, atol=1e-16)


def test_staged_raises_when_a_target_probability_underflows():
    scores = np.array([[1e4, -1e4, 0.0]])
    with pytest.raises(ValueError, match="underflows"):
        softmax_loss_staged(scores, np.array([1]))


@pytest.mark.parametrize("scale", [1.0, 1e2, 1e3])
def test_loss_of_large_scores_matches_reference(scale):
    scores, labels = random_problem(5, 4, seed=11, scale=scale)
    loss, dscores = softmax_loss(scores, labels)
    ref_loss, ref_grad = mpmath_loss_and_gradient(scores, labels)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
    np.testing.assert_allclose(dscores, ref_grad, atol=1e-16)


# --- blocks of rows, with and without the max shift ------------------------------------


def shifted_reference(scores, labels):
    """Loss and gradient in float64 by the textbook max-shifted formulas, no blocks."""
    scores = scores.astype(np.float64)
    rows = np.arange(scores.shape[0])
    normalized = scores - scores.max(axis=1, keepdims=True)
    sum_exp = np.exp(normalized).sum(axis=1)
    loss = np.mean(np.log(sum_exp) - normalized[rows, labels])
    grad = np.exp(normalized) / sum_exp[:, None]
    grad[rows, labels] -= 1
    return loss, grad / scores.shape[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_blocks_with_and_without_the_shift_match_reference(dtype):
    # 2.5 blocks of rows; the middle rows are scaled past the limit where exp could
    # overflow, so unshifted blocks, shifted blocks and a partial last block all occur
    n_classes = 50
    n_samples = int(2.5 * BLOCK_BYTES / (n_classes * np.dtype(dtype).itemsize))
    scores, labels = random_problem(n_samples, n_classes, seed=5, dtype=np.float64)
    scores[n_samples // 2 : n_samples // 2 + 10] *= 300
    scores = scores.astype(dtype)
    loss, dscores = softmax_loss(scores, labels)
    ref_loss, ref_grad = shifted_reference(scores, labels)
    tight = dtype == np.float64
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12 if tight else 1e-5)
    np.testing.assert_allclose(
        dscores, ref_grad, rtol=1e-12 if tight else 1e-5, atol=1e-18 if tight else 1e-12
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(problem=scores_and_labels(low=-300.0, high=300.0))
def test_loss_is_never_negative(dtype, problem):
    scores, labels = problem
    loss, _ = softmax_loss(scores.astype(dtype), labels)
    assert loss >= 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e3], ids=["unshifted", "shifted"])
def test_single_class_loss_is_exactly_zero_with_and_without_the_shift(dtype, scale):
    loss, dscores = softmax_loss(np.array([[3.0], [-2.0]], dtype) * scale, np.array([0, 0]))
    assert loss == 0
    np.testing.assert_array_equal(dscores, 0)


# --- dtypes and inputs ------------------------------------------------------------------


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_float32_scores_give_float32_loss_and_gradient(loss_fn):
    scores, labels = random_problem(5, 4, dtype=np.float32)
    loss, dscores = loss_fn(scores, labels)
    assert loss.dtype == np.float32
    assert dscores.dtype == np.float32
    loss64, dscores64 = loss_fn(scores.astype(np.float64), labels)
    np.testing.assert_allclose(loss, loss64, rtol=1e-6)
    np.testing.assert_allclose(dscores, dscores64, atol=1e-7)


@pytest.mark.parametrize("fn", SCORE_ONLY)
def test_float32_scores_give_float32_probabilities(fn):
    scores, _ = random_problem(5, 4, dtype=np.float32)
    assert fn(scores).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16, np.uint8])
@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_other_real_scores_are_computed_in_float64(loss_fn, dtype):
    scores = np.array([[1, 2, 3], [3, 0, 1]], dtype=dtype)
    loss, dscores = loss_fn(scores, np.array([0, 2]))
    assert loss.dtype == np.float64 and dscores.dtype == np.float64
    expected_loss, expected_dscores = softmax_loss(scores.astype(np.float64), np.array([0, 2]))
    np.testing.assert_allclose(dscores, expected_dscores, atol=1e-16)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-15)


def test_python_lists_are_accepted():
    loss, dscores = softmax_loss([[1.0, 2.0], [0.5, 0.5]], [1, 0])
    expected_loss, expected_dscores = softmax_loss(np.array([[1.0, 2.0], [0.5, 0.5]]), [1, 0])
    assert loss == expected_loss
    np.testing.assert_array_equal(dscores, expected_dscores)


INTEGER_DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64]


@pytest.mark.parametrize("label_dtype", INTEGER_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_labels_of_every_integer_dtype_give_the_same_result(loss_fn, label_dtype):
    # uint64 + int64 is float64 in NumPy, which once made a float index of the labels
    scores, labels = random_problem(6, 4, seed=2)
    loss, dscores = loss_fn(scores, labels.astype(label_dtype))
    expected_loss, expected_dscores = loss_fn(scores, labels.astype(np.int64))
    assert loss == expected_loss
    np.testing.assert_array_equal(dscores, expected_dscores)


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_labels_are_not_modified_or_kept(loss_fn):
    labels = np.array([1, 0, 2], dtype=np.uint64)
    loss_fn(np.zeros((3, 3)), labels)
    assert labels.dtype == np.uint64
    np.testing.assert_array_equal(labels, [1, 0, 2])


@pytest.mark.parametrize("flag", [True, False, np.True_])
def test_staged_accepts_a_numpy_bool_for_return_nodes(flag):
    result = softmax_loss_staged(np.zeros((2, 3)), [0, 1], return_nodes=flag)
    assert len(result) == (3 if flag else 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_loss_does_not_modify_its_inputs(loss_fn, dtype):
    scores, labels = random_problem(6, 3, dtype=dtype)
    scores += 1000
    scores_before, labels_before = scores.copy(), labels.copy()
    loss_fn(scores, labels)
    np.testing.assert_array_equal(scores, scores_before)
    np.testing.assert_array_equal(labels, labels_before)


@pytest.mark.parametrize("fn", SCORE_ONLY)
def test_softmax_does_not_modify_its_input(fn):
    scores, _ = random_problem(6, 3)
    before = scores.copy()
    fn(scores)
    np.testing.assert_array_equal(scores, before)


def test_gradient_is_a_new_array():
    scores, labels = random_problem(4, 4)
    _, dscores = softmax_loss(scores, labels)
    assert not np.shares_memory(dscores, scores)


# --- bad input --------------------------------------------------------------------------

ALL_FNS = [*LOSSES, *SCORE_ONLY]
ALL_IDS = [*LOSS_IDS, "softmax", "log_softmax"]


def call(fn, scores, labels=(0,)):
    """Call a loss with labels, or softmax / log_softmax without."""
    if fn in SCORE_ONLY:
        return fn(scores)
    return fn(scores, labels)


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_one_dimensional_scores_raise(fn):
    with pytest.raises(ValueError, match="2-D"):
        call(fn, np.array([1.0, 2.0]))


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_three_dimensional_scores_raise(fn):
    with pytest.raises(ValueError, match="2-D"):
        call(fn, np.zeros((1, 2, 3)))


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_empty_batch_raises(fn):
    with pytest.raises(ValueError, match="empty"):
        call(fn, np.zeros((0, 3)), np.zeros(0, dtype=int))


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_zero_classes_raise(fn):
    with pytest.raises(ValueError, match="classes"):
        call(fn, np.zeros((2, 0)), np.zeros(2, dtype=int))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_non_finite_scores_raise(fn, bad):
    scores = np.zeros((2, 3))
    scores[1, 2] = bad  # not the label: a -inf there would otherwise vanish silently in exp
    with pytest.raises(ValueError, match="finite"):
        call(fn, scores, np.array([0, 0]))


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_text_scores_raise_type_error(fn):
    with pytest.raises(TypeError, match="scores"):
        call(fn, np.array([["a", "b"]]))


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_complex_scores_raise_type_error(fn):
    with pytest.raises(TypeError, match="real"):
        call(fn, np.ones((1, 2), dtype=complex))


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_boolean_scores_raise_type_error(fn):
    with pytest.raises(TypeError, match="scores"):
        call(fn, np.ones((1, 2), dtype=bool))


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_ragged_scores_raise(fn):
    with pytest.raises(ValueError, match="rectangular"):
        call(fn, [[1.0, 2.0], [3.0]], [0, 0])


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_float_labels_raise_type_error(loss_fn):
    with pytest.raises(TypeError, match="integer"):
        loss_fn(np.zeros((2, 3)), np.array([0.0, 1.0]))


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_boolean_labels_raise_type_error(loss_fn):
    with pytest.raises(TypeError, match="integer"):
        loss_fn(np.zeros((2, 3)), np.array([True, False]))


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_too_few_labels_raise(loss_fn):
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        loss_fn(np.zeros((3, 3)), np.array([0, 1]))


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_too_many_labels_raise(loss_fn):
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        loss_fn(np.zeros((2, 3)), np.array([0, 1, 2]))


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_two_dimensional_labels_raise(loss_fn):
    with pytest.raises(ValueError, match="shape"):
        loss_fn(np.zeros((2, 3)), np.array([[0], [1]]))


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_scalar_label_raises(loss_fn):
    with pytest.raises(ValueError, match="shape"):
        loss_fn(np.zeros((1, 3)), 0)


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_negative_label_raises(loss_fn):
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        loss_fn(np.zeros((2, 3)), np.array([0, -1]))


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_label_equal_to_class_count_raises(loss_fn):
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        loss_fn(np.zeros((2, 3)), np.array([3, 0]))


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_missing_labels_raise_type_error(loss_fn):
    with pytest.raises(TypeError, match="y must be an integer array"):
        loss_fn(np.zeros((2, 3)), None)


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_empty_labels_raise_a_shape_error(loss_fn):
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        loss_fn(np.zeros((2, 3)), [])


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_three_dimensional_labels_raise(loss_fn):
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        loss_fn(np.zeros((2, 3)), np.zeros((2, 1, 1), dtype=int))


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_labels_as_a_list_of_floats_raise_type_error(loss_fn):
    with pytest.raises(TypeError, match="y must be an integer"):
        loss_fn(np.zeros((2, 3)), [0.0, 1.0])


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_ragged_labels_raise(loss_fn):
    with pytest.raises(ValueError, match="y must be a 1-D"):
        loss_fn(np.zeros((2, 3)), [[0], [0, 1]])


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_text_labels_raise_type_error(loss_fn):
    with pytest.raises(TypeError, match="y must be an integer"):
        loss_fn(np.zeros((2, 3)), ["0", "1"])


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_labels_holding_none_raise_type_error(loss_fn):
    with pytest.raises(TypeError, match="y must be an integer"):
        loss_fn(np.zeros((2, 3)), [0, None])


@pytest.mark.parametrize("loss_fn", LOSSES, ids=LOSS_IDS)
def test_huge_unsigned_label_raises(loss_fn):
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        loss_fn(np.zeros((2, 3)), np.array([0, 2**64 - 1], dtype=np.uint64))


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_none_scores_raise_type_error(fn):
    with pytest.raises(TypeError, match="scores must be a real"):
        call(fn, None, [0])


@pytest.mark.parametrize("fn", ALL_FNS, ids=ALL_IDS)
def test_ragged_scores_nested_deeper_raise(fn):
    with pytest.raises(ValueError, match="rectangular"):
        call(fn, [[1.0, 2.0], [3.0, [4.0]]], [0, 0])


@pytest.mark.parametrize("flag", [1, "yes", None])
def test_staged_return_nodes_not_a_bool_raises_type_error(flag):
    with pytest.raises(TypeError, match="return_nodes"):
        softmax_loss_staged(np.zeros((2, 3)), [0, 1], return_nodes=flag)


# --- an outside reference, when PyTorch is installed (it is not a dependency) ------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_pytorch_cross_entropy(dtype):
    torch = pytest.importorskip("torch")
    scores, labels = random_problem(64, 10, seed=5, scale=5.0, dtype=dtype)
    scores[0, 0] = 1e4  # and one extreme score
    tensor = torch.tensor(scores, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(tensor, torch.tensor(labels))
    expected.backward()
    loss, dscores = softmax_loss(scores, labels)
    tol = 10 * np.finfo(dtype).eps
    np.testing.assert_allclose(loss, expected.item(), rtol=tol)
    np.testing.assert_allclose(dscores, tensor.grad.numpy(), atol=tol)


# --- the public MAX-node backward ---------------------------------------------------------------


def test_public_max_node_backward_routes_minus_the_row_sum_to_the_argmax():
    scores = np.array([[0.5, 2.0, -1.0], [3.0, 1.0, 3.0]])
    upstream = np.array([[1.0, 2.0, 3.0], [0.5, -0.25, 1.0]])
    routed = max_node_backward(upstream, scores)
    np.testing.assert_array_equal(routed, [[0.0, -6.0, 0.0], [-1.25, 0.0, 0.0]])


def test_public_max_node_backward_matches_finite_differences_of_the_shift():
    rng = np.random.default_rng(3)
    scores, upstream = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    shift = lambda x: x - x.max(axis=1, keepdims=True)  # noqa: E731
    numeric = numerical_gradient_array(shift, scores.copy(), upstream)
    np.testing.assert_allclose(upstream + max_node_backward(upstream, scores), numeric, atol=1e-9)


def test_public_max_node_backward_keeps_float32():
    scores = np.ones((2, 3), np.float32)
    assert max_node_backward(np.ones((2, 3), np.float32), scores).dtype == np.float32
    assert max_node_backward(np.ones((2, 3), np.int64), scores).dtype == np.float64


@pytest.mark.parametrize(
    ("dnormalized", "error", "word"),
    [
        (np.ones((2, 4)), ValueError, r"dnormalized must have shape \(2, 3\)"),
        (np.full((2, 3), "a"), TypeError, "dnormalized must be a real"),
        ([[1.0, 2.0, 3.0], [1.0]], ValueError, "dnormalized must be a rectangular"),
    ],
)
def test_public_max_node_backward_bad_upstream_raises(dnormalized, error, word):
    with pytest.raises(error, match=word):
        max_node_backward(dnormalized, np.zeros((2, 3)))


def test_public_max_node_backward_bad_scores_raise():
    with pytest.raises(ValueError, match="scores must be finite"):
        max_node_backward(np.ones((1, 2)), np.array([[np.nan, 1.0]]))


# --- masked arrays (issue 15) -----------------------------------------------------------------

# a masked 1e30: np.asarray drops the mask, and softmax gave the hidden entry probability 1
MASKED_SCORES = np.ma.masked_array([[1.0, 1e30, 0.5]], mask=[[False, True, False]])


@pytest.mark.parametrize("function", SCORE_ONLY, ids=["softmax", "log_softmax"])
def test_masked_scores_are_refused(function):
    with pytest.raises(TypeError, match="scores must not be a masked array"):
        function(MASKED_SCORES)


@pytest.mark.parametrize("loss", LOSSES, ids=LOSS_IDS)
def test_loss_refuses_masked_scores(loss):
    with pytest.raises(TypeError, match="scores must not be a masked array"):
        loss(MASKED_SCORES, np.array([0]))


@pytest.mark.parametrize("loss", LOSSES, ids=LOSS_IDS)
def test_loss_refuses_masked_labels(loss):
    labels = np.ma.masked_array([2, 0], mask=[True, False])
    with pytest.raises(TypeError, match="y must not be a masked array"):
        loss(np.zeros((2, 3)), labels)


def test_max_node_backward_refuses_masked_scores():
    with pytest.raises(TypeError, match="scores must not be a masked array"):
        max_node_backward(np.ones((1, 3)), MASKED_SCORES)


def test_max_node_backward_refuses_a_masked_upstream_gradient():
    with pytest.raises(TypeError, match="dnormalized must not be a masked array"):
        max_node_backward(np.ma.masked_array(np.ones((1, 3)), mask=True), np.zeros((1, 3)))
