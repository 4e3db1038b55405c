"""A small scalar computation-graph recorder and its matplotlib drawing.

A :class:`Value` holds one number. Combining Values with ``+``, ``-``, ``*``, ``/``, unary
``-``, :meth:`Value.exp`, :meth:`Value.log`, :meth:`Value.sqrt`, :func:`vsum` or :func:`vmax`
records a new node that remembers its operation, its parents and the *local gradient*
d(node)/d(parent) of that operation at the forward values. :meth:`Value.backward` then applies
the chain rule: visiting the nodes from the root back to the leaves, each node adds
``local gradient * its own grad`` to each parent's grad, so a parent used twice (a fork)
receives the sum of both contributions.
:func:`seeded_root` makes backward start from given gradients at given nodes instead, so a graph
cut in stages can be backpropagated one stage at a time.

:func:`draw` lays the graph out in layers from left to right (:func:`layered_layout`: the input
leaves in the order they were combined, few edge crossings, edges as straight as that order
allows) and draws each node with its operation and forward value, black arrows for the data flow
and red arrows for the gradient flowing back, each labelled with the gradient it carries at a
place on its edge clear of the boxes and of the other labels. The gradient that a MAX node
routes to its largest input is drawn dashed. :func:`draw_stages` draws several graphs one above
the other at one scale.

:func:`normalized_score_graph` and :func:`softmax_loss_graph` build the two graphs of the
softmax loss used in the book, and :func:`batchnorm_graph` the graph of batch normalization for
one feature, in three stages. All arithmetic is float64 (Python floats).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

__all__ = [
    "BatchNormGraph",
    "GraphLayout",
    "Value",
    "batchnorm_graph",
    "draw",
    "draw_stages",
    "layered_layout",
    "normalized_score_graph",
    "seeded_root",
    "softmax_loss_graph",
    "topological_order",
    "vmax",
    "vsum",
]

# How each operation is written inside its node.
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

# Drawing geometry, in data units: distance between layers, height of a node's slot and of a
# routing point's slot, and the size of a node's box.
_LAYER_GAP = 2.5
_NODE_SLOT = 1.0
_ROUTE_SLOT = 0.35
_BOX_WIDTH = 1.2
_BOX_HEIGHT = 0.72


def _check_real(x: object, name: str) -> float:
    """Return `x` as a finite float, or raise a TypeError/ValueError naming `name`."""
    if isinstance(x, bool | np.bool_) or not isinstance(x, Real):
        raise TypeError(f"{name} must be a real number (int or float), got {type(x).__name__}")
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _check_value(x: object, name: str) -> Value:
    """Return `x` if it is a Value, else raise a TypeError naming `name`."""
    if not isinstance(x, Value):
        raise TypeError(f"{name} must be a Value, got {type(x).__name__}")
    return x


def _as_value(x: object) -> Value:
    """Return a Value as it is and wrap a real number in a constant leaf labelled with it."""
    if isinstance(x, Value):
        return x
    constant = _check_real(x, "operand")
    return Value(constant, label=f"{constant:g}")


def _check_scores(scores: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate the inputs of softmax_loss_graph and return them as float64 and int arrays."""
    scores = np.asarray(scores)
    if not (np.issubdtype(scores.dtype, np.floating) or np.issubdtype(scores.dtype, np.integer)):
        raise TypeError(f"scores must hold real numbers, got dtype {scores.dtype}")
    if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 1:
        raise ValueError(f"scores must have shape (N, C) with N, C >= 1, got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite (no nan or inf)")
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (scores.shape[0],):
        raise ValueError(f"y must have shape (N,) = ({scores.shape[0]},), got {y.shape}")
    if np.any(y < 0) or np.any(y >= scores.shape[1]):
        raise ValueError(f"y must hold labels in 0..C-1 = 0..{scores.shape[1] - 1}")
    return scores.astype(np.float64), y.astype(np.int64)


def _check_batchnorm(
    x: object, gamma: object, beta: object, dout: object, eps: object, cut: object
) -> tuple[list[float], float, float, list[float], float]:
    """Validate the inputs of batchnorm_graph; return x and dout as lists of floats."""
    columns = []
    for name, values in (("x", x), ("dout", dout)):
        try:
            column = np.asarray(values)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"{name} must be a flat list of real numbers") from err
        if not (
            np.issubdtype(column.dtype, np.floating) or np.issubdtype(column.dtype, np.integer)
        ):
            raise TypeError(f"{name} must hold real numbers, got dtype {column.dtype}")
        columns.append(column)
    x, dout = columns
    if x.ndim != 1 or x.size < 2:
        raise ValueError(
            f"x must have shape (N,) with N >= 2 (one feature of a batch; training mode needs "
            f"2 samples), got shape {x.shape}"
        )
    if dout.shape != x.shape:
        raise ValueError(f"dout must have the shape of x, ({x.size},), got shape {dout.shape}")
    for name, column in (("x", x), ("dout", dout)):
        if not np.all(np.isfinite(column)):
            raise ValueError(f"{name} must be finite (no nan or inf)")
    gamma, beta = _check_real(gamma, "gamma"), _check_real(beta, "beta")
    eps = _check_real(eps, "eps")
    if eps <= 0.0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if not isinstance(cut, bool):
        raise TypeError(f"cut must be a bool, got {type(cut).__name__}")
    return x.astype(np.float64).tolist(), gamma, beta, dout.astype(np.float64).tolist(), eps


def _check_seeds(nodes: object, grads: object) -> tuple[tuple[Value, ...], tuple[float, ...]]:
    """Validate the inputs of seeded_root; return them as tuples of Values and floats."""
    for name, values in (("nodes", nodes), ("grads", grads)):
        if isinstance(values, Value) or not isinstance(values, Sequence | np.ndarray):
            raise TypeError(f"{name} must be a list or tuple, got {type(values).__name__}")
    if len(nodes) == 0:
        raise ValueError("nodes must hold at least one Value")
    if len(grads) != len(nodes):
        raise ValueError(f"grads must hold one gradient per node, {len(nodes)}, got {len(grads)}")
    nodes = tuple(_check_value(node, "each node") for node in nodes)
    grads = tuple(_check_real(grad, "each grad") for grad in grads)
    return nodes, grads


class Value:
    """One scalar node of a computation graph.

    Parameters
    ----------
    data : int or float
        The forward value, finite. Stored as a float64 Python float.
    label : str, default ""
        A name drawn in the node (matplotlib mathtext such as ``"$s_{11}$"`` works).
    op : str, default ""
        The operation that made the node; ``""`` for a leaf. Set by the operators.
    parents : tuple of Value, default ()
        The inputs of the operation. Set by the operators.
    local_grads : tuple of float, default ()
        d(this node)/d(parent) for each parent at the forward values. Set by the operators.

    Attributes
    ----------
    data : float
        The forward value.
    grad : float
        d(root)/d(this node) after ``root.backward()``; 0.0 before.
    op, parents, local_grads, label
        As given.

    Raises
    ------
    TypeError
        If `data` or a local gradient is not a real number, `label` or `op` is not a string, or
        a parent is not a Value.
    ValueError
        If `data` or a local gradient is not finite, `op` is unknown, or `parents` and
        `local_grads` differ in length.
    """

    # Make NumPy scalars defer to Value's reflected operators (np.float64(2) * v is a Value).
    __array_ufunc__ = None

    def __init__(
        self,
        data: float,
        label: str = "",
        *,
        op: str = "",
        parents: Sequence[Value] = (),
        local_grads: Sequence[float] = (),
    ) -> None:
        self.data = _check_real(data, "data")
        if not isinstance(label, str):
            raise TypeError(f"label must be a string, got {type(label).__name__}")
        if not isinstance(op, str):
            raise TypeError(f"op must be a string, got {type(op).__name__}")
        if op not in OP_SYMBOLS:
            raise ValueError(f"op must be one of {sorted(OP_SYMBOLS)}, got {op!r}")
        parents = tuple(_check_value(parent, "each parent") for parent in parents)
        local_grads = tuple(_check_real(g, "each local gradient") for g in local_grads)
        if len(parents) != len(local_grads):
            raise ValueError(
                f"parents and local_grads must have the same length, "
                f"got {len(parents)} and {len(local_grads)}"
            )
        self.grad = 0.0
        self.label = label
        self.op = op
        self.parents = parents
        self.local_grads = local_grads

    def __repr__(self) -> str:
        return (
            f"Value(data={self.data:.6g}, grad={self.grad:.6g}, op={self.op!r}, "
            f"label={self.label!r})"
        )

    def named(self, label: str) -> Value:
        """Set the label and return the node itself, so ``(x * y).named("f")`` reads well."""
        if not isinstance(label, str):
            raise TypeError(f"label must be a string, got {type(label).__name__}")
        self.label = label
        return self

    # Binary gates: local gradients d(out)/d(self), d(out)/d(other) -------------------------

    def __add__(self, other: object) -> Value:
        if not isinstance(other, Value | Real):
            return NotImplemented
        other = _as_value(other)
        return Value(self.data + other.data, op="+", parents=(self, other), local_grads=(1, 1))

    def __radd__(self, other: object) -> Value:
        if not isinstance(other, Real):
            return NotImplemented
        return _as_value(other) + self

    def __sub__(self, other: object) -> Value:
        if not isinstance(other, Value | Real):
            return NotImplemented
        other = _as_value(other)
        return Value(self.data - other.data, op="-", parents=(self, other), local_grads=(1, -1))

    def __rsub__(self, other: object) -> Value:
        if not isinstance(other, Real):
            return NotImplemented
        return _as_value(other) - self

    def __mul__(self, other: object) -> Value:
        if not isinstance(other, Value | Real):
            return NotImplemented
        other = _as_value(other)
        return Value(
            self.data * other.data,
            op="*",
            parents=(self, other),
            local_grads=(other.data, self.data),
        )

    def __rmul__(self, other: object) -> Value:
        if not isinstance(other, Real):
            return NotImplemented
        return _as_value(other) * self

    def __truediv__(self, other: object) -> Value:
        if not isinstance(other, Value | Real):
            return NotImplemented
        other = _as_value(other)
        if other.data == 0.0:
            raise ValueError("the divisor must be nonzero, got 0")
        return Value(
            self.data / other.data,
            op="/",
            parents=(self, other),
            local_grads=(1.0 / other.data, -self.data / other.data**2),
        )

    def __rtruediv__(self, other: object) -> Value:
        if not isinstance(other, Real):
            return NotImplemented
        return _as_value(other) / self

    # Unary gates ------------------------------------------------------------------------------

    def __neg__(self) -> Value:
        return Value(-self.data, op="neg", parents=(self,), local_grads=(-1,))

    def exp(self) -> Value:
        """e**x; its local gradient is e**x itself.

        Raises
        ------
        ValueError
            If e**x overflows float64 (x > about 709.78).
        """
        try:
            out = math.exp(self.data)
        except OverflowError:
            raise ValueError(
                f"exp overflows float64 for an input > 709.78, got {self.data}"
            ) from None
        return Value(out, op="exp", parents=(self,), local_grads=(out,))

    def log(self) -> Value:
        """Natural logarithm; its local gradient is 1/x.

        Raises
        ------
        ValueError
            If the input is not > 0.
        """
        if self.data <= 0.0:
            raise ValueError(f"log needs a positive input, got {self.data}")
        return Value(math.log(self.data), op="log", parents=(self,), local_grads=(1 / self.data,))

    def sqrt(self) -> Value:
        """Square root; its local gradient is 1 / (2 sqrt(x)).

        Raises
        ------
        ValueError
            If the input is not > 0 (at 0 the local gradient is infinite).
        """
        if self.data <= 0.0:
            raise ValueError(
                f"sqrt needs a positive input (its gradient at 0 is infinite), got {self.data}"
            )
        out = math.sqrt(self.data)
        return Value(out, op="sqrt", parents=(self,), local_grads=(0.5 / out,))

    # The chain rule ---------------------------------------------------------------------------

    def backward(self) -> None:
        """Fill ``grad`` of every node reachable from this one with d(self)/d(node).

        The grads of the whole graph are set to zero first, so calling ``backward`` again
        gives the same grads instead of adding to them. Nodes are visited in reverse
        topological order: a node passes its gradient on only after it has received all of it.
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for parent, local_grad in zip(node.parents, node.local_grads, strict=True):
                parent.grad += local_grad * node.grad


def _nary(values: tuple, name: str) -> tuple[Value, ...]:
    """Convert the arguments of vsum/vmax to Values, with a clear error for a list or nothing."""
    if len(values) == 0:
        raise ValueError(f"{name} needs at least one value")
    for value in values:
        if not isinstance(value, Value | Real) or isinstance(value, bool | np.bool_):
            raise TypeError(
                f"{name} takes Values or real numbers as separate arguments "
                f"({name}(*values)), got {type(value).__name__}"
            )
    return tuple(_as_value(value) for value in values)


def vsum(*values: Value | float, label: str = "") -> Value:
    """One node adding any number of values; every local gradient is 1.

    Parameters
    ----------
    *values : Value or real number, at least one
    label : str, default ""

    Returns
    -------
    Value
        The sum, with op ``"+"``.

    Raises
    ------
    TypeError
        If an argument is not a Value or a real number (pass a list as ``vsum(*values)``).
    ValueError
        If no value is given.
    """
    parents = _nary(values, "vsum")
    total = math.fsum(parent.data for parent in parents)
    return Value(total, label, op="+", parents=parents, local_grads=(1,) * len(parents))


def vmax(*values: Value | float, label: str = "") -> Value:
    """One MAX node over any number of values.

    The local gradient is 1 for the first of the largest inputs and 0 for the others, so
    backward routes the whole gradient to that one input (the dashed arrow of :func:`draw`).

    Parameters
    ----------
    *values : Value or real number, at least one
    label : str, default ""

    Returns
    -------
    Value
        The maximum, with op ``"max"``.

    Raises
    ------
    TypeError
        If an argument is not a Value or a real number (pass a list as ``vmax(*values)``).
    ValueError
        If no value is given.
    """
    parents = _nary(values, "vmax")
    datas = [parent.data for parent in parents]
    winner = datas.index(max(datas))
    local_grads = tuple(1 if k == winner else 0 for k in range(len(parents)))
    return Value(datas[winner], label, op="max", parents=parents, local_grads=local_grads)


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from `root`, each after all of its parents; `root` is last.

    Parameters
    ----------
    root : Value

    Returns
    -------
    list of Value
        Each node once, parents before children.

    Raises
    ------
    TypeError
        If `root` is not a Value.
    """
    _check_value(root, "root")
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:  # an explicit stack: deep graphs do not hit Python's recursion limit
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in reversed(node.parents))
    return order


# Layout ---------------------------------------------------------------------------------------


@dataclass
class GraphLayout:
    """Where :func:`draw` puts each node and how it routes each edge.

    Attributes
    ----------
    layers : dict Value -> int
        The layer (column) of each node, 0 on the left; every edge goes to a higher layer.
    positions : dict Value -> (x, y)
        The centre of each node's box, in data units.
    routes : dict (Value, int) -> list of (x, y)
        For the edge from ``child.parents[k]`` to ``child``, keyed ``(child, k)``: the points
        from the parent's centre through one routing point per layer it skips to the child's
        centre.
    crossings : int
        The number of edge crossings between adjacent layers in this ordering.
    """

    layers: dict
    positions: dict
    routes: dict
    crossings: int


def _assign_layers(order: list[Value], children: dict[int, list[Value]]) -> dict[int, int]:
    """Longest-path layering: an operation sits one layer right of its rightmost parent;
    a leaf then moves right to sit just left of its leftmost consumer."""
    layer: dict[int, int] = {}
    for node in order:
        layer[id(node)] = 1 + max((layer[id(p)] for p in node.parents), default=-1)
    for node in order:
        if not node.parents and children[id(node)]:
            layer[id(node)] = min(layer[id(c)] for c in children[id(node)]) - 1
    return layer


def _initial_rank(order: list[Value], children: dict[int, list[Value]]) -> dict:
    """A rank for each node that breaks ties: depth-first order from the root, except that a
    leaf ranks with its first consumer, in that consumer's input order (so inputs keep the
    order in which they were combined: s*_11, s*_12, s*_13 from top to bottom)."""
    rank: dict = {id(node): (k, 0) for k, node in enumerate(order)}
    for node in order:
        if not node.parents and children[id(node)]:
            rank[id(node)] = min(
                (rank[id(child)][0], child.parents.index(node)) for child in children[id(node)]
            )
    return rank


def _slot_heights(column: list) -> list[float]:
    return [_NODE_SLOT if isinstance(key, int) else _ROUTE_SLOT for key in column]


def _column_y(column: list) -> dict:
    """Centre a column of slots on y = 0, first slot on top."""
    heights = _slot_heights(column)
    top = sum(heights) / 2
    ys, used = {}, 0.0
    for key, height in zip(column, heights, strict=True):
        ys[key] = top - used - height / 2
        used += height
    return ys


def _pair_crossings(left: list, right: list, down: dict) -> int:
    """Edge crossings between two adjacent columns (each slot's successors are in `down`)."""
    rank = {key: k for k, key in enumerate(right)}
    segments = sorted((i, rank[nxt]) for i, key in enumerate(left) for nxt in down[key])
    total = 0
    for a, (a_left, a_right) in enumerate(segments):
        for b_left, b_right in segments[a + 1 :]:
            if b_left > a_left and b_right < a_right:
                total += 1
    return total


def _count_crossings(columns: list[list], down: dict) -> int:
    """Edge crossings between adjacent columns, summed over the drawing."""
    return sum(
        _pair_crossings(left, right, down)
        for left, right in zip(columns, columns[1:], strict=False)
    )


def _sort_column(
    column: list, neighbour_y: dict, neighbours: dict, mates: dict, rank: dict
) -> list:
    """Order one column top to bottom by the mean height of each slot's neighbours in the
    adjacent column (`neighbour_y`). A slot with no neighbour there (a leaf, in a sweep to
    the right) goes beside the other inputs of its consumer (`mates`)."""
    depth: dict = {}
    for slot in column:
        if neighbours[slot]:
            depth[slot] = -float(np.mean([neighbour_y[other] for other in neighbours[slot]]))
    for slot in column:
        if slot not in depth:
            placed = [(depth[m], offset) for m, offset in mates.get(slot, []) if m in depth]
            depth[slot] = (
                float(np.mean([d for d, _ in placed]))
                + 1e-6 * float(np.mean([o for _, o in placed]))
                if placed
                else float("inf")
            )
    return sorted(column, key=lambda slot: (depth[slot], rank[slot]))


def _sweep_orders(
    columns: list[list], up: dict, down: dict, mates: dict, rank: dict, first: int, sweeps: int
) -> tuple[list[list], int]:
    """Barycentre sweeps over the columns from index `first` on (the columns before it keep
    their order): right to left by children and left to right by parents, each followed by
    swaps of adjacent slots that remove crossings. Returns the first ordering with the fewest
    crossings and that number."""
    current = [sorted(columns[0], key=rank.__getitem__)]
    for column in columns[1:]:
        current.append(_sort_column(column, _column_y(current[-1]), up, mates, rank))
    best = [list(column) for column in current]
    best_crossings = _count_crossings(best, down)
    for sweep in range(sweeps):
        backward = sweep % 2 == 0
        indices = range(len(current) - 2, first - 1, -1) if backward else range(1, len(current))
        for c in indices:
            fixed = current[c + 1] if backward else current[c - 1]
            neighbours = down if backward else up
            current[c] = _sort_column(current[c], _column_y(fixed), neighbours, mates, rank)
        _transpose(current, up, down, first)
        crossings = _count_crossings(current, down)
        if crossings < best_crossings:
            best, best_crossings = [list(column) for column in current], crossings
    return best, best_crossings


def _order_columns(
    columns: list[list], up: dict, down: dict, mates: dict, rank: dict, sweeps: int = 6
) -> tuple[list[list], int]:
    """Order the slots of every column to reduce edge crossings.

    The first column holds leaves only. It keeps their rank order (the order in which they
    were combined: s*_11, s*_12, s*_13), unless letting it move too draws the graph with no
    crossing at all. Every later column starts in the order of the mean height of its parents
    and is then improved by `_sweep_orders`.
    """
    kept = _sweep_orders(columns, up, down, mates, rank, first=1, sweeps=sweeps)
    if kept[1] == 0:
        return kept
    free = _sweep_orders(columns, up, down, mates, rank, first=0, sweeps=sweeps)
    return free if free[1] == 0 else kept


def _transpose(columns: list[list], up: dict, down: dict, first: int) -> None:
    """Swap adjacent slots of each column from index `first` on, in place, where that removes
    crossings."""

    def cost(upper: object, lower: object, position: dict, neighbours: dict) -> int:
        # crossings between the edges of `upper` and of `lower` (upper drawn above lower)
        return sum(position[a] > position[b] for a in neighbours[upper] for b in neighbours[lower])

    for _ in range(10):
        improved = False
        for c in range(first, len(columns)):
            column, sides = columns[c], []
            if c > 0:
                sides.append(({key: k for k, key in enumerate(columns[c - 1])}, up))
            if c + 1 < len(columns):
                sides.append(({key: k for k, key in enumerate(columns[c + 1])}, down))
            for k in range(len(column) - 1):
                upper, lower = column[k], column[k + 1]
                kept = sum(cost(upper, lower, *side) for side in sides)
                swapped = sum(cost(lower, upper, *side) for side in sides)
                if swapped < kept:
                    column[k], column[k + 1] = lower, upper
                    improved = True
        if not improved:
            return


def _fit_column(column: list, wanted: dict) -> dict:
    """Heights for the slots of one column, top to bottom, as close as possible (least squares)
    to `wanted` while each slot stays below the one above it by at least half their two slot
    heights: an isotonic regression, solved by pooling adjacent violators."""
    gaps = [0.0] + [
        (upper + lower) / 2
        for upper, lower in zip(_slot_heights(column), _slot_heights(column)[1:], strict=False)
    ]
    offsets = np.cumsum(gaps)  # y_k + offsets[k] must not increase down the column
    blocks: list[list[float]] = []  # [mean, count] of pooled slots
    for k, slot in enumerate(column):
        blocks.append([wanted[slot] + offsets[k], 1.0])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            mean, count = blocks.pop()
            blocks[-1] = [
                (blocks[-1][0] * blocks[-1][1] + mean * count) / (blocks[-1][1] + count),
                blocks[-1][1] + count,
            ]
    pooled = [mean for mean, count in blocks for _ in range(int(count))]
    return {slot: pooled[k] - offsets[k] for k, slot in enumerate(column)}


def _assign_heights(columns: list[list], up: dict, down: dict, sweeps: int = 8) -> dict:
    """Heights for all slots: start from each column stacked and centred on 0, then move each
    slot towards the mean height of its neighbours in both adjacent columns, column by column,
    so that edges run as straight as the ordering allows."""
    heights = {key: y for column in columns for key, y in _column_y(column).items()}
    for sweep in range(sweeps):
        indices = range(len(columns)) if sweep % 2 == 0 else range(len(columns) - 1, -1, -1)
        for c in indices:
            wanted = {}
            for slot in columns[c]:
                neighbours = up[slot] + down[slot]
                wanted[slot] = (
                    float(np.mean([heights[other] for other in neighbours]))
                    if neighbours
                    else heights[slot]
                )
            heights.update(_fit_column(columns[c], wanted))
    return heights


def layered_layout(root: Value) -> GraphLayout:
    """Lay the graph of `root` out in layers from left (leaves) to right (root).

    Layers come from longest-path layering; an edge that skips layers gets one routing point
    per skipped layer. The leaves of the first layer keep their index order (the order in which
    they were combined), every later layer follows the mean height of its parents, and sweeps
    of barycentre ordering and adjacent swaps then reduce edge crossings.

    Parameters
    ----------
    root : Value

    Returns
    -------
    GraphLayout

    Raises
    ------
    TypeError
        If `root` is not a Value.
    """
    order = topological_order(root)
    nodes = {id(node): node for node in order}
    children: dict[int, list[Value]] = {id(node): [] for node in order}
    for node in order:
        for parent in node.parents:
            children[id(parent)].append(node)
    layer = _assign_layers(order, children)
    rank = _initial_rank(order, children)

    # A slot is id(node) for a node and (id(child), k, layer) for a routing point of the edge
    # from child.parents[k]; up/down hold each slot's neighbours in the adjacent columns, and
    # mates, for a leaf, the other inputs of its first consumer with the leaf's input offset.
    columns: list[list] = [[] for _ in range(max(layer.values()) + 1)]
    up: dict = {id(node): [] for node in order}
    down: dict = {id(node): [] for node in order}
    chains: dict[tuple[int, int], list] = {}
    entering: dict[int, list] = {id(node): [] for node in order}
    for node in order:
        columns[layer[id(node)]].append(id(node))
        for k, parent in enumerate(node.parents):
            chain = [id(parent)]
            for skipped in range(layer[id(parent)] + 1, layer[id(node)]):
                point = (id(node), k, skipped)
                rank[point] = (rank[id(node)][0], -1 - k)  # routing points are not leaves
                up[point], down[point] = [], []
                columns[skipped].append(point)
                chain.append(point)
            chain.append(id(node))
            for before, after in zip(chain, chain[1:], strict=False):
                down[before].append(after)
                up[after].append(before)
            chains[(id(node), k)] = chain
            entering[id(node)].append((chain[-2], k))
    mates: dict = {}
    for node in order:
        if node.parents or not children[id(node)]:
            continue
        consumer = min(children[id(node)], key=lambda child: layer[id(child)])
        own = consumer.parents.index(node)
        mates[id(node)] = [
            (slot, own - k) for slot, k in entering[id(consumer)] if slot != id(node)
        ]
    for node in order:  # non-leaves rank after every leaf of their column
        if node.parents:
            rank[id(node)] = (rank[id(node)][0], -1)

    columns, crossings = _order_columns(columns, up, down, mates, rank)

    heights = _assign_heights(columns, up, down)
    xy = {key: (c * _LAYER_GAP, heights[key]) for c, column in enumerate(columns) for key in column}
    return GraphLayout(
        layers={node: layer[id(node)] for node in order},
        positions={node: xy[id(node)] for node in order},
        routes={
            (nodes[child_id], k): [xy[key] for key in chain]
            for (child_id, k), chain in chains.items()
        },
        crossings=crossings,
    )


# Drawing --------------------------------------------------------------------------------------


def _format(number: float, digits: int) -> str:
    """`number` with `digits` decimals, or in scientific notation if it is nonzero but would
    round to zero that way (eps = 1e-05 reads 1e-05, not 0.000). Values below 1e-12 in size
    are the rounding noise of float64 at the scale of these graphs and read as 0."""
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
    _check_value(root, name)
    if show_grad and root.grad != 1.0:
        raise ValueError(
            f"{name}.grad must be 1: call {name}.backward() before drawing it with "
            "show_grad=True, or pass show_grad=False"
        )


def _limits(layout: GraphLayout) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x and y limits that show every box and route of a layout with a small margin."""
    xs = [x for x, _ in layout.positions.values()]
    ys = [y for (_, y) in layout.positions.values()] + [
        y for route in layout.routes.values() for _, y in route
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
    the size of the axes is final. A number that would round to zero at `digits` decimals but
    is not zero is written in scientific notation (1e-05).

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

    Returns
    -------
    fig : matplotlib Figure
    ax : matplotlib Axes

    Raises
    ------
    TypeError
        If `root` is not a Value, `ax` is not an Axes, `show_grad` is not a bool or `digits`
        is not an int.
    ValueError
        If `digits` is outside 0..10, or `show_grad` is set but ``root.grad`` is not 1 (backward
        has not been run from this root).
    """
    _check_value(root, "root")
    if ax is not None and not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    _check_draw_options(show_grad, digits)
    _check_root(root, show_grad)

    layout = layered_layout(root)
    xlim, ylim = _limits(layout)
    if ax is None:
        width = _INCHES_PER_UNIT * (xlim[1] - xlim[0]) + 0.2
        height = _INCHES_PER_UNIT * (ylim[1] - ylim[0]) + (0.5 if title else 0.2)
        fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    else:
        fig = ax.figure

    ports = _ports(layout)
    lines, labelled, texts = {}, [], []
    for (child, k), route in layout.routes.items():
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
) -> tuple[plt.Figure, list[plt.Axes]]:
    """Draw several graphs one above the other at one common scale.

    Each graph gets an axes as wide as the graph itself, centred in the figure, so that the
    boxes of every panel have the same size, whatever the number of layers of each graph
    (the stages of a graph cut by :func:`batchnorm_graph`, for instance).

    Parameters
    ----------
    roots : list of Value, at least one
        The output node of each graph, drawn from top to bottom. With `show_grad`, each
        ``root.backward()`` (or that of a :func:`seeded_root` over it) must have been called.
    titles : list of str, optional
        One title per graph.
    show_grad, digits
        As in :func:`draw`.
    inches_per_unit : float, default 0.8
        The scale: inches per unit of the layout (a box is 1.2 units wide). Below about 0.7
        the fonts shrink to keep the text inside the boxes.

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
        `inches_per_unit` is not > 0, or a root's grad is not 1 while `show_grad` is set.
    """
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
    scale = _check_real(inches_per_unit, "inches_per_unit")
    if scale <= 0:
        raise ValueError(f"inches_per_unit must be > 0, got {scale}")

    extents = []
    for root in roots:
        xlim, ylim = _limits(layered_layout(root))
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
        )
        axes.append(ax)
        top -= height
    return fig, axes


# The two graphs of the softmax loss -----------------------------------------------------------


def normalized_score_graph(raw_scores_row, j: int, *, sample: int = 0) -> tuple[Value, list]:
    """The graph of one normalized score, s_ij = s*_ij - max_k s*_ik.

    Parameters
    ----------
    raw_scores_row : array_like of real numbers, shape (C,), C >= 1
        The raw scores s*_i1 .. s*_iC of one sample, finite.
    j : int
        The class of the normalized score, 0-based: 0 <= j < C.
    sample : int, default 0
        The 0-based index i of the sample, used only in the labels.

    Returns
    -------
    score : Value
        The node s_ij (labels use the 1-based indices of the text: s_11 for i = j = 0).
    raw_scores : list of Value, length C
        The leaves s*_i1 .. s*_iC.

    Raises
    ------
    TypeError
        If `raw_scores_row` does not hold real numbers or `j` or `sample` is not an int.
    ValueError
        If `raw_scores_row` is not 1-D with at least one finite entry, `j` is outside
        0..C-1, or `sample` is negative.
    """
    row = np.asarray(raw_scores_row)
    if not (np.issubdtype(row.dtype, np.floating) or np.issubdtype(row.dtype, np.integer)):
        raise TypeError(f"raw_scores_row must hold real numbers, got dtype {row.dtype}")
    if row.ndim != 1 or row.size < 1:
        raise ValueError(f"raw_scores_row must have shape (C,) with C >= 1, got {row.shape}")
    for name, index in (("j", j), ("sample", sample)):
        if isinstance(index, bool | np.bool_) or not isinstance(index, Integral):
            raise TypeError(f"{name} must be an int, got {type(index).__name__}")
    if not 0 <= j < row.size:
        raise ValueError(f"j must be a class index in 0..C-1 = 0..{row.size - 1}, got {j}")
    if sample < 0:
        raise ValueError(f"sample must be >= 0, got {sample}")
    i = sample + 1
    raw_scores = [
        Value(_check_real(score, "each raw score"), f"$s^*_{{{i}{c + 1}}}$")
        for c, score in enumerate(row.tolist())
    ]
    row_max = vmax(*raw_scores, label=f"$m_{{{i}}}$")
    score = (raw_scores[j] - row_max).named(f"$s_{{{i}{j + 1}}}$")
    return score, raw_scores


def softmax_loss_graph(scores, y) -> tuple[Value, list[list[Value]]]:
    """The graph of the mean cross-entropy loss of softmax probabilities, gate by gate.

    For each sample i: MAX node m_i over the raw scores, normalized scores
    s_ij = s*_ij - m_i, exp nodes, their sum Z_i, the softmax node p_i = exp(s_iy_i) / Z_i and
    log p_i; then loss = -(sum_i log p_i) / N. With N = 2 and C = 3 the graph has 30 nodes.

    Parameters
    ----------
    scores : array_like of real numbers, shape (N, C)
        Raw scores s*_ij, finite. Computed in float64.
    y : array_like of int, shape (N,)
        Correct classes, 0-based, 0 <= y_i < C.

    Returns
    -------
    loss : Value
        The loss node; ``loss.backward()`` fills the grads.
    raw_scores : list of N lists of C Values
        The leaves s*_ij; after backward, their grads are d loss / d s*_ij.

    Raises
    ------
    TypeError
        If `scores` does not hold real numbers or `y` does not hold integers.
    ValueError
        If the shapes are not (N, C) and (N,), a score is not finite, a label is outside
        0..C-1, or a probability p_i underflows to 0 (log of 0).
    """
    scores, y = _check_scores(scores, y)
    n_samples = scores.shape[0]
    raw_scores, log_probs = [], []
    for i, row in enumerate(scores.tolist()):
        row_values = [Value(score, f"$s^*_{{{i + 1}{c + 1}}}$") for c, score in enumerate(row)]
        row_max = vmax(*row_values, label=f"$m_{{{i + 1}}}$")
        exps = []
        for c, raw in enumerate(row_values):
            normalized = (raw - row_max).named(f"$s_{{{i + 1}{c + 1}}}$")
            exps.append(normalized.exp().named(f"$e_{{{i + 1}{c + 1}}}$"))
        total = vsum(*exps, label=f"$Z_{{{i + 1}}}$")
        prob = (exps[y[i]] / total).named(f"$p_{{{i + 1}{y[i] + 1}}}$")
        log_probs.append(prob.log())
        raw_scores.append(row_values)
    loss = (-vsum(*log_probs)) / n_samples
    return loss.named("loss"), raw_scores


# Batch normalization, and backward by stages --------------------------------------------------


def seeded_root(
    nodes: Sequence[Value], grads: Sequence[float], *, label: str = r"$\tilde L$"
) -> Value:
    """A stand-in root from which backward starts with the given gradients at the given nodes.

    The root is ``L~ = sum_k nodes[k] * gbar_k``, where each ``gbar_k`` is a new leaf labelled
    ``$\\bar g$`` that holds ``grads[k]``. Since ``d L~ / d nodes[k] = grads[k]``, calling
    ``backward()`` on it sends ``grads[k]`` back from ``nodes[k]`` as if a later stage of the
    graph had sent it: this is how a graph cut in stages is backpropagated one stage at a time.
    A seeded node that another seeded node depends on receives its own seed plus what flows
    back through that node, as it would in the uncut graph.

    Parameters
    ----------
    nodes : list of Value, at least one
        The end nodes of a stage.
    grads : list of float, one per node
        The gradient that the next stage sent back to each of them; finite.
    label : str, default ``"$\\tilde L$"``
        The label of the root.

    Returns
    -------
    Value
        The root, with op ``"+"``; call its ``backward()``.

    Raises
    ------
    TypeError
        If `nodes` or `grads` is not a list or tuple, a node is not a Value, a gradient is not
        a real number, or `label` is not a string.
    ValueError
        If `nodes` is empty, `grads` does not hold one gradient per node, or a gradient is not
        finite.
    """
    nodes, grads = _check_seeds(nodes, grads)
    seeds = [node * Value(grad, r"$\bar g$") for node, grad in zip(nodes, grads, strict=True)]
    return vsum(*seeds, label=label)


@dataclass(frozen=True)
class BatchNormGraph:
    """The nodes of the graph of batch normalization for one feature, from :func:`batchnorm_graph`.

    Stage 1, the statistics: ``x -> mean -> centered -> var``. Stage 2, the inverse standard
    deviation: ``var_in -> var + eps -> std -> inv_std``. Stage 3, the output:
    ``centered_in, inv_std_in, gamma, beta -> xhat -> out -> loss``. In a cut graph, ``var_in``,
    ``centered_in`` and ``inv_std_in`` are new leaves holding the values of ``var``,
    ``centered`` and ``inv_std``, so the three stages are three separate graphs; in an uncut
    graph they are those nodes themselves.

    Attributes
    ----------
    x : list of Value, length N
        The leaves x_k.
    mean : Value
        The batch mean mu.
    centered : list of Value, length N
        x_k - mu, as stage 1 computes them.
    var : Value
        The biased batch variance sigma^2, the end of stage 1.
    var_in : Value
        sigma^2 as it enters stage 2.
    std : Value
        s = sqrt(sigma^2 + eps).
    inv_std : Value
        1/s, the end of stage 2.
    centered_in : list of Value, length N
        x_k - mu as they enter stage 3.
    inv_std_in : Value
        1/s as it enters stage 3.
    gamma : Value
        The leaf gamma, the scale.
    beta : Value
        The leaf beta, the shift.
    xhat : list of Value, length N
        The normalized inputs (x_k - mu) / s.
    out : list of Value, length N
        The outputs y_k = gamma * xhat_k + beta.
    dout : list of Value, length N
        The leaves g_k, the upstream gradient.
    loss : Value
        The stand-in loss L = sum_k g_k y_k, the end of stage 3; d L / d y_k = g_k.
    """

    x: list[Value]
    mean: Value
    centered: list[Value]
    var: Value
    var_in: Value
    std: Value
    inv_std: Value
    centered_in: list[Value]
    inv_std_in: Value
    gamma: Value
    beta: Value
    xhat: list[Value]
    out: list[Value]
    dout: list[Value]
    loss: Value

    @property
    def stage_roots(self) -> tuple[Value, Value, Value]:
        """The end nodes of the three stages, ``(var, inv_std, loss)``."""
        return self.var, self.inv_std, self.loss


def _enter_stage(node: Value, cut: bool) -> Value:
    """`node` as the next stage sees it: a new leaf with its value and label if `cut`."""
    return Value(node.data, node.label) if cut else node


def batchnorm_graph(
    x, gamma: float, beta: float, dout, eps: float = 1e-5, *, cut: bool = True
) -> BatchNormGraph:
    """The graph of batch normalization in training mode for one feature, in three stages.

    Gate by gate: mu = (sum_k x_k) / N, x_k - mu, sigma^2 = (sum_k (x_k - mu)^2) / N,
    s = sqrt(sigma^2 + eps), 1/s = 1 / s, xhat_k = (x_k - mu) * (1/s),
    y_k = gamma * xhat_k + beta and the stand-in loss L = sum_k g_k y_k, whose gradient with
    respect to y_k is the upstream gradient g_k = dout_k. These are the nodes of
    :func:`backprop_utils.batchnorm.batchnorm_backward`. The graph is cut after sigma^2 (stage 1,
    the statistics) and after 1/s (stage 2, the inverse standard deviation); stage 3 is the
    output. Backpropagate a cut graph stage by stage, from the last one, with
    :func:`seeded_root`.

    Parameters
    ----------
    x : array_like of real numbers, shape (N,), N >= 2
        One feature of a batch, finite.
    gamma : float
        Scale, finite.
    beta : float
        Shift, finite.
    dout : array_like of real numbers, shape (N,)
        The upstream gradient d L / d y, finite.
    eps : float, default 1e-5
        Positive constant added to the variance.
    cut : bool, default True
        Cut the graph into three separate stages (True), or build it in one piece (False).

    Returns
    -------
    BatchNormGraph
        Every node the stages are made of. ``loss.backward()`` on an uncut graph fills the grads
        of ``x``, ``gamma`` and ``beta`` with dx, dgamma and dbeta.

    Raises
    ------
    TypeError
        If `x` or `dout` does not hold real numbers, `gamma`, `beta` or `eps` is not a real
        number, or `cut` is not a bool.
    ValueError
        If `x` is not 1-D with at least 2 entries, `dout` does not have the shape of `x`, a
        number is not finite, `eps` is not > 0, or a node's value overflows float64.
    """
    x, gamma, beta, dout, eps = _check_batchnorm(x, gamma, beta, dout, eps, cut)
    n_samples = len(x)
    sub = [f"_{{{k + 1}}}" for k in range(n_samples)]  # 1-based subscripts: x_{1} .. x_{N}

    # Stage 1, the statistics: x_k -> mu -> x_k - mu -> sigma^2
    xs = [Value(value, f"$x{sub[k]}$") for k, value in enumerate(x)]
    mean = (vsum(*xs) / n_samples).named(r"$\mu$")
    centered = [(x_k - mean).named(f"$x{sub[k]}-\\mu$") for k, x_k in enumerate(xs)]
    var = (vsum(*[c * c for c in centered]) / n_samples).named(r"$\sigma^2$")

    # Stage 2, the inverse standard deviation: sigma^2 -> s = sqrt(sigma^2 + eps) -> 1/s
    var_in = _enter_stage(var, cut)
    var_eps = (var_in + Value(eps, r"$\epsilon$")).named(r"$\sigma^2+\epsilon$")
    std = var_eps.sqrt().named("$s$")
    inv_std = (1 / std).named("$1/s$")

    # Stage 3, the output: x_k - mu and 1/s -> xhat_k -> y_k -> L = sum_k g_k y_k
    centered_in = [_enter_stage(c, cut) for c in centered]
    inv_std_in = _enter_stage(inv_std, cut)
    gamma_leaf, beta_leaf = Value(gamma, r"$\gamma$"), Value(beta, r"$\beta$")
    xhat = [(c * inv_std_in).named(f"$\\hat{{x}}{sub[k]}$") for k, c in enumerate(centered_in)]
    out = [(gamma_leaf * h + beta_leaf).named(f"$y{sub[k]}$") for k, h in enumerate(xhat)]
    dout_leaves = [Value(g, f"$g{sub[k]}$") for k, g in enumerate(dout)]
    loss = vsum(*[y * g for y, g in zip(out, dout_leaves, strict=True)], label="$L$")
    return BatchNormGraph(
        x=xs,
        mean=mean,
        centered=centered,
        var=var,
        var_in=var_in,
        std=std,
        inv_std=inv_std,
        centered_in=centered_in,
        inv_std_in=inv_std_in,
        gamma=gamma_leaf,
        beta=beta_leaf,
        xhat=xhat,
        out=out,
        dout=dout_leaves,
        loss=loss,
    )
