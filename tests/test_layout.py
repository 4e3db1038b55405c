"""Tests of backprop_utils.layout: layers, routes, crossings and heights of the layered layout."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_utils.engine import Value, topological_order, vmax, vsum
from backprop_utils.graphs import (
    normalized_score_graph,
    softmax_loss_graph,
)
from backprop_utils.layout import layered_layout


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
