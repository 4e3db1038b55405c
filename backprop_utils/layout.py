"""A layered layout of a computation graph, left (leaves) to right (root), for drawing.

:func:`layered_layout` puts each node of the graph of a :class:`~backprop_utils.engine.Value` in
a layer (a column): an operation one layer right of its rightmost parent, a leaf just left of its
first consumer. An edge that skips layers runs through one routing point per skipped layer. The
leaves of the first layer keep the order in which they were combined (s*_11, s*_12, s*_13 from
top to bottom), every later layer follows the mean height of its parents, and sweeps of
barycentre ordering and swaps of neighbours then reduce the edge crossings. Last, each slot moves
towards the mean height of its neighbours, so that edges run as straight as the order allows.
The drawing itself is :func:`backprop_utils.draw.draw`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backprop_utils.engine import Value, topological_order

__all__ = ["GraphLayout", "layered_layout"]

# Geometry, in data units: the distance between layers and the height of a node's slot and of
# a routing point's slot in its column (a drawn box is less than a slot high).
_LAYER_GAP = 2.5
_NODE_SLOT = 1.0
_ROUTE_SLOT = 0.35


@dataclass
class GraphLayout:
    """Where :func:`~backprop_utils.draw.draw` puts each node and how it routes each edge.

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
