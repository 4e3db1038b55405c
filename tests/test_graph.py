"""Tests of backprop_utils.graph: gates, backward, layout, drawing, the softmax-loss graphs and
the batch-norm graph."""

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from backprop_utils.batchnorm import batchnorm_backward, batchnorm_forward
from backprop_utils.graph import (
    Value,
    batchnorm_graph,
    draw,
    draw_stages,
    layered_layout,
    normalized_score_graph,
    seeded_root,
    softmax_loss_graph,
    topological_order,
    vmax,
    vsum,
)
from backprop_utils.softmax import softmax_loss


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def centred_difference(f, inputs, k, h=1e-6):
    """d f / d inputs[k] by centred differences on plain floats."""
    plus, minus = list(inputs), list(inputs)
    plus[k] += h
    minus[k] -= h
    return (f(*plus) - f(*minus)) / (2 * h)


def patches_with_gid(ax, gid):
    return [patch for patch in ax.patches if patch.get_gid() == gid]


def count_edges(root):
    return sum(len(node.parents) for node in topological_order(root))


# Each gate: (build from Values, the same function on floats, inputs).
GATES = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, (1.5, -2.25)),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, (1.5, -2.25)),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, (1.5, -2.25)),
    "div": (lambda a, b: a / b, lambda a, b: a / b, (1.5, -2.25)),
    "neg": (lambda a: -a, lambda a: -a, (0.75,)),
    "exp": (lambda a: a.exp(), math.exp, (0.75,)),
    "log": (lambda a: a.log(), math.log, (0.75,)),
    "sqrt": (lambda a: a.sqrt(), math.sqrt, (0.75,)),
    "max": (lambda a, b, c: vmax(a, b, c), max, (0.5, 2.0, -1.0)),
    "vsum": (lambda a, b, c: vsum(a, b, c), lambda a, b, c: a + b + c, (0.5, 2.0, -1.0)),
}


# Gates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GATES))
def test_gate_forward_value_matches_float_arithmetic(name):
    build, on_floats, inputs = GATES[name]
    out = build(*(Value(x) for x in inputs))
    assert out.data == pytest.approx(on_floats(*inputs), rel=1e-15)


@pytest.mark.parametrize("name", sorted(GATES))
def test_gate_local_gradient_matches_finite_differences(name):
    build, on_floats, inputs = GATES[name]
    leaves = [Value(x) for x in inputs]
    build(*leaves).backward()
    for k, leaf in enumerate(leaves):
        numeric = centred_difference(on_floats, inputs, k)
        assert leaf.grad == pytest.approx(numeric, rel=1e-7, abs=1e-9), (name, k)


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(-5, 5, allow_subnormal=False),
    b=st.floats(0.5, 5, allow_subnormal=False),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_composite_gradient_matches_finite_differences(a, b, sign):
    def on_floats(a, b):
        return math.log(math.exp(a) + b * b) / (sign * b) - a * b

    leaf_a, leaf_b = Value(a), Value(b)
    out = (leaf_a.exp() + leaf_b * leaf_b).log() / (sign * leaf_b) - leaf_a * leaf_b
    out.backward()
    assert out.data == pytest.approx(on_floats(a, b), rel=1e-12, abs=1e-12)
    for k, leaf in enumerate((leaf_a, leaf_b)):
        numeric = centred_difference(on_floats, (a, b), k, h=1e-5)
        assert leaf.grad == pytest.approx(numeric, rel=1e-6, abs=1e-6)


def test_reflected_operators_with_numbers_make_constant_leaves():
    x = Value(2.0)
    assert (3 - x).data == 1.0
    assert (3 / x).data == 1.5
    assert (3 + x).data == 5.0
    assert (3 * x).data == 6.0
    out = np.float64(4.0) * x
    assert isinstance(out, Value)
    out.backward()
    assert x.grad == 4.0


@settings(max_examples=60, deadline=None)
@given(x=st.floats(1e-3, 1e3))
def test_sqrt_local_gradient_matches_finite_differences_for_any_positive_input(x):
    leaf = Value(x)
    out = leaf.sqrt()
    out.backward()
    step = 1e-6 * x  # relative step: sqrt is curved most near 0
    numeric = (math.sqrt(x + step) - math.sqrt(x - step)) / (2 * step)
    assert out.data == math.sqrt(x)
    assert leaf.grad == pytest.approx(numeric, rel=1e-7)


def test_max_routes_the_whole_gradient_to_the_first_largest_input_on_a_tie():
    first, second, third = Value(3.0), Value(3.0), Value(1.0)
    vmax(first, second, third).backward()
    assert (first.grad, second.grad, third.grad) == (1.0, 0.0, 0.0)


def test_max_of_one_value_passes_the_gradient_through():
    x = Value(-2.0)
    out = vmax(x)
    out.backward()
    assert out.data == -2.0 and x.grad == 1.0


# Backward -------------------------------------------------------------------------------------


def test_backward_twice_gives_the_same_gradients():
    x, y = Value(1.5), Value(-0.5)
    out = (x * y + x).exp()
    out.backward()
    first = (x.grad, y.grad)
    out.backward()
    assert (x.grad, y.grad) == first
    assert first != (0.0, 0.0)


def test_backward_from_a_different_root_resets_the_shared_nodes():
    x = Value(2.0)
    square = x * x
    cube = square * x
    cube.backward()
    square.backward()
    assert x.grad == 4.0  # d(x^2)/dx, not 4 + 12


def test_gradients_sum_at_a_fork():
    x, y, z = Value(2.0), Value(-3.0), Value(4.0)
    (x * y + x * z).backward()
    assert x.grad == y.data + z.data


def test_a_value_used_twice_by_one_gate_gets_both_contributions():
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0


def test_backward_handles_a_chain_deeper_than_the_recursion_limit():
    x = Value(0.0)
    out = x
    for _ in range(5000):
        out = out + 1.0
    out.backward()
    assert out.data == 5000.0 and x.grad == 1.0


def test_topological_order_puts_every_parent_before_its_child_and_root_last():
    x, y = Value(1.0), Value(2.0)
    out = (x * y) + (x - y).exp()
    order = topological_order(out)
    position = {id(node): k for k, node in enumerate(order)}
    assert order[-1] is out
    assert len(position) == len(order) == 6
    for node in order:
        for parent in node.parents:
            assert position[id(parent)] < position[id(node)]


# The two softmax-loss graphs ------------------------------------------------------------------


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


# The batch-norm graph and seeded roots -------------------------------------------------------


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


# Layout ---------------------------------------------------------------------------------------


def test_layout_puts_every_parent_in_a_layer_left_of_its_child():
    loss, _ = softmax_loss_graph(np.arange(6.0).reshape(2, 3), np.array([0, 1]))
    layout = layered_layout(loss)
    for node in topological_order(loss):
        for parent in node.parents:
            assert layout.layers[parent] < layout.layers[node]
            assert layout.positions[parent][0] < layout.positions[node][0]


def test_layout_routes_a_long_edge_through_one_point_per_skipped_layer():
    loss, _ = softmax_loss_graph(np.arange(6.0).reshape(2, 3), np.array([0, 1]))
    layout = layered_layout(loss)
    for (child, k), route in layout.routes.items():
        skipped = layout.layers[child] - layout.layers[child.parents[k]] - 1
        assert len(route) == skipped + 2
        xs = [x for x, _ in route]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_layout_boxes_in_one_layer_do_not_overlap():
    loss, _ = softmax_loss_graph(np.arange(6.0).reshape(2, 3), np.array([0, 1]))
    layout = layered_layout(loss)
    by_x = {}
    for x, y in layout.positions.values():
        by_x.setdefault(x, []).append(y)
    for ys in by_x.values():
        ys.sort()
        assert all(upper - lower >= 0.9 for lower, upper in zip(ys, ys[1:], strict=False))


def test_layout_of_a_fork_has_no_crossings():
    x, y, z = Value(2.0, "x"), Value(-3.0, "y"), Value(4.0, "z")
    assert layered_layout(x * y + x * z).crossings == 0


def test_layout_keeps_leaves_in_the_given_order_when_that_costs_no_crossing():
    loss, _ = softmax_loss_graph(np.arange(6.0).reshape(2, 3), np.array([0, 2]))
    layout = layered_layout(loss)
    leaves = [node for node, layer in layout.layers.items() if layer == 0]
    top_to_bottom = sorted(leaves, key=lambda node: -layout.positions[node][1])
    assert [leaf.label for leaf in top_to_bottom] == [
        f"$s^*_{{{i}{j}}}$" for i in (1, 2) for j in (1, 2, 3)
    ]


def layered_structure(layout):
    """The columns of slots (nodes and routing points) and the edges between adjacent
    columns, rebuilt from a layout's routes: an independent view of what is drawn."""
    column_of_x = {x: c for c, x in enumerate(sorted({x for x, _ in layout.positions.values()}))}
    slots, segments = {}, []
    for node, (x, y) in layout.positions.items():
        slots[id(node)] = (column_of_x[x], y)
    for (child, k), route in layout.routes.items():
        keys = [id(child.parents[k])]
        keys += [(id(child), k, point) for point in range(1, len(route) - 1)]
        keys += [id(child)]
        for key, (x, y) in zip(keys[1:-1], route[1:-1], strict=True):
            slots[key] = (column_of_x[x], y)
        segments += list(zip(keys, keys[1:], strict=False))
    columns = [[] for _ in column_of_x]
    for key, (c, _) in sorted(slots.items(), key=lambda item: -item[1][1]):
        columns[c].append(key)  # top to bottom
    return columns, segments


def crossings_of(columns, segments):
    """Pairs of segments between adjacent columns that cross, for these column orders."""
    position = {key: (c, k) for c, column in enumerate(columns) for k, key in enumerate(column)}
    by_column = {}
    for start, end in segments:
        (c, top), (_, bottom) = position[start], position[end]
        by_column.setdefault(c, []).append((top, bottom))
    return sum(
        (a[0] - b[0]) * (a[1] - b[1]) < 0
        for pairs in by_column.values()
        for i, a in enumerate(pairs)
        for b in pairs[:i]
    )


def fewest_crossings(columns, segments):
    """The fewest crossings over every order of every column but the first (brute force)."""
    orders = [[columns[0]]] + [list(itertools.permutations(column)) for column in columns[1:]]
    return min(crossings_of(list(choice), segments) for choice in itertools.product(*orders))


@pytest.mark.parametrize("j", [0, 1, 2])
def test_graph_of_a_normalized_score_is_drawn_without_crossings(j):
    score, _ = normalized_score_graph([-1.6, -2.65, -0.5], j)
    layout = layered_layout(score)
    assert layout.crossings == 0
    assert crossings_of(*layered_structure(layout)) == 0


@pytest.mark.parametrize("label", [0, 1, 2])
def test_loss_graph_of_one_sample_has_the_fewest_crossings_its_leaf_order_allows(label):
    # No drawing of this graph is free of crossings: each raw score feeds the MAX node and
    # its own subtraction, and the MAX node feeds all three subtractions.
    loss, _ = softmax_loss_graph([[-1.6, -2.65, -0.5]], [label])
    layout = layered_layout(loss)
    columns, segments = layered_structure(layout)
    assert layout.crossings == crossings_of(columns, segments)
    assert layout.crossings == fewest_crossings(columns, segments) == (3 if label == 1 else 2)


@pytest.mark.parametrize("y", [[0, 1], [0, 2], [1, 1], [2, 0], [1, 2]])
def test_loss_graph_draws_each_sample_in_class_order_with_the_fewest_crossings(y):
    rng = np.random.default_rng(5)
    loss, _ = softmax_loss_graph(rng.normal(scale=2.0, size=(2, 3)), y)
    layout = layered_layout(loss)
    prefixes = ("$s^*_{", "$s_{", "$e_{", "$m_{", "$Z_{", "$p_{")
    for layer in set(layout.layers.values()):
        named = [node for node, at in layout.layers.items() if at == layer]
        named = [node for node in named if node.label.startswith(prefixes)]
        top_to_bottom = sorted(named, key=lambda node: -layout.positions[node][1])
        indices = [node.label.split("{")[1][:2] for node in top_to_bottom]
        assert indices == sorted(indices), indices  # sample by sample, class by class
    fewest = sum(3 if label == 1 else 2 for label in y)
    assert layout.crossings == crossings_of(*layered_structure(layout)) == fewest


def test_layout_frees_the_leaf_order_only_for_a_drawing_without_crossings():
    x, y, z = Value(2.0, "x"), Value(-3.0, "y"), Value(4.0, "z")
    layout = layered_layout(x * y + x * z)
    top_to_bottom = sorted([x, y, z], key=lambda node: -layout.positions[node][1])
    assert layout.crossings == 0 and top_to_bottom[1] is x  # x between its two products


@st.composite
def random_graphs(draw_from):
    """A random graph of +, *, max and exp gates over a few leaves, summed into one root."""
    nodes = [
        Value(draw_from(st.floats(-1, 1)), f"x{k}") for k in range(draw_from(st.integers(1, 4)))
    ]
    for _ in range(draw_from(st.integers(0, 12))):
        gate = draw_from(st.sampled_from(["+", "*", "max", "exp"]))
        first, second = (nodes[draw_from(st.integers(0, len(nodes) - 1))] for _ in range(2))
        if gate == "exp":
            nodes.append(first.exp() if abs(first.data) < 5 else -first)
        else:
            nodes.append(
                {"+": first + second, "*": first * second, "max": vmax(first, second)}[gate]
            )
    consumed = {id(parent) for node in nodes for parent in node.parents}
    return vsum(*(node for node in nodes if id(node) not in consumed))


@settings(max_examples=40, deadline=None)
@given(root=random_graphs())
def test_layout_of_any_graph_goes_left_to_right_without_overlapping_boxes(root):
    layout = layered_layout(root)
    for node in topological_order(root):
        for parent in node.parents:
            assert layout.positions[parent][0] < layout.positions[node][0]
    by_x = {}
    for x, y in layout.positions.values():
        by_x.setdefault(x, []).append(y)
    for ys in by_x.values():
        ys.sort()
        assert all(upper - lower >= 0.9 for lower, upper in zip(ys, ys[1:], strict=False))


# Drawing --------------------------------------------------------------------------------------


def test_draw_makes_one_box_per_node():
    loss, _ = softmax_loss_graph(np.arange(6.0).reshape(2, 3), np.array([0, 1]))
    loss.backward()
    fig, ax = draw(loss)
    boxes = patches_with_gid(ax, "node")
    assert len(boxes) == 30
    assert all(isinstance(box, FancyBboxPatch) for box in boxes)


def test_draw_makes_one_data_arrow_per_edge():
    loss, _ = softmax_loss_graph(np.arange(6.0).reshape(2, 3), np.array([0, 1]))
    loss.backward()
    fig, ax = draw(loss)
    assert len(patches_with_gid(ax, "data")) == count_edges(loss)


def test_draw_makes_one_dashed_gradient_arrow_per_max_node():
    loss, _ = softmax_loss_graph(np.arange(6.0).reshape(2, 3), np.array([0, 1]))
    loss.backward()
    fig, ax = draw(loss)
    dashed = [
        patch
        for patch in ax.patches
        if isinstance(patch, FancyArrowPatch) and patch.get_linestyle() == "--"
    ]
    assert len(dashed) == 2
    assert dashed == patches_with_gid(ax, "grad-max")


def test_draw_gives_every_edge_but_the_max_losers_a_red_gradient_arrow():
    score, _ = normalized_score_graph([1.0, 3.0, -0.5], 0)
    score.backward()
    fig, ax = draw(score)
    # edges: 3 into the MAX node, 2 into the subtraction; the 2 losing MAX inputs get none
    assert len(patches_with_gid(ax, "data")) == 5
    assert len(patches_with_gid(ax, "grad")) == 2
    assert len(patches_with_gid(ax, "grad-max")) == 1


def test_draw_labels_each_gradient_arrow_with_the_gradient_it_carries():
    x, y = Value(2.0, "x"), Value(-3.0, "y")
    out = x * y
    out.backward()
    fig, ax = draw(out, digits=1)
    texts = {text.get_text() for text in ax.texts}
    assert {"\N{MINUS SIGN}3.0", "2.0"} <= texts  # dout/dx = y, dout/dy = x


def test_draw_without_gradients_draws_no_red_arrows():
    score, _ = normalized_score_graph([1.0, 3.0, -0.5], 0)
    fig, ax = draw(score, show_grad=False)
    assert patches_with_gid(ax, "grad") == patches_with_gid(ax, "grad-max") == []
    assert len(patches_with_gid(ax, "node")) == 5


def test_draw_uses_the_axes_it_is_given():
    x = Value(1.0, "x")
    out = x.exp()
    out.backward()
    fig, ax = plt.subplots()
    assert draw(out, ax=ax) == (fig, ax)


def test_draw_gives_a_value_used_twice_by_one_gate_two_arrows_each_way():
    x = Value(3.0, "x")
    square = x * x
    square.backward()
    fig, ax = draw(square)
    assert len(patches_with_gid(ax, "data")) == len(patches_with_gid(ax, "grad")) == 2
    assert len(patches_with_gid(ax, "node")) == 2


def test_draw_writes_the_square_root_gate_as_a_root_sign():
    x = Value(4.0, "x")
    root = x.sqrt().named("s")
    root.backward()
    fig, ax = draw(root)
    assert any(text.get_text().startswith("s  [\N{SQUARE ROOT}]") for text in ax.texts)


def test_draw_of_a_single_leaf_works():
    x = Value(1.0, "x")
    x.backward()
    fig, ax = draw(x)
    assert len(patches_with_gid(ax, "node")) == 1


def staged_roots(graph):
    """The three stage roots of a cut batch-norm graph after the staged backward pass."""
    graph.loss.backward()
    root_2 = seeded_root([graph.inv_std], [graph.inv_std_in.grad])
    root_2.backward()
    stage_1_grads = [graph.var_in.grad] + [c.grad for c in graph.centered_in]
    root_1 = seeded_root([graph.var, *graph.centered], stage_1_grads)
    root_1.backward()
    return [root_1, root_2, graph.loss]


def book_graphs():
    """The graphs drawn with gradients in the book, each as a root that backward has run on."""
    rng = np.random.default_rng(5)
    scores = rng.normal(scale=2.0, size=(2, 3))
    roots = []
    for y in ([0, 1], [0, 2], [2, 1]):
        loss, _ = softmax_loss_graph(scores, y)
        roots.append(loss)
    roots.append(softmax_loss_graph([[1.2, 2.6, 0.3]], [0])[0])
    roots.append(normalized_score_graph(scores[0], 0)[0])
    a, b, c = Value(0.5, "a"), Value(1.2, "b"), Value(0.8, "c")
    roots.append((a.exp() + b * c).log() / vmax(a, b))
    roots += staged_roots(batchnorm_graph([1.0, 2.5, 6.0], 1.5, 0.5, [0.5, -1.0, 0.8]))
    for root in roots[:-3]:
        root.backward()
    return roots


def drawn_extents(fig, ax, draw_first=True):
    """Display-space boxes of the gradient labels (with their white backing) and the nodes,
    as the figure is drawn."""
    if draw_first:
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t.get_bbox_patch().get_window_extent(renderer) for t in ax.texts
              if t.get_gid() == "grad-label"]  # fmt: skip
    nodes = [patch.get_window_extent(renderer) for patch in patches_with_gid(ax, "node")]
    return labels, nodes


def overlap(a, b, tolerance=0.5):
    return (
        a.x0 + tolerance < b.x1
        and b.x0 + tolerance < a.x1
        and a.y0 + tolerance < b.y1
        and b.y0 + tolerance < a.y1
    )


@pytest.mark.parametrize("k", range(9))
def test_gradient_labels_overlap_no_other_label_and_no_box(k):
    root = book_graphs()[k]
    fig, ax = draw(root)
    labels, nodes = drawn_extents(fig, ax)
    assert len(labels) == len(patches_with_gid(ax, "grad") + patches_with_gid(ax, "grad-max"))
    for i, label in enumerate(labels):
        assert not any(overlap(label, other) for other in labels[:i])
        assert not any(overlap(label, node) for node in nodes)


def test_each_gradient_label_sits_on_its_own_red_arrow():
    root = book_graphs()[0]
    fig, ax = draw(root)
    fig.canvas.draw()
    arrows = [patch for patch in ax.patches if patch.get_gid() in ("grad", "grad-max")]
    labels = [text for text in ax.texts if text.get_gid() == "grad-label"]
    for arrow, label in zip(arrows, labels, strict=True):
        vertices = arrow.get_path().vertices
        centre = np.array(label.get_position())
        distances = [
            abs(np.linalg.det(np.array([end - start, centre - start]))) / np.hypot(*(end - start))
            for start, end in zip(vertices, vertices[1:], strict=False)
            if min(start[0], end[0]) - 1e-9 <= centre[0] <= max(start[0], end[0]) + 1e-9
        ]
        assert min(distances) < 0.06  # halfway between the red arrow and its black twin


def test_draw_stages_draws_every_box_of_every_stage_at_one_size():
    roots = staged_roots(batchnorm_graph([1.0, 2.5, 6.0], 1.5, 0.5, [0.5, -1.0, 0.8]))
    fig, axes = draw_stages(roots, ["1", "2", "3"])
    fig.canvas.draw()
    sizes = {
        (round(box.width), round(box.height))
        for ax in axes
        for box in (patch.get_window_extent() for patch in patches_with_gid(ax, "node"))
    }
    assert len(axes) == 3 and len(sizes) == 1
    assert [ax.get_title() for ax in axes] == ["1", "2", "3"]
    for ax in axes:
        labels, nodes = drawn_extents(fig, ax, draw_first=False)
        assert not any(overlap(a, b) for i, a in enumerate(labels) for b in labels[:i] + nodes)


def test_draw_shrinks_the_fonts_when_the_axes_is_too_small_for_the_text():
    root = book_graphs()[0]
    fig, ax = plt.subplots(figsize=(6, 2))
    draw(root, ax=ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [patch.get_window_extent(renderer) for patch in patches_with_gid(ax, "node")]
    texts = [text for text in ax.texts if text.get_gid() != "grad-label"]
    assert texts[0].get_fontsize() < 8.5
    for box, text in zip(boxes, texts, strict=True):
        extent = text.get_window_extent(renderer)
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1


def test_draw_writes_a_small_nonzero_value_in_scientific_notation():
    eps = Value(1e-5, "eps")
    noise = Value(1e-17, "noise")
    out = eps + noise
    out.backward()
    fig, ax = draw(out, show_grad=False)
    texts = {text.get_text() for text in ax.texts}
    assert "eps\n1e\N{MINUS SIGN}05" in texts
    assert "noise\n0.000" in texts  # float64 rounding noise reads as zero


# Bad inputs -----------------------------------------------------------------------------------


def test_value_rejects_a_string():
    with pytest.raises(TypeError, match="data"):
        Value("1.0")


def test_value_rejects_a_bool():
    with pytest.raises(TypeError, match="real number"):
        Value(True)


def test_value_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        Value(float("nan"))


def test_value_rejects_a_label_that_is_not_a_string():
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)


def test_value_rejects_an_unknown_op():
    with pytest.raises(ValueError, match="op"):
        Value(1.0, op="tanh")


def test_value_rejects_parents_and_local_grads_of_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        Value(1.0, op="neg", parents=(Value(1.0),), local_grads=())


def test_value_rejects_a_parent_that_is_not_a_value():
    with pytest.raises(TypeError, match="parent"):
        Value(1.0, op="neg", parents=(1.0,), local_grads=(-1.0,))


def test_adding_a_string_raises_type_error():
    with pytest.raises(TypeError, match="unsupported operand"):
        Value(1.0) + "2"


def test_log_of_zero_raises():
    with pytest.raises(ValueError, match="positive"):
        Value(0.0).log()


def test_sqrt_of_zero_raises():
    with pytest.raises(ValueError, match="positive"):
        Value(0.0).sqrt()


def test_sqrt_of_a_negative_number_raises():
    with pytest.raises(ValueError, match="positive"):
        Value(-4.0).sqrt()


def test_exp_overflow_raises():
    with pytest.raises(ValueError, match="overflows"):
        Value(1000.0).exp()


def test_division_by_zero_raises():
    with pytest.raises(ValueError, match="divisor"):
        Value(1.0) / 0


def test_vmax_of_nothing_raises():
    with pytest.raises(ValueError, match="at least one"):
        vmax()


def test_vmax_of_a_list_asks_for_separate_arguments():
    with pytest.raises(TypeError, match=r"vmax\(\*values\)"):
        vmax([Value(1.0), Value(2.0)])


def test_vsum_of_a_string_raises():
    with pytest.raises(TypeError, match="vsum"):
        vsum(Value(1.0), "2")


def test_topological_order_rejects_a_number():
    with pytest.raises(TypeError, match="root"):
        topological_order(1.0)


def test_draw_rejects_a_number():
    with pytest.raises(TypeError, match="root"):
        draw(1.0)


def test_draw_before_backward_raises():
    with pytest.raises(ValueError, match="backward"):
        draw(Value(1.0) * 2.0)


def test_draw_rejects_negative_digits():
    x = Value(1.0)
    x.backward()
    with pytest.raises(ValueError, match="digits"):
        draw(x, digits=-1)


def test_draw_rejects_an_ax_that_is_not_an_axes():
    x = Value(1.0)
    x.backward()
    with pytest.raises(TypeError, match="ax"):
        draw(x, ax="left")


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
    with pytest.raises(ValueError, match="flat list"):
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


def test_draw_stages_rejects_a_single_value_for_roots():
    x = Value(1.0)
    x.backward()
    with pytest.raises(TypeError, match="roots must be a list"):
        draw_stages(x)


def test_draw_stages_rejects_no_roots():
    with pytest.raises(ValueError, match="at least one"):
        draw_stages([])


def test_draw_stages_rejects_one_title_too_few():
    x = Value(1.0)
    x.backward()
    with pytest.raises(ValueError, match="one string per root"):
        draw_stages([x, x], ["only one"])


def test_draw_stages_rejects_a_scale_of_zero():
    x = Value(1.0)
    x.backward()
    with pytest.raises(ValueError, match="inches_per_unit must be > 0"):
        draw_stages([x], inches_per_unit=0.0)


def test_draw_stages_before_backward_raises():
    with pytest.raises(ValueError, match="backward"):
        draw_stages([Value(1.0) * 2.0])
