"""Tests of backprop_utils.graphs: the softmax-loss graphs, the batch-norm graph and seeded roots,
against backprop_utils.softmax and backprop_utils.batchnorm, and their bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils.batchnorm import batchnorm_backward, batchnorm_forward
from backprop_utils.engine import Value, topological_order
from backprop_utils.graphs import (
    batchnorm_graph,
    normalized_score_graph,
    seeded_root,
    softmax_loss_graph,
    subgraph,
)
from backprop_utils.layout import layered_layout
from backprop_utils.softmax import softmax_loss


def test_normalized_score_is_raw_score_minus_row_max_and_its_gradients():
    row = [1.0, 3.0, -0.5]
    score, raw_scores = normalized_score_graph(row, 0)
    score.backward()
    assert score.data == 1.0 - 3.0
    assert [leaf.grad for leaf in raw_scores] == [1.0, -1.0, 0.0]


def test_normalized_score_of_the_largest_entry_has_zero_gradient_to_it():
    score, raw_scores = normalized_score_graph([1.0, 3.0, -0.5], 1)
    score.backward()
    assert score.data == 0.0
    assert [leaf.grad for leaf in raw_scores] == [0.0, 0.0, 0.0]


def test_normalized_score_graph_labels_use_one_based_indices():
    score, raw_scores = normalized_score_graph([0.0, 1.0, 2.0], 2, sample=1)
    assert score.label == "$s_{23}$"
    assert [leaf.label for leaf in raw_scores] == ["$s^*_{21}$", "$s^*_{22}$", "$s^*_{23}$"]


@pytest.mark.parametrize(("n_samples", "n_classes", "seed"), [(2, 3, 0), (4, 5, 1), (3, 3, 2)])
def test_loss_graph_backward_matches_softmax_loss(n_samples, n_classes, seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(scale=3.0, size=(n_samples, n_classes))
    y = rng.integers(0, n_classes, size=n_samples)
    loss, raw_scores = softmax_loss_graph(scores, y)
    loss.backward()
    expected_loss, expected_dscores = softmax_loss(scores, y)
    dscores = np.array([[leaf.grad for leaf in row] for row in raw_scores])
    np.testing.assert_allclose(loss.data, expected_loss, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dscores, expected_dscores, rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_samples=st.integers(1, 4), n_classes=st.integers(1, 5))
def test_loss_graph_matches_softmax_loss_for_any_shape(seed, n_samples, n_classes):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(-20, 20, size=(n_samples, n_classes))
    y = rng.integers(0, n_classes, size=n_samples)
    loss, raw_scores = softmax_loss_graph(scores, y)
    loss.backward()
    expected_loss, expected_dscores = softmax_loss(scores, y)
    dscores = np.array([[leaf.grad for leaf in row] for row in raw_scores])
    np.testing.assert_allclose(loss.data, expected_loss, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dscores, expected_dscores, rtol=0, atol=1e-12)


def test_loss_graph_of_two_samples_and_three_classes_has_thirty_nodes():
    loss, _ = softmax_loss_graph(np.zeros((2, 3)), np.array([0, 2]))
    assert len(topological_order(loss)) == 30


def test_loss_graph_does_not_modify_its_inputs():
    scores = np.arange(6.0).reshape(2, 3)
    y = np.array([1, 2])
    softmax_loss_graph(scores, y)
    np.testing.assert_array_equal(scores, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(y, [1, 2])


def test_loss_graph_accepts_integer_scores():
    loss, _ = softmax_loss_graph([[1, 2, 3]], [2])
    assert loss.data == pytest.approx(float(softmax_loss(np.array([[1.0, 2, 3]]), [2])[0]))


def random_batch(seed, n_samples):
    """A seeded feature column x, scale, shift and upstream gradient."""
    rng = np.random.default_rng(seed)
    x, dout = rng.normal(2.0, 3.0, size=n_samples), rng.normal(size=n_samples)
    gamma, beta = rng.normal(), rng.normal()
    return x, gamma, beta, dout


def staged_backward(graph):
    """Backpropagate a cut batch-norm graph stage by stage, from the output back."""
    graph.loss.backward()
    seeded_root([graph.inv_std], [graph.inv_std_in.grad]).backward()
    stage_1_grads = [graph.var_in.grad] + [c.grad for c in graph.centered_in]
    seeded_root([graph.var, *graph.centered], stage_1_grads).backward()


def leaf_grads(graph):
    """(dx, dgamma, dbeta) read off the leaves of a batch-norm graph."""
    return np.array([leaf.grad for leaf in graph.x]), graph.gamma.grad, graph.beta.grad


@pytest.mark.parametrize("cut", [True, False])
@pytest.mark.parametrize(("n_samples", "seed"), [(3, 0), (2, 1), (5, 2), (8, 3)])
def test_batchnorm_graph_forward_matches_batchnorm_forward(n_samples, seed, cut):
    x, gamma, beta, dout = random_batch(seed, n_samples)
    graph = batchnorm_graph(x, gamma, beta, dout, eps=1e-5, cut=cut)
    out, cache = batchnorm_forward(x[:, None], [gamma], [beta], eps=1e-5)
    statistics = [graph.mean.data, graph.var.data, graph.inv_std.data]
    expected = [cache.mean[0], cache.var[0], cache.inv_std[0]]
    np.testing.assert_allclose(statistics, expected, rtol=1e-12)
    np.testing.assert_allclose([y.data for y in graph.out], out[:, 0], rtol=1e-12, atol=1e-12)
    assert graph.loss.data == pytest.approx(float(dout @ out[:, 0]), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("n_samples", "seed"), [(3, 0), (2, 1), (5, 2), (8, 3)])
def test_staged_backward_of_the_cut_graph_matches_batchnorm_backward(n_samples, seed):
    x, gamma, beta, dout = random_batch(seed, n_samples)
    graph = batchnorm_graph(x, gamma, beta, dout)
    staged_backward(graph)
    _, cache = batchnorm_forward(x[:, None], [gamma], [beta])
    dx, dgamma, dbeta = batchnorm_backward(dout[:, None], cache)
    grads = leaf_grads(graph)
    np.testing.assert_allclose(grads[0], dx[:, 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[1:], [dgamma[0], dbeta[0]], rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_samples=st.integers(2, 7))
def test_uncut_graph_backward_matches_batchnorm_backward_and_the_staged_backward(seed, n_samples):
    x, gamma, beta, dout = random_batch(seed, n_samples)
    whole = batchnorm_graph(x, gamma, beta, dout, cut=False)
    whole.loss.backward()
    staged = batchnorm_graph(x, gamma, beta, dout)
    staged_backward(staged)
    _, cache = batchnorm_forward(x[:, None], [gamma], [beta])
    dx, dgamma, dbeta = batchnorm_backward(dout[:, None], cache)
    whole_grads, staged_grads = leaf_grads(whole), leaf_grads(staged)
    np.testing.assert_allclose(whole_grads[0], dx[:, 0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(whole_grads[1:], [dgamma[0], dbeta[0]], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(staged_grads[0], whole_grads[0], rtol=1e-12, atol=1e-14)


def test_cut_graph_enters_each_stage_through_new_leaves_with_the_same_values():
    graph = batchnorm_graph([1.0, 2.5, 6.0], 1.5, 0.5, [0.5, -1.0, 0.8])
    crossings = [(graph.var, graph.var_in), (graph.inv_std, graph.inv_std_in)]
    crossings += list(zip(graph.centered, graph.centered_in, strict=True))
    for node, leaf in crossings:
        assert leaf is not node and leaf.parents == ()
        assert (leaf.data, leaf.label) == (node.data, node.label)
    stage_3 = {id(node) for node in topological_order(graph.loss)}
    assert not any(id(x_k) in stage_3 for x_k in graph.x)


def test_uncut_graph_is_one_piece_in_which_every_output_depends_on_every_input():
    graph = batchnorm_graph([1.0, 2.5, 6.0], 1.5, 0.5, [0.5, -1.0, 0.8], cut=False)
    assert graph.var_in is graph.var and graph.inv_std_in is graph.inv_std
    assert all(a is b for a, b in zip(graph.centered_in, graph.centered, strict=True))
    for y in graph.out:
        ancestors = {id(node) for node in topological_order(y)}
        assert all(id(x_k) in ancestors for x_k in graph.x)


def test_uncut_graph_of_three_samples_is_fifteen_layers_deep():
    graph = batchnorm_graph([1.0, 2.5, 6.0], 1.5, 0.5, [0.5, -1.0, 0.8], cut=False)
    assert max(layered_layout(graph.loss).layers.values()) + 1 == 15


def test_uncut_graph_runs_through_thirteen_nodes_from_an_input_to_an_output():
    graph = batchnorm_graph([1.0, 2.5, 6.0], 1.5, 0.5, [0.5, -1.0, 0.8], cut=False)
    layers = layered_layout(graph.loss).layers
    assert {layers[x_k] for x_k in graph.x} == {0}
    assert {layers[y_k] for y_k in graph.out} == {12}  # the loss adds a product and a sum


def test_inverse_standard_deviation_is_one_over_a_square_root():
    graph = batchnorm_graph([1.0, 2.5, 6.0], 1.5, 0.5, [0.5, -1.0, 0.8], eps=0.25)
    assert graph.std.op == "sqrt" and graph.inv_std.op == "/"
    assert graph.std.data == math.sqrt(graph.var.data + 0.25)
    assert graph.inv_std.data == 1 / graph.std.data
    assert graph.stage_roots == (graph.var, graph.inv_std, graph.loss)


def test_constant_feature_gives_beta_and_finite_gradients():
    graph = batchnorm_graph([2.0, 2.0, 2.0], 3.0, 0.25, [1.0, -2.0, 0.5], cut=False)
    graph.loss.backward()
    assert [y.data for y in graph.out] == [0.25, 0.25, 0.25]
    assert all(math.isfinite(x_k.grad) for x_k in graph.x)


def test_batchnorm_graph_does_not_modify_its_inputs():
    x, dout = np.array([1.0, 2.5, 6.0]), np.array([0.5, -1.0, 0.8])
    batchnorm_graph(x, 1.5, 0.5, dout)
    np.testing.assert_array_equal(x, [1.0, 2.5, 6.0])
    np.testing.assert_array_equal(dout, [0.5, -1.0, 0.8])


def test_batchnorm_graph_accepts_integers():
    graph = batchnorm_graph([1, 3, 8], 2, 0, [1, 0, -1])
    assert graph.mean.data == 4.0 and graph.x[0].data == 1.0


def test_seeded_root_gives_each_seeded_node_its_gradient():
    a, b = Value(2.0), Value(-3.0)
    first, second = a.exp(), a * b
    root = seeded_root([first, second], [0.5, -4.0])
    root.backward()
    assert (first.grad, second.grad) == (0.5, -4.0)
    assert a.grad == pytest.approx(0.5 * math.exp(2.0) - 4.0 * b.data)
    assert b.grad == -4.0 * a.data
    assert root.label == r"$\tilde L$"


def test_seeded_node_that_feeds_another_seeded_node_gets_both_gradients():
    a = Value(3.0)
    square = a * a
    seeded_root([a, square], [1.0, 2.0]).backward()
    assert a.grad == 1.0 + 2.0 * 6.0


def test_normalized_score_graph_rejects_a_column_out_of_range():
    with pytest.raises(ValueError, match="j must"):
        normalized_score_graph([1.0, 2.0, 3.0], 3)


def test_normalized_score_graph_rejects_a_float_column():
    with pytest.raises(TypeError, match="j must be an int"):
        normalized_score_graph([1.0, 2.0, 3.0], 1.0)


def test_normalized_score_graph_rejects_a_matrix():
    with pytest.raises(ValueError, match="shape"):
        normalized_score_graph([[1.0, 2.0, 3.0]], 0)


def test_normalized_score_graph_rejects_strings():
    with pytest.raises(TypeError, match="raw_scores_row"):
        normalized_score_graph(["a", "b"], 0)


def test_normalized_score_graph_rejects_infinity():
    with pytest.raises(ValueError, match="finite"):
        normalized_score_graph([1.0, np.inf], 0)


def test_loss_graph_rejects_one_dimensional_scores():
    with pytest.raises(ValueError, match="scores"):
        softmax_loss_graph(np.zeros(3), np.array([0]))


def test_loss_graph_rejects_a_label_per_class_instead_of_per_sample():
    with pytest.raises(ValueError, match="y must have shape"):
        softmax_loss_graph(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_loss_graph_rejects_float_labels():
    with pytest.raises(TypeError, match="y"):
        softmax_loss_graph(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_loss_graph_rejects_a_label_out_of_range():
    with pytest.raises(ValueError, match="0..C-1"):
        softmax_loss_graph(np.zeros((2, 3)), np.array([0, 3]))


def test_loss_graph_rejects_nan_scores():
    with pytest.raises(ValueError, match="finite"):
        softmax_loss_graph(np.array([[0.0, np.nan]]), np.array([0]))


def test_batchnorm_graph_rejects_a_matrix():
    with pytest.raises(ValueError, match="x must have shape"):
        batchnorm_graph(np.ones((3, 2)), 1.0, 0.0, np.ones((3, 2)))


def test_batchnorm_graph_rejects_a_single_sample():
    with pytest.raises(ValueError, match="N >= 2"):
        batchnorm_graph([1.0], 1.0, 0.0, [1.0])


def test_batchnorm_graph_rejects_dout_of_another_length():
    with pytest.raises(ValueError, match="dout must have the shape of x"):
        batchnorm_graph([1.0, 2.0, 3.0], 1.0, 0.0, [1.0, 2.0])


def test_batchnorm_graph_rejects_strings():
    with pytest.raises(TypeError, match="x must hold real numbers"):
        batchnorm_graph(["1", "2"], 1.0, 0.0, [1.0, 2.0])


def test_batchnorm_graph_rejects_a_ragged_list():
    with pytest.raises(ValueError, match="x must be a rectangular array, not ragged"):
        batchnorm_graph([1.0, [2.0, 3.0]], 1.0, 0.0, [1.0, 2.0])


def test_batchnorm_graph_rejects_nan_in_x():
    with pytest.raises(ValueError, match="x must be finite"):
        batchnorm_graph([1.0, np.nan], 1.0, 0.0, [1.0, 2.0])


def test_batchnorm_graph_rejects_infinity_in_dout():
    with pytest.raises(ValueError, match="dout must be finite"):
        batchnorm_graph([1.0, 2.0], 1.0, 0.0, [np.inf, 2.0])


def test_batchnorm_graph_rejects_an_array_for_gamma():
    with pytest.raises(TypeError, match="gamma"):
        batchnorm_graph([1.0, 2.0], np.array([1.0]), 0.0, [1.0, 2.0])


def test_batchnorm_graph_rejects_a_nan_beta():
    with pytest.raises(ValueError, match="beta"):
        batchnorm_graph([1.0, 2.0], 1.0, float("nan"), [1.0, 2.0])


def test_batchnorm_graph_rejects_zero_eps():
    with pytest.raises(ValueError, match="eps must be > 0"):
        batchnorm_graph([1.0, 2.0], 1.0, 0.0, [1.0, 2.0], eps=0.0)


def test_batchnorm_graph_rejects_a_cut_that_is_not_a_bool():
    with pytest.raises(TypeError, match="cut"):
        batchnorm_graph([1.0, 2.0], 1.0, 0.0, [1.0, 2.0], cut="yes")


def test_seeded_root_rejects_a_single_value_for_nodes():
    with pytest.raises(TypeError, match="nodes must be a list"):
        seeded_root(Value(1.0), [1.0])


def test_seeded_root_rejects_no_nodes():
    with pytest.raises(ValueError, match="at least one"):
        seeded_root([], [])


def test_seeded_root_rejects_one_gradient_too_few():
    with pytest.raises(ValueError, match="one gradient per node"):
        seeded_root([Value(1.0), Value(2.0)], [1.0])


def test_seeded_root_rejects_a_number_as_a_node():
    with pytest.raises(TypeError, match="each node"):
        seeded_root([1.0], [1.0])


def test_seeded_root_rejects_a_nan_gradient():
    with pytest.raises(ValueError, match="finite"):
        seeded_root([Value(1.0)], [float("nan")])


# Ragged lists, masked arrays, huge ints and overflow: errors that name the argument ----------


def test_loss_graph_rejects_ragged_scores():
    with pytest.raises(ValueError, match="scores must be a rectangular array, not ragged"):
        softmax_loss_graph([[1.0, 2.0, 3.0], [4.0, 5.0]], [0, 1])


def test_loss_graph_rejects_ragged_labels():
    with pytest.raises(ValueError, match="y must be a rectangular array, not ragged"):
        softmax_loss_graph(np.zeros((2, 3)), [[0], [1, 2]])


def test_normalized_score_graph_rejects_a_ragged_row():
    with pytest.raises(ValueError, match="raw_scores_row must be a rectangular array"):
        normalized_score_graph([1.0, [2.0, 3.0]], 0)


def test_loss_graph_rejects_masked_scores():
    scores = np.ma.masked_array([[0.0, 1e30, 1.0]], mask=[[False, True, False]])
    with pytest.raises(TypeError, match="scores must not be a masked array"):
        softmax_loss_graph(scores, [0])


def test_loss_graph_rejects_masked_labels():
    with pytest.raises(TypeError, match="y must not be a masked array"):
        softmax_loss_graph(np.zeros((1, 3)), np.ma.masked_array([0], mask=[True]))


def test_normalized_score_graph_rejects_a_masked_row():
    row = np.ma.masked_array([0.0, 1e30, 1.0], mask=[False, True, False])
    with pytest.raises(TypeError, match="raw_scores_row must not be a masked array"):
        normalized_score_graph(row, 0)


def test_batchnorm_graph_rejects_a_masked_x():
    x = np.ma.masked_array([1.0, 2.0, 1e30], mask=[False, False, True])
    with pytest.raises(TypeError, match="x must not be a masked array"):
        batchnorm_graph(x, 1.0, 0.0, [1.0, 1.0, 1.0])


def test_batchnorm_graph_rejects_a_masked_dout():
    dout = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    with pytest.raises(TypeError, match="dout must not be a masked array"):
        batchnorm_graph([1.0, 2.0, 3.0], 1.0, 0.0, dout)


def test_seeded_root_rejects_masked_grads():
    grads = np.ma.masked_array([1.0, 2.0], mask=[False, True])
    with pytest.raises(TypeError, match="grads must not be a masked array"):
        seeded_root([Value(1.0), Value(2.0)], grads)


def test_loss_graph_accepts_python_ints_beyond_int64():
    loss, _ = softmax_loss_graph([[2**70, 2**70, 0]], [1])  # np.asarray makes dtype object
    assert loss.data == pytest.approx(math.log(2.0), rel=1e-15)


def test_batchnorm_graph_rejects_an_int_too_large_for_a_float_in_x():
    with pytest.raises(ValueError, match="x holds an int too large for float64"):
        batchnorm_graph([10**400, 1, 2], 1.0, 0.0, [1.0, 1.0, 1.0])


def test_batchnorm_graph_rejects_an_int_too_large_for_a_float_as_gamma():
    with pytest.raises(ValueError, match="gamma must be finite in float64"):
        batchnorm_graph([1.0, 2.0], 10**400, 0.0, [1.0, 1.0])


def test_loss_graph_names_scores_when_a_row_is_too_spread_for_float64():
    with pytest.raises(ValueError, match="^scores: a node of the graph leaves float64's range"):
        softmax_loss_graph([[1e308, -1e308, 0.0]], [0])


def test_loss_graph_names_scores_when_the_probability_of_the_label_underflows():
    with pytest.raises(ValueError, match="^scores: .*log needs a positive input"):
        softmax_loss_graph([[0.0, 800.0]], [0])


def test_normalized_score_graph_names_the_row_when_it_is_too_spread_for_float64():
    with pytest.raises(ValueError, match="^raw_scores_row: a node of the graph leaves"):
        normalized_score_graph([-1e308, 1e308], 0)


def test_batchnorm_graph_names_its_arguments_when_a_node_overflows():
    with pytest.raises(ValueError, match="^x, gamma, beta, dout or eps: .*'\\*'"):
        batchnorm_graph([1e200, -1e200, 0.0], 1.0, 0.0, [1.0, 1.0, 1.0])


def test_seeded_root_names_grads_when_a_seed_overflows():
    with pytest.raises(ValueError, match="^grads: a node of the graph leaves"):
        seeded_root([Value(1e200)], [1e200])


def _bn_whole_graph():
    graph = batchnorm_graph([1.0, 2.5, 6.0], 1.5, 0.5, [0.5, -1.0, 0.8], 1e-5, cut=False)
    graph.loss.backward()
    return graph


def test_subgraph_copies_the_nodes_between_starts_and_ends_with_their_grads():
    graph = _bn_whole_graph()
    root = subgraph([graph.var], graph.centered)
    assert root.grad == 1.0 and len(root.parents) == 1
    (var_copy,) = root.parents
    assert var_copy is not graph.var
    assert (var_copy.data, var_copy.grad, var_copy.op) == (
        graph.var.data,
        graph.var.grad,
        graph.var.op,
    )
    leaves = [node for node in topological_order(root) if not node.parents]
    copied_starts = [leaf for leaf in leaves if leaf.label in {c.label for c in graph.centered}]
    assert [leaf.grad for leaf in copied_starts] == [c.grad for c in graph.centered]
    assert all(leaf.op == "" for leaf in copied_starts)


def test_subgraph_stops_at_its_starts():
    graph = _bn_whole_graph()
    labels = {node.label for node in topological_order(subgraph([graph.var], graph.centered))}
    assert not labels & {x.label for x in graph.x}
    assert graph.mean.label not in labels


def test_subgraph_leaves_the_original_graph_unchanged():
    graph = _bn_whole_graph()
    before = [(node.data, node.grad, node.parents) for node in topological_order(graph.loss)]
    subgraph(graph.xhat, [*graph.centered, graph.inv_std])
    after = [(node.data, node.grad, node.parents) for node in topological_order(graph.loss)]
    assert before == after


def test_subgraph_rejects_no_ends():
    with pytest.raises(ValueError, match="ends"):
        subgraph([])


def test_subgraph_rejects_ends_that_are_not_values():
    with pytest.raises(TypeError, match="ends"):
        subgraph([1.0])
