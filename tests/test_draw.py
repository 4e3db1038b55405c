"""Tests of backprop_utils.draw: boxes, arrows, gradient labels, number formats and bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from backprop_utils.draw import OP_SYMBOLS, draw, draw_stages
from backprop_utils.engine import OPS, Value, topological_order, vmax
from backprop_utils.graphs import (
    batchnorm_graph,
    normalized_score_graph,
    seeded_root,
    softmax_loss_graph,
    subgraph,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def patches_with_gid(ax, gid):
    return [patch for patch in ax.patches if patch.get_gid() == gid]


def count_edges(root):
    return sum(len(node.parents) for node in topological_order(root))


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


# Number formats and the operations ------------------------------------------------------------


def node_lines(ax):
    """Every line of text in the nodes of a drawing."""
    return [line for text in ax.texts for line in text.get_text().split("\n")]


def test_draw_writes_a_huge_value_in_scientific_notation():
    big = Value(1e300, "big")
    fig, ax = draw(big * 2.0, show_grad=False)
    lines = node_lines(ax)
    assert "1e+300" in lines and "2e+300" in lines
    assert max(len(line) for line in lines) < 12  # not a 305-digit number


def test_draw_writes_a_huge_negative_gradient_in_scientific_notation_with_a_minus_sign():
    x = Value(1.0, "x")
    out = x * -1.5e6
    out.backward()
    fig, ax = draw(out)
    assert "grad \N{MINUS SIGN}1.5e+06" in node_lines(ax)  # x's grad
    assert "\N{MINUS SIGN}1.5e+06" in node_lines(ax)  # its red arrow's label


def test_draw_keeps_fixed_notation_below_a_hundred_thousand():
    fig, ax = draw(Value(99999.5, "x"), show_grad=False)
    assert "99999.500" in node_lines(ax)


def test_draw_writes_a_hundred_thousand_in_scientific_notation():
    fig, ax = draw(Value(1e5, "x"), show_grad=False, digits=2)
    assert "1e+05" in node_lines(ax)


def test_every_operation_of_the_engine_has_a_symbol():
    assert set(OP_SYMBOLS) == set(OPS)


def test_draw_stages_rejects_a_huge_scale():
    x = Value(1.0)
    x.backward()
    with pytest.raises(ValueError, match="inches_per_unit must be > 0 and at most 10"):
        draw_stages([x], inches_per_unit=10**400)


def test_draw_stages_rejects_a_scale_that_is_not_a_number():
    x = Value(1.0)
    x.backward()
    with pytest.raises(TypeError, match="inches_per_unit must be a real number"):
        draw_stages([x], inches_per_unit="1")


def _bn_panel():
    graph = batchnorm_graph([1.0, 2.5, 6.0], 1.5, 0.5, [0.5, -1.0, 0.8], 1e-5, cut=False)
    graph.loss.backward()
    return subgraph([graph.var], graph.centered)


def test_hide_root_draws_neither_the_root_nor_the_edges_into_it():
    root = _bn_panel()
    nodes = topological_order(root)
    _, ax = draw(root, hide_root=True)
    assert len(patches_with_gid(ax, "node")) == len(nodes) - 1
    assert len(patches_with_gid(ax, "data")) == count_edges(root) - len(root.parents)


def test_hide_root_makes_the_drawing_narrower_by_the_root_column():
    shown, _ = draw(_bn_panel())
    hidden, _ = draw(_bn_panel(), hide_root=True)
    assert hidden.get_size_inches()[0] < shown.get_size_inches()[0] - 1


def test_draw_stages_hides_every_root_with_hide_roots():
    fig, axes = draw_stages([_bn_panel(), _bn_panel()], hide_roots=True)
    for ax in axes:
        assert len(patches_with_gid(ax, "node")) == len(topological_order(_bn_panel())) - 1


def test_draw_rejects_hide_root_that_is_not_a_bool():
    with pytest.raises(TypeError, match="hide_root"):
        draw(_bn_panel(), hide_root=1)
