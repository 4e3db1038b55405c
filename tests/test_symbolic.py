"""Tests of backprop_utils.symbolic: each SymPy result against the NumPy module."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop_utils import symbolic
from backprop_utils.gradcheck import numerical_gradient
from backprop_utils.softmax import softmax, softmax_loss

CLASS_COUNTS = range(2, 7)
SYMBOLS = symbolic.general_symbols()


def random_batch(n_samples: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.normal(scale=2.0, size=(n_samples, n_classes))
    labels = rng.integers(0, n_classes, size=n_samples)
    return scores, labels


def evaluate(expr, symbols, values: np.ndarray) -> np.ndarray:
    """Evaluate a SymPy expression or matrix at numbers, through lambdify."""
    function = sp.lambdify(list(symbols), expr, "numpy")
    return np.array(function(*np.ravel(values)), dtype=float)


# --- one sample ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_softmax_row_matches_numpy_softmax(n_classes):
    scores, _ = random_batch(1, n_classes, seed=n_classes)
    symbols = symbolic.score_symbols(n_classes)
    probs = [
        evaluate(symbolic.softmax_row(n_classes, y), symbols, scores)
        for y in range(1, n_classes + 1)
    ]
    np.testing.assert_allclose(probs, softmax(scores)[0], rtol=1e-12)


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_quotient_rule_equals_direct_derivative(n_classes):
    scores = symbolic.score_symbols(n_classes)
    for y in range(1, n_classes + 1):
        for j in range(1, n_classes + 1):
            rule = symbolic.softmax_quotient_rule(n_classes, y, j)
            direct = sp.diff(symbolic.softmax_row(n_classes, y), scores[j - 1])
            assert symbolic.is_zero(rule.quotient.doit() - direct)


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_quotient_rule_simplifies_to_closed_form(n_classes):
    for y in range(1, n_classes + 1):
        for j in range(1, n_classes + 1):
            rule = symbolic.softmax_quotient_rule(n_classes, y, j)
            closed_form = symbolic.expand_probs(rule.closed_form, n_classes)
            assert symbolic.is_zero(rule.quotient.doit() - closed_form)


def test_quotient_rule_prints_as_a_quotient():
    rule = symbolic.softmax_quotient_rule(3, 1, 2)
    assert isinstance(rule.quotient, sp.Mul)
    assert any(isinstance(factor, sp.Pow) and factor.exp == -1 for factor in rule.quotient.args)


def test_is_zero_rejects_a_non_zero_expression():
    rule = symbolic.softmax_quotient_rule(3, 1, 2)
    assert not symbolic.is_zero(
        rule.quotient.doit() - symbolic.expand_probs(rule.closed_form, 3) + 1
    )


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_quotient_rule_matches_numpy_jacobian(n_classes):
    scores, _ = random_batch(1, n_classes, seed=10 + n_classes)
    probs = softmax(scores)[0]
    jacobian = np.diag(probs) - np.outer(probs, probs)  # p_y (delta_yj - p_j)
    symbols = symbolic.score_symbols(n_classes)
    for y in range(1, n_classes + 1):
        for j in range(1, n_classes + 1):
            rule = symbolic.softmax_quotient_rule(n_classes, y, j)
            value = evaluate(rule.quotient.doit(), symbols, scores)
            np.testing.assert_allclose(value, jacobian[y - 1, j - 1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_sample_gradient_matches_softmax_loss(n_classes):
    scores, labels = random_batch(1, n_classes, seed=20 + n_classes)
    gradient = symbolic.sample_gradient(n_classes, int(labels[0]) + 1)
    value = evaluate(gradient, symbolic.score_symbols(n_classes), scores)
    np.testing.assert_allclose(value, softmax_loss(scores, labels)[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("n_classes", range(1, 7))
def test_row_gradient_sums_to_zero(n_classes):
    for y in range(1, n_classes + 1):
        assert symbolic.row_gradient_sum(n_classes, y) == 0


@pytest.mark.parametrize("n_classes", range(1, 7))
def test_max_node_gradient_is_zero(n_classes):
    for y in range(1, n_classes + 1):
        assert symbolic.is_zero(symbolic.max_node_gradient(n_classes, y))


def test_max_node_gradient_is_minus_the_row_sum():
    n_classes, y = 4, 2
    shift = {
        score: raw - SYMBOLS.m
        for score, raw in zip(
            symbolic.score_symbols(n_classes), symbolic.score_symbols(n_classes, True), strict=True
        )
    }
    row_sum = sum(symbolic.sample_gradient(n_classes, y)).xreplace(shift)
    assert symbolic.is_zero(symbolic.max_node_gradient(n_classes, y) + row_sum)
    assert not symbolic.is_zero(symbolic.max_node_gradient(n_classes, y) - 1)


# --- a batch ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_batch_gradient_simplifies_to_closed_form(n_classes):
    labels = [1 + i % n_classes for i in range(2)]
    closed_form = symbolic.batch_gradient_closed_form(2, n_classes, labels)
    gradient = symbolic.batch_gradient(2, n_classes, labels)
    assert symbolic.is_zero(gradient - symbolic.expand_probs(closed_form, n_classes))


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_raw_gradient_simplifies_to_closed_form(n_classes):
    labels, argmax = [1, n_classes], [n_classes, 1]
    closed_form = symbolic.batch_gradient_closed_form(2, n_classes, labels)
    gradient = symbolic.batch_gradient(2, n_classes, labels, argmax=argmax)
    assert symbolic.is_zero(gradient - symbolic.expand_probs(closed_form, n_classes, raw=True))


def test_raw_gradient_is_the_same_whichever_index_the_max_routes_to():
    gradients = [symbolic.batch_gradient(1, 4, [2], argmax=[k]) for k in range(1, 5)]
    for gradient in gradients[1:]:
        assert symbolic.is_zero(gradient - gradients[0])


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_batch_loss_and_gradient_match_softmax_loss(n_classes):
    scores, labels = random_batch(3, n_classes, seed=30 + n_classes)
    y = [int(label) + 1 for label in labels]
    symbols = symbolic.batch_scores(3, n_classes)
    loss = evaluate(symbolic.batch_loss(3, n_classes, y), symbols, scores)
    gradient = evaluate(symbolic.batch_gradient(3, n_classes, y), symbols, scores)
    expected_loss, expected_gradient = softmax_loss(scores, labels)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_raw_batch_gradient_matches_softmax_loss(n_classes):
    scores, labels = random_batch(3, n_classes, seed=40 + n_classes)
    y = [int(label) + 1 for label in labels]
    argmax = [int(k) + 1 for k in scores.argmax(axis=1)]
    symbols = symbolic.batch_scores(3, n_classes, raw=True)
    gradient = evaluate(symbolic.batch_gradient(3, n_classes, y, argmax), symbols, scores)
    np.testing.assert_allclose(gradient, softmax_loss(scores, labels)[1], rtol=1e-10, atol=1e-14)


# --- general C ----------------------------------------------------------------------------------


def test_general_quotient_rule_simplifies_to_closed_form():
    rule = symbolic.softmax_quotient_rule_general()
    assert symbolic.is_zero(rule.quotient.doit() - symbolic.expand_probs(rule.closed_form))


def test_general_quotient_rule_specialises_to_three_classes():
    rule = symbolic.softmax_quotient_rule_general()
    values = {SYMBOLS.C: 3, SYMBOLS.y: 1, SYMBOLS.j: 2}
    specialised = rule.quotient.doit().subs(values).doit()
    assert symbolic.is_zero(specialised - symbolic.softmax_quotient_rule(3, 1, 2).quotient.doit())


def test_general_batch_gradient_is_closed_form():
    s, p, y, i, j, N = (
        SYMBOLS.scores,
        SYMBOLS.probs,
        SYMBOLS.labels,
        SYMBOLS.i,
        SYMBOLS.j,
        SYMBOLS.N,
    )
    closed_form = (p[i, j] - sp.KroneckerDelta(j, y[i])) / N
    assert s[i, j] in symbolic.batch_gradient_general().atoms(sp.Indexed)
    assert symbolic.is_zero(symbolic.batch_gradient_general() - symbolic.expand_probs(closed_form))


def test_general_raw_gradient_has_no_max_term():
    raw = symbolic.batch_gradient_general(raw=True)
    normalized = symbolic.batch_gradient_general()
    as_raw = normalized.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == SYMBOLS.scores,
        lambda e: SYMBOLS.raw_scores[e.indices],
    )
    assert raw == as_raw
    assert not raw.has(SYMBOLS.argmax)


def test_general_row_sum_proof_ends_in_zero():
    steps = symbolic.row_sum_proof_general()
    assert steps[-1] == 0
    assert sorted(steps[-2].args) == [-1, 1]


def test_general_row_sum_proof_sums_the_gradient_over_the_classes():
    summed = symbolic.row_sum_proof_general()[1]
    assert isinstance(summed, sp.Sum)
    assert tuple(summed.limits[0]) == (SYMBOLS.j, 1, SYMBOLS.C)


# --- the lambdified loss ------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_lambdified_loss_matches_softmax_loss(n_classes):
    scores, labels = random_batch(7, n_classes, seed=50 + n_classes)
    loss, dscores = symbolic.lambdify_softmax_loss(n_classes)(scores, labels)
    expected_loss, expected_dscores = softmax_loss(scores, labels)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    np.testing.assert_allclose(dscores, expected_dscores, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_lambdified_gradient_matches_finite_differences(n_classes):
    scores, labels = random_batch(4, n_classes, seed=60 + n_classes)
    loss_and_gradient = symbolic.lambdify_softmax_loss(n_classes)
    numeric = numerical_gradient(lambda x: loss_and_gradient(x, labels)[0], scores.copy())
    np.testing.assert_allclose(loss_and_gradient(scores, labels)[1], numeric, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda n_classes: st.tuples(
            arrays(np.float64, (3, n_classes), elements=st.floats(-1e4, 1e4)),
            arrays(np.int64, (3,), elements=st.integers(0, n_classes - 1)),
        )
    )
)
def test_lambdified_loss_matches_softmax_loss_for_any_finite_scores(batch):
    scores, labels = batch
    loss, dscores = symbolic.lambdify_softmax_loss(scores.shape[1])(scores, labels)
    expected_loss, expected_dscores = softmax_loss(scores, labels)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dscores, expected_dscores, rtol=1e-9, atol=1e-12)


def test_lambdified_rows_of_the_gradient_sum_to_zero():
    scores, labels = random_batch(20, 5, seed=70)
    dscores = symbolic.lambdify_softmax_loss(5)(scores, labels)[1]
    np.testing.assert_allclose(dscores.sum(axis=1), 0.0, atol=1e-15)


def test_lambdified_loss_keeps_float32():
    scores, labels = random_batch(4, 3, seed=80)
    dscores = symbolic.lambdify_softmax_loss(3)(scores.astype(np.float32), labels)[1]
    assert dscores.dtype == np.float32


def test_lambdified_loss_does_not_modify_its_inputs():
    scores, labels = random_batch(4, 3, seed=90)
    scores_before, labels_before = scores.copy(), labels.copy()
    symbolic.lambdify_softmax_loss(3)(scores, labels)
    np.testing.assert_array_equal(scores, scores_before)
    np.testing.assert_array_equal(labels, labels_before)


def test_results_are_immutable():
    gradient = symbolic.batch_gradient(1, 2, [1])
    with pytest.raises(TypeError):
        gradient[0, 0] = 0


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -3])
def test_class_count_below_one_is_rejected(bad):
    with pytest.raises(ValueError, match="C must be >= 1"):
        symbolic.score_symbols(bad)


@pytest.mark.parametrize("bad", [3.0, "3", True, None])
def test_class_count_that_is_not_an_int_is_rejected(bad):
    with pytest.raises(TypeError, match="C must be an int"):
        symbolic.softmax_row(bad, 1)


def test_float_class_count_is_rejected_by_the_cached_lambdify():
    symbolic.lambdify_softmax_loss(3)
    with pytest.raises(TypeError, match="C must be an int"):
        symbolic.lambdify_softmax_loss(3.0)


def test_sample_count_below_one_is_rejected():
    with pytest.raises(ValueError, match="N must be >= 1"):
        symbolic.batch_scores(0, 3)


@pytest.mark.parametrize("bad", [0, 4])
def test_class_index_outside_one_to_c_is_rejected(bad):
    with pytest.raises(ValueError, match="class index"):
        symbolic.softmax_quotient_rule(3, 1, bad)


def test_class_index_that_is_not_an_int_is_rejected():
    with pytest.raises(TypeError, match="y must hold ints"):
        symbolic.sample_loss(3, 1.0)


def test_labels_of_the_wrong_length_are_rejected():
    with pytest.raises(ValueError, match="N = 2"):
        symbolic.batch_loss(2, 3, [1])


def test_labels_that_are_not_a_sequence_are_rejected():
    with pytest.raises(TypeError, match="sequence"):
        symbolic.batch_gradient(2, 3, 1)


def test_argmax_outside_one_to_c_is_rejected():
    with pytest.raises(ValueError, match="argmax"):
        symbolic.batch_gradient(1, 3, [1], argmax=[0])


def test_lambdified_loss_rejects_scores_of_the_wrong_width():
    with pytest.raises(ValueError, match="shape"):
        symbolic.lambdify_softmax_loss(3)(np.zeros((2, 4)), np.array([0, 1]))


def test_lambdified_loss_rejects_scores_that_are_not_an_array():
    with pytest.raises(TypeError, match="scores"):
        symbolic.lambdify_softmax_loss(3)([[0.0, 1.0, 2.0]], np.array([0]))


def test_lambdified_loss_rejects_non_finite_scores():
    with pytest.raises(ValueError, match="finite"):
        symbolic.lambdify_softmax_loss(2)(np.array([[0.0, np.nan]]), np.array([0]))


def test_lambdified_loss_rejects_float_labels():
    with pytest.raises(TypeError, match="integer"):
        symbolic.lambdify_softmax_loss(2)(np.zeros((1, 2)), np.array([0.0]))


def test_lambdified_loss_rejects_labels_outside_zero_to_c():
    with pytest.raises(ValueError, match="0..C-1"):
        symbolic.lambdify_softmax_loss(2)(np.zeros((1, 2)), np.array([2]))


def test_lambdified_loss_rejects_labels_of_the_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        symbolic.lambdify_softmax_loss(2)(np.zeros((2, 2)), np.array([0]))


# --- the general (symbolic N and C) results, put to numbers -------------------------------------


def evaluate_general(expr, n_samples: int, n_classes: int, values: dict) -> float:
    """Set N and C, expand the sums, then put in labels and positions, then scores."""
    expr = expr.subs({SYMBOLS.N: n_samples, SYMBOLS.C: n_classes}).doit()
    indices = {key: value for key, value in values.items() if key.base != SYMBOLS.scores}
    indices = {key: value for key, value in indices.items() if key.base != SYMBOLS.raw_scores}
    return float(expr.subs(indices).doit().subs(values))


@pytest.mark.parametrize("raw", [False, True], ids=["normalized", "raw"])
@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_general_batch_gradient_matches_softmax_loss(n_classes, raw):
    n_samples = 3
    scores, labels = random_batch(n_samples, n_classes, seed=10 + n_classes)
    _, dscores = softmax_loss(scores, labels)
    base = SYMBOLS.raw_scores if raw else SYMBOLS.scores
    values = {base[i + 1, j + 1]: scores[i, j] for i in range(n_samples) for j in range(n_classes)}
    for i in range(n_samples):  # SymPy counts from 1
        values[SYMBOLS.labels[i + 1]] = int(labels[i]) + 1
        values[SYMBOLS.argmax[i + 1]] = int(scores[i].argmax()) + 1
    gradient = symbolic.batch_gradient_general(raw=raw)
    derived = [
        [
            evaluate_general(
                gradient.subs({SYMBOLS.i: i + 1, SYMBOLS.j: j + 1}), 3, n_classes, values
            )
            for j in range(n_classes)
        ]
        for i in range(n_samples)
    ]
    np.testing.assert_allclose(derived, dscores, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_general_quotient_rule_matches_the_softmax_jacobian(n_classes):
    scores, _ = random_batch(1, n_classes, seed=20 + n_classes)
    probs = softmax(scores)[0]
    jacobian = np.diag(probs) - np.outer(probs, probs)  # d p_y / d s_j, rows y
    quotient = symbolic.softmax_quotient_rule_general().quotient
    values = {SYMBOLS.scores[j + 1]: scores[0, j] for j in range(n_classes)}
    for y in range(n_classes):
        for j in range(n_classes):
            expr = quotient.subs({SYMBOLS.y: y + 1, SYMBOLS.j: j + 1})
            derived = evaluate_general(expr, 1, n_classes, values)
            assert derived == pytest.approx(jacobian[y, j], rel=1e-12, abs=1e-15)


# --- the edges of issue 15 ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lambdified_loss_with_one_class_is_zero_with_a_zero_gradient(dtype):
    # C = 1 is allowed; every piece of the derivation is a constant, and np.stack raised AxisError
    scores = np.array([[3.0], [-2.0], [1e30]]).astype(dtype)
    loss, dscores = symbolic.lambdify_softmax_loss(1)(scores, np.zeros(3, dtype=int))
    expected_loss, expected_dscores = softmax_loss(scores, np.zeros(3, dtype=int))
    assert loss == expected_loss == 0.0
    np.testing.assert_array_equal(dscores, expected_dscores)
    assert dscores.shape == (3, 1) and dscores.dtype == dtype


def test_derivations_with_one_class_are_zero():
    assert symbolic.sample_gradient(1, 1) == sp.ImmutableMatrix([[0]])
    assert symbolic.row_gradient_sum(1, 1) == 0
    assert symbolic.is_zero(symbolic.max_node_gradient(1, 1))
    assert symbolic.batch_gradient(2, 1, [1, 1], argmax=[1, 1]) == sp.zeros(2, 1)


def test_lambdified_loss_refuses_masked_scores():
    scores = np.ma.masked_array([[1.0, 1e30]], mask=[[False, True]])
    with pytest.raises(TypeError, match="scores must not be a masked array"):
        symbolic.lambdify_softmax_loss(2)(scores, np.array([0]))


def test_lambdified_loss_refuses_masked_labels():
    labels = np.ma.masked_array([1, 0], mask=[True, False])
    with pytest.raises(TypeError, match="y must not be a masked array"):
        symbolic.lambdify_softmax_loss(2)(np.zeros((2, 2)), labels)


def test_lambdified_loss_refuses_ragged_labels():
    # np.asarray's own error: "setting an array element with a sequence ... inhomogeneous"
    with pytest.raises(ValueError, match=r"y must be a rectangular array of shape \(N,\)"):
        symbolic.lambdify_softmax_loss(2)(np.zeros((2, 2)), [[0], [1, 0]])


def test_class_indices_in_a_masked_array_are_refused():
    with pytest.raises(TypeError, match="y must not be a masked array"):
        symbolic.batch_loss(2, 3, np.ma.masked_array([1, 2], mask=[False, True]))
