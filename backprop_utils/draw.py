"""Drawing a computation graph with matplotlib: values forward, gradients back.

:func:`draw` lays the graph of a :class:`~backprop_utils.engine.Value` out with
:func:`~backprop_utils.layout.layered_layout` and draws each node as a box with its label, its
operation and its forward value; black arrows carry the data flow and red arrows the gradient
flowing back, each labelled with the gradient it carries at a place on its edge clear of the
boxes and of the other labels. The gradient that a MAX node routes to its largest input is drawn
dashed. :func:`draw_stages` draws several graphs one above the other at one scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from backprop_utils.engine import Value
from backprop_utils.layout import GraphLayout, layered_layout

__all__ = ["OP_SYMBOLS", "draw", "draw_stages"]

#: How each operation of :data:`backprop_utils.engine.OPS` is written inside its node.
OP_SYMBOLS = {
    "": "",
    "+": "+",
    "-": "\N{MINUS SIGN}",
    "*": "\N{MULTIPLICATION SIGN}",
    "/": "\N{DIVISION SIGN}",
    "neg": "\N{MINUS SIGN}x",
    "exp": "exp",
    "log": "log",
    "sqrt": "\N{SQUARE ROOT}",
    "max": "max",
}

# The size of a node's box, in data units of the layout (whose node slots are 1 unit high).
_BOX_WIDTH = 1.2
_BOX_HEIGHT = 0.72


def _format(number: float, digits: int) -> str:
    """`number` with `digits` decimals; in scientific notation if its size is 1e5 or more (1e300
    reads 1e+300, not a 305-digit number) or if it is nonzero but would round to zero (eps =
    1e-05 reads 1e-05, not 0.000). Values below 1e-12 in size are the rounding noise of float64
    at the scale of these graphs and read as 0."""
    if abs(number) >= 1e5:
        return f"{number:.{max(digits, 1)}g}".replace("-", "\N{MINUS SIGN}")
    text = f"{number:.{digits}f}"
    if float(text) == 0.0:
        text = f"{number:.{max(digits, 1)}g}" if abs(number) >= 1e-12 else f"{0.0:.{digits}f}"
    return text.replace("-", "\N{MINUS SIGN}")


def _node_text(node: Value, show_grad: bool, digits: int) -> str:
    symbol = OP_SYMBOLS[node.op]
    head = f"{node.label}  [{symbol}]" if node.label and symbol else node.label or symbol
    lines = [head, _format(node.data, digits)]
    if show_grad:
        lines.append(f"grad {_format(node.grad, digits)}")
    return "\n".join(lines)


def _ports(layout: GraphLayout) -> dict[tuple[Value, int], tuple[float, float]]:
    """Spread the arrows leaving and entering each box along its right and left sides.

    Returns the y of the exit point (on the parent) and of the entry point (on the child)
    of each edge, keyed like ``layout.routes``.
    """
    exits: dict[int, list] = {}
    entries: dict[int, list] = {}
    for (child, k), route in layout.routes.items():
        exits.setdefault(id(child.parents[k]), []).append(((child, k), route[1][1]))
        entries.setdefault(id(child), []).append(((child, k), route[-2][1]))
    spread = 0.55 * _BOX_HEIGHT
    exit_y, entry_y = {}, {}
    for groups, target, centre_of in ((exits, exit_y, 0), (entries, entry_y, -1)):
        for edges in groups.values():
            edges.sort(key=lambda item: -item[1])
            for rank, (edge, _) in enumerate(edges):
                offset = 0.0 if len(edges) == 1 else spread * (0.5 - rank / (len(edges) - 1))
                target[edge] = layout.routes[edge][centre_of][1] + offset
    return {edge: (exit_y[edge], entry_y[edge]) for edge in layout.routes}


def _edge_path(route: list, ports: tuple[float, float], shift: float, reverse: bool) -> Path:
    """The polyline of one edge from box side to box side, shifted vertically by `shift`."""
    (x0, _), (x1, _) = route[0], route[-1]
    points = [(x0 + _BOX_WIDTH / 2, ports[0])] + route[1:-1] + [(x1 - _BOX_WIDTH / 2, ports[1])]
    points = [(x, y + shift) for x, y in points]
    if reverse:
        points = points[::-1]
    return Path(points)


def _point_along(vertices: np.ndarray, fraction: float) -> tuple[float, float]:
    """The point at `fraction` of the length of a polyline, shape (M, 2)."""
    lengths = np.hypot(*np.diff(vertices, axis=0).T)
    remaining = fraction * lengths.sum()
    for start, end, length in zip(vertices, vertices[1:], lengths, strict=False):
        if remaining <= length and length > 0:
            return tuple(start + (end - start) * remaining / length)
        remaining -= length
    return tuple(vertices[-1])


def _segments_hit_box(starts: np.ndarray, ends: np.ndarray, box: tuple) -> np.ndarray:
    """Which segments, shape (M, 2) each, meet the box (x0, y0, x1, y1): Liang-Barsky."""
    x0, y0, x1, y1 = box
    delta = ends - starts
    enter, leave = np.zeros(len(starts)), np.ones(len(starts))
    hit = np.ones(len(starts), dtype=bool)
    for p, q in (
        (-delta[:, 0], starts[:, 0] - x0),
        (delta[:, 0], x1 - starts[:, 0]),
        (-delta[:, 1], starts[:, 1] - y0),
        (delta[:, 1], y1 - starts[:, 1]),
    ):
        parallel = p == 0
        hit &= ~(parallel & (q < 0))
        ratio = np.divide(q, p, out=np.zeros_like(q), where=~parallel)
        enter = np.where(~parallel & (p < 0), np.maximum(enter, ratio), enter)
        leave = np.where(~parallel & (p > 0), np.minimum(leave, ratio), leave)
    return hit & (enter <= leave)


def _boxes_overlap(boxes: np.ndarray, box: tuple) -> np.ndarray:
    """Which boxes, shape (M, 4) as (x0, y0, x1, y1), overlap `box`."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=bool)
    return (
        (boxes[:, 0] < box[2])
        & (box[0] < boxes[:, 2])
        & (boxes[:, 1] < box[3])
        & (box[1] < boxes[:, 3])
    )


# Where along its edge a gradient label may sit, best first: the middle, then outwards.
_LABEL_FRACTIONS = (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.18, 0.82)
_LABEL_FONTSIZE = 7.5
_NODE_FONTSIZE = 8.5
# The scale of a figure that draw makes itself: inches per unit of the layout.
_INCHES_PER_UNIT = 0.9


def _label_size(text: str, fontsize: float, inches_per_unit: float) -> tuple[float, float]:
    """Width and height of a gradient label with its white backing box, in data units."""
    renderer = RendererAgg(8, 8, 72)  # at 72 dpi a pixel is a point
    width, height, _ = renderer.get_text_width_height_descent(
        text, FontProperties(size=fontsize), ismath=False
    )
    pad = 2 * 0.15 * fontsize  # the box's pad on both sides, and a little air
    return (width + pad) / 72 / inches_per_unit, (height + pad) / 72 / inches_per_unit


def _place_labels(
    layout: GraphLayout, lines: dict, labelled: list, sizes: list
) -> list[tuple[float, float]]:
    """Choose a centre for each gradient label on its own edge.

    `lines` maps each edge to its drawn polylines (the black and the red arrow), `labelled`
    lists the labelled edges and `sizes` their labels' (width, height). Each label sits on its
    edge at one of `_LABEL_FRACTIONS` of its length: the first position that overlaps no box,
    no label already placed and no other edge, or else the one that overlaps the fewest.
    The labels of the edges with the fewest free positions are placed first.
    """
    boxes = np.array(
        [
            (x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2, x + _BOX_WIDTH / 2, y + _BOX_HEIGHT / 2)
            for x, y in layout.positions.values()
        ]
    ).reshape(-1, 4)
    segments = [
        (edge, line[k], line[k + 1])
        for edge, edge_lines in lines.items()
        for line in edge_lines
        for k in range(len(line) - 1)
    ]
    owners = [edge for edge, _, _ in segments]
    starts = np.array([start for _, start, _ in segments]).reshape(-1, 2)
    ends = np.array([end for _, _, end in segments]).reshape(-1, 2)

    def box_at(centre: tuple[float, float], size: tuple[float, float]) -> tuple:
        (x, y), (width, height) = centre, size
        return (x - width / 2, y - height / 2, x + width / 2, y + height / 2)

    options = []  # per label: (cost, centre) of each position, cost without the other labels
    for edge, size in zip(labelled, sizes, strict=True):
        middle = np.mean(lines[edge], axis=0)  # halfway between the black and the red arrow
        candidates = []
        for rank, fraction in enumerate(_LABEL_FRACTIONS):
            centre = _point_along(middle, fraction)
            box = box_at(centre, size)
            others = {
                owners[k]
                for k in np.flatnonzero(_segments_hit_box(starts, ends, box))
                if owners[k] != edge
            }
            cost = 100 * _boxes_overlap(boxes, box).sum() + 10 * len(others) + rank
            candidates.append((cost, centre))
        options.append(candidates)

    placed = np.zeros((0, 4))
    centres: list = [None] * len(labelled)
    free = [sum(cost < 10 for cost, _ in candidates) for candidates in options]
    for k in sorted(range(len(labelled)), key=lambda k: (free[k], k)):
        best = min(
            options[k],
            key=lambda option: (
                option[0] + 100 * _boxes_overlap(placed, box_at(option[1], sizes[k])).sum()
            ),
        )
        centres[k] = best[1]
        placed = np.vstack([placed, box_at(best[1], sizes[k])])
    return centres


class _Fitter(Artist):
    """An invisible artist that fits the text of one drawing to its axes when it is drawn.

    The room that text has depends on the size of the axes in inches, which a layout engine
    such as constrained layout settles only when the figure is drawn. Added with a zorder
    below everything else of the drawing, this artist runs first in each draw: it reads the
    axes' final scale, shrinks the fonts (never grows them) where the text of a box would not
    fit in it, and places each gradient label on its edge (see `_place_labels`).
    """

    def __init__(
        self, layout: GraphLayout, lines: dict, labelled: list, labels: list, node_texts: list
    ) -> None:
        super().__init__()
        self.set_zorder(0)
        self._layout, self._lines, self._labelled = layout, lines, labelled
        self._labels, self._node_texts = labels, node_texts
        self._fitted_for: tuple | None = None

    def fit(self, renderer) -> None:
        """Set the font sizes and the label positions for the axes' current size."""
        ax = self.axes
        (x0, y0), (x1, y1) = ax.transData.transform([(0.0, 0.0), (1.0, 1.0)])
        inches_per_unit = min(abs(x1 - x0), abs(y1 - y0)) / ax.figure.dpi
        if self._fitted_for == (round(inches_per_unit, 6), ax.figure.dpi):
            return  # a second draw at the same size, as savefig(bbox_inches="tight") makes
        self._fitted_for = (round(inches_per_unit, 6), ax.figure.dpi)
        shrink = 1.0
        for text in self._node_texts:
            text.set_fontsize(_NODE_FONTSIZE)
            extent = text.get_window_extent(renderer)
            room_x = (_BOX_WIDTH - 0.08) * inches_per_unit * ax.figure.dpi
            room_y = (_BOX_HEIGHT - 0.04) * inches_per_unit * ax.figure.dpi
            shrink = min(shrink, room_x / extent.width, room_y / extent.height)
        for text in self._node_texts:
            text.set_fontsize(_NODE_FONTSIZE * shrink)
        label_size = _LABEL_FONTSIZE * shrink
        sizes = [_label_size(text.get_text(), label_size, inches_per_unit) for text in self._labels]
        centres = _place_labels(self._layout, self._lines, self._labelled, sizes)
        for text, centre in zip(self._labels, centres, strict=True):
            text.set_fontsize(label_size)
            text.set_position(centre)

    def draw(self, renderer) -> None:
        self.fit(renderer)
        self.stale = False


def _check_draw_options(show_grad: object, digits: object) -> None:
    if not isinstance(show_grad, bool):
        raise TypeError(f"show_grad must be a bool, got {type(show_grad).__name__}")
    if isinstance(digits, bool) or not isinstance(digits, Integral):
        raise TypeError(f"digits must be an int, got {type(digits).__name__}")
    if not 0 <= digits <= 10:
        raise ValueError(f"digits must be in 0..10, got {digits}")


def _check_root(root: object, show_grad: bool, name: str = "root") -> None:
    if not isinstance(root, Value):
        raise TypeError(f"{name} must be a Value, got {type(root).__name__}")
    if show_grad and root.grad != 1.0:
        raise ValueError(
            f"{name}.grad must be 1: call {name}.backward() before drawing it with "
            "show_grad=True, or pass show_grad=False"
        )


def _check_stages(
    roots: object, titles: object, show_grad: object, digits: object, inches_per_unit: object
) -> None:
    """Validate the arguments of draw_stages."""
    if isinstance(roots, Value) or not isinstance(roots, Sequence):
        raise TypeError(f"roots must be a list of Values, got {type(roots).__name__}")
    if len(roots) == 0:
        raise ValueError("roots must hold at least one Value")
    _check_draw_options(show_grad, digits)
    for root in roots:
        _check_root(root, show_grad, "each root")
    if titles is not None:
        if isinstance(titles, str) or not isinstance(titles, Sequence):
            raise TypeError(f"titles must be a list of strings, got {type(titles).__name__}")
        if len(titles) != len(roots) or not all(isinstance(title, str) for title in titles):
            raise ValueError(f"titles must hold one string per root, {len(roots)}")
    if isinstance(inches_per_unit, bool) or not isinstance(inches_per_unit, Real):
        raise TypeError(
            f"inches_per_unit must be a real number, got {type(inches_per_unit).__name__}"
        )
    if not 0 < inches_per_unit <= 10:
        raise ValueError(f"inches_per_unit must be > 0 and at most 10, got {inches_per_unit}")


def _limits(
    layout: GraphLayout, hidden: Value | None = None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x and y limits that show every box and route of a layout with a small margin,
    leaving out the node `hidden` and the edges into it."""
    shown = [xy for node, xy in layout.positions.items() if node is not hidden]
    xs = [x for x, _ in shown]
    ys = [y for (_, y) in shown] + [
        y for (child, _), route in layout.routes.items() if child is not hidden for _, y in route
    ]
    xlim = (min(xs) - _BOX_WIDTH / 2 - 0.2, max(xs) + _BOX_WIDTH / 2 + 0.2)
    ylim = (min(ys) - _BOX_HEIGHT / 2 - 0.2, max(ys) + _BOX_HEIGHT / 2 + 0.2)
    return xlim, ylim


def draw(
    root: Value,
    ax: plt.Axes | None = None,
    *,
    show_grad: bool = True,
    digits: int = 3,
    title: str | None = None,
    hide_root: bool = False,
) -> tuple[plt.Figure, plt.Axes]:
    """Draw the graph of `root` with its forward values and, optionally, its gradients.

    Each node is a box (a ``FancyBboxPatch`` with gid ``"node"``) showing its label and
    operation, its forward value and, with `show_grad`, its grad. Black arrows (gid
    ``"data"``) carry values left to right. With `show_grad`, a red arrow (gid ``"grad"``) runs
    back along each edge, labelled (a Text with gid ``"grad-label"``) with the gradient it
    carries, ``local gradient * child grad``; the gradient a MAX node routes to its largest
    input is a dashed red arrow (gid ``"grad-max"``), and the MAX node's other inputs, which
    receive nothing, get no red arrow. Each label sits on its own edge where it overlaps no
    box, no other label and, where the room allows, no other edge; the labels are placed, and
    the fonts shrunk if the boxes are too small for them, each time the figure is drawn, when
    the size of the axes is final. A number of size 1e5 or more, or one that would round to
    zero at `digits` decimals but is not zero, is written in scientific notation (1e+300,
    1e-05).

    Parameters
    ----------
    root : Value
        The output node. With `show_grad`, ``root.backward()`` must have been called.
    ax : matplotlib Axes, optional
        Where to draw; if None, a new figure sized to the graph at 0.9 inch per unit of the
        layout (a box is 1.2 units wide).
    show_grad : bool, default True
        Draw grads in the boxes and the red gradient arrows.
    digits : int, default 3
        Decimals of the numbers shown, 0 to 10.
    title : str, optional
        Axes title.
    hide_root : bool, default False
        Leave out the root's box and the edges into it: for the joining root of a
        :func:`~backprop_utils.graphs.subgraph`, whose outputs then end the drawing.

    Returns
    -------
    fig : matplotlib Figure
    ax : matplotlib Axes

    Raises
    ------
    TypeError
        If `root` is not a Value, `ax` is not an Axes, `show_grad` or `hide_root` is not a
        bool or `digits` is not an int.
    ValueError
        If `digits` is outside 0..10, or `show_grad` is set but ``root.grad`` is not 1 (backward
        has not been run from this root).
    """
    _check_root(root, show_grad)
    if ax is not None and not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    _check_draw_options(show_grad, digits)
    if not isinstance(hide_root, bool):
        raise TypeError(f"hide_root must be a bool, got {type(hide_root).__name__}")
    hidden = root if hide_root else None

    layout = layered_layout(root)
    xlim, ylim = _limits(layout, hidden)
    if ax is None:
        width = _INCHES_PER_UNIT * (xlim[1] - xlim[0]) + 0.2
        height = _INCHES_PER_UNIT * (ylim[1] - ylim[0]) + (0.5 if title else 0.2)
        fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    else:
        fig = ax.figure

    ports = _ports(layout)
    lines, labelled, texts = {}, [], []
    for (child, k), route in layout.routes.items():
        if child is hidden:
            continue
        edge = (child, k)
        data_path = _edge_path(route, ports[edge], shift=0.05, reverse=False)
        ax.add_patch(
            FancyArrowPatch(
                path=data_path,
                arrowstyle="-|>",
                mutation_scale=11,
                color="0.25",
                lw=1.1,
                gid="data",
            )
        )
        grad_path = _edge_path(route, ports[edge], shift=-0.05, reverse=False)
        lines[edge] = (data_path.vertices, grad_path.vertices)
        if not show_grad or (child.op == "max" and child.local_grads[k] == 0):
            continue
        gid = "grad-max" if child.op == "max" else "grad"
        ax.add_patch(
            FancyArrowPatch(
                path=Path(grad_path.vertices[::-1]),
                arrowstyle="-|>",
                mutation_scale=11,
                color="tab:red",
                lw=1.1,
                linestyle="--" if gid == "grad-max" else "-",
                gid=gid,
            )
        )
        labelled.append(edge)
        texts.append(_format(child.local_grads[k] * child.grad, digits))
    labels = [
        ax.text(
            *np.mean(lines[edge], axis=(0, 1)),
            text,
            color="tab:red",
            fontsize=_LABEL_FONTSIZE,
            ha="center",
            va="center",
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.9},
            zorder=4,
            gid="grad-label",
        )
        for edge, text in zip(labelled, texts, strict=True)
    ]

    node_texts = []
    for node, (x, y) in layout.positions.items():
        if node is hidden:
            continue
        is_leaf = not node.parents
        ax.add_patch(
            FancyBboxPatch(
                (x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2),
                _BOX_WIDTH,
                _BOX_HEIGHT,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                fc="#e8f1f8" if is_leaf else "#fdf6e3",
                ec="0.2",
                lw=1.0,
                gid="node",
                zorder=3,
            )
        )
        node_texts.append(
            ax.text(
                x,
                y,
                _node_text(node, show_grad, digits),
                ha="center",
                va="center",
                fontsize=_NODE_FONTSIZE,
                linespacing=1.3,
                zorder=5,
            )
        )
    ax.add_artist(_Fitter(layout, lines, labelled, labels, node_texts))

    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    if title is not None:
        ax.set_title(title)
    return fig, ax


def draw_stages(
    roots: Sequence[Value],
    titles: Sequence[str] | None = None,
    *,
    show_grad: bool = True,
    digits: int = 3,
    inches_per_unit: float = 0.8,
    hide_roots: bool = False,
) -> tuple[plt.Figure, list[plt.Axes]]:
    """Draw several graphs one above the other at one common scale.

    Each graph gets an axes as wide as the graph itself, centred in the figure, so that the
    boxes of every panel have the same size, whatever the number of layers of each graph (the
    stages of a graph cut by :func:`~backprop_utils.graphs.batchnorm_graph`, for instance).

    Parameters
    ----------
    roots : list of Value, at least one
        The output node of each graph, drawn from top to bottom. With `show_grad`, each
        ``root.backward()`` (or that of a :func:`~backprop_utils.graphs.seeded_root` over it)
        must have been called.
    titles : list of str, optional
        One title per graph.
    show_grad, digits
        As in :func:`draw`.
    inches_per_unit : float, default 0.8
        The scale, in (0, 10]: inches per unit of the layout (a box is 1.2 units wide). Below
        about 0.7 the fonts shrink to keep the text inside the boxes.
    hide_roots : bool, default False
        As `hide_root` of :func:`draw`, for every graph: draw the panels of one graph, each a
        :func:`~backprop_utils.graphs.subgraph`, without stand-in nodes.

    Returns
    -------
    fig : matplotlib Figure
    axes : list of matplotlib Axes, one per graph

    Raises
    ------
    TypeError
        If `roots` is not a list of Values, `titles` is not a list of strings, `show_grad` is
        not a bool, `digits` is not an int or `inches_per_unit` is not a real number.
    ValueError
        If `roots` is empty, `titles` has another length, `digits` is outside 0..10,
        `inches_per_unit` is outside (0, 10], or a root's grad is not 1 while `show_grad` is set.
    """
    _check_stages(roots, titles, show_grad, digits, inches_per_unit)
    if not isinstance(hide_roots, bool):
        raise TypeError(f"hide_roots must be a bool, got {type(hide_roots).__name__}")
    scale = float(inches_per_unit)

    extents = []
    for root in roots:
        xlim, ylim = _limits(layered_layout(root), root if hide_roots else None)
        extents.append((scale * (xlim[1] - xlim[0]), scale * (ylim[1] - ylim[0])))
    title_room = 0.0 if titles is None else 0.35
    margin = 0.1
    fig_width = max(width for width, _ in extents) + 2 * margin
    fig_height = sum(height + title_room for _, height in extents) + 2 * margin
    fig = plt.figure(figsize=(fig_width, fig_height))
    axes, top = [], fig_height - margin
    for k, (root, (width, height)) in enumerate(zip(roots, extents, strict=True)):
        top -= title_room
        rect = (
            (fig_width - width) / 2 / fig_width,
            (top - height) / fig_height,
            width / fig_width,
            height / fig_height,
        )
        ax = fig.add_axes(rect)
        draw(
            root,
            ax=ax,
            show_grad=show_grad,
            digits=digits,
            title=None if titles is None else titles[k],
            hide_root=hide_roots,
        )
        axes.append(ax)
        top -= height
    return fig, axes
