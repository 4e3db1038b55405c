"""A scalar computation-graph recorder: the engine behind the book's graphs.

A :class:`Value` holds one number. Combining Values with ``+ - * /``, unary ``-``, ``exp``,
``log``, ``sqrt``, :func:`vsum` or :func:`vmax` records a node with its operation, its parents
and its *local gradients* d(node)/d(parent). :meth:`Value.backward` applies the chain rule in
reverse :func:`topological_order`, so each node passes on its whole *upstream gradient*; a
parent used twice (a fork) receives the sum. Arithmetic is float64; a value or gradient that
overflows raises a ValueError instead of becoming inf or nan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real

__all__ = ["OPS", "Value", "topological_order", "vmax", "vsum"]

#: The operations a node can record; ``""`` marks a leaf.
OPS = ("", "+", "-", "*", "/", "neg", "exp", "log", "sqrt", "max")


def _as_float(x: object, name: str) -> float:
    """`x` as a float; a TypeError or ValueError naming `name` if it is not a real number."""
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{name} must be a real number (int or float), got {type(x).__name__}")
    try:
        return float(x)
    except OverflowError:  # an int beyond float64
        raise ValueError(f"{name} is too large for float64 (|{name}| > 1.8e308)") from None


def _check_node(
    data: object, label: object, op: object, parents: Iterable, local_grads: Iterable
) -> tuple[float, tuple[Value, ...], tuple[float, ...]]:
    """Validate the arguments of Value; return data, parents and local_grads as floats and tuples.

    A gate whose value or local gradient overflows float64 is reported with its operands."""
    for name, text in (("label", label), ("op", op)):
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    if op not in OPS:
        raise ValueError(f"op must be one of {sorted(OPS)}, got {op!r}")
    parents = tuple(parents)
    for parent in parents:
        if not isinstance(parent, Value):
            raise TypeError(f"each parent must be a Value, got {type(parent).__name__}")
    data = _as_float(data, "data")
    local_grads = tuple(_as_float(grad, "each local gradient") for grad in local_grads)
    if len(parents) != len(local_grads):
        raise ValueError(
            f"parents and local_grads must have the same length, "
            f"got {len(parents)} and {len(local_grads)}"
        )
    if not all(map(math.isfinite, (data, *local_grads))):
        if not parents:
            raise ValueError(f"data must be finite, got {data}")
        what = "local gradient" if math.isfinite(data) else "value"
        shown = ", ".join(f"{parent.data:.6g}" for parent in parents[:4])
        shown += ", ..." if len(parents) > 4 else ""
        raise ValueError(f"the {what} of {op!r} at operands ({shown}) overflows float64")
    return data, parents, local_grads


def _as_value(x: object) -> Value:
    """A Value as it is; a real number as a constant leaf labelled with it."""
    if isinstance(x, Value):
        return x
    constant = _as_float(x, "operand")
    return Value(constant, label=f"{constant:g}")


class Value:
    """One scalar node of a computation graph.

    Parameters
    ----------
    data : int or float
        The forward value, finite; stored as a float.
    label : str, default ""
        A name drawn in the node (matplotlib mathtext such as ``"$s_{11}$"`` works).
    op, parents, local_grads : str, tuple of Value, tuple of float
        Set by the gates: the operation (one of :data:`OPS`, ``""`` for a leaf), its inputs and
        d(this node)/d(parent) for each parent at the forward values.

    Attributes
    ----------
    grad : float
        d(root)/d(this node) after ``root.backward()``; 0.0 before.

    Raises
    ------
    TypeError, ValueError
        For a number that is not real or not finite (a gate that overflows names its
        operands), a label or op that is not a string, an unknown op, or a parent that is not
        a Value or has no local gradient.
    """

    # Make NumPy scalars defer to Value's reflected operators (np.float64(2) * v is a Value).
    __array_ufunc__ = None

    def __init__(
        self,
        data: float,
        label: str = "",
        *,
        op: str = "",
        parents: Iterable[Value] = (),
        local_grads: Iterable[float] = (),
    ) -> None:
        self.data, self.parents, self.local_grads = _check_node(
            data, label, op, parents, local_grads
        )
        self.grad = 0.0
        self.label = label
        self.op = op

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

    # Gates: each returns a new node with its local gradients d(out)/d(operand) ----------------

    def __add__(self, other: Value | float) -> Value:
        other = _as_value(other)
        return Value(self.data + other.data, op="+", parents=(self, other), local_grads=(1, 1))

    def __sub__(self, other: Value | float) -> Value:
        other = _as_value(other)
        return Value(self.data - other.data, op="-", parents=(self, other), local_grads=(1, -1))

    def __mul__(self, other: Value | float) -> Value:
        other = _as_value(other)
        local_grads = (other.data, self.data)
        return Value(self.data * other.data, op="*", parents=(self, other), local_grads=local_grads)

    def __truediv__(self, other: Value | float) -> Value:
        other = _as_value(other)
        if other.data == 0.0:
            raise ValueError("the divisor must be nonzero, got 0")
        quotient = self.data / other.data
        # d(a/b)/db = -a/b**2, computed as -(a/b)/b so that b**2 cannot overflow or underflow
        local_grads = (1.0 / other.data, -quotient / other.data)
        return Value(quotient, op="/", parents=(self, other), local_grads=local_grads)

    def __radd__(self, other: float) -> Value:
        return _as_value(other) + self

    def __rsub__(self, other: float) -> Value:
        return _as_value(other) - self

    def __rmul__(self, other: float) -> Value:
        return _as_value(other) * self

    def __rtruediv__(self, other: float) -> Value:
        return _as_value(other) / self

    def __neg__(self) -> Value:
        return Value(-self.data, op="neg", parents=(self,), local_grads=(-1,))

    def exp(self) -> Value:
        """e**x; its local gradient is e**x itself. ValueError if it overflows (x > 709.78)."""
        try:
            out = math.exp(self.data)
        except OverflowError:
            out = math.inf  # reported by the new node, with its operand
        return Value(out, op="exp", parents=(self,), local_grads=(out,))

    def log(self) -> Value:
        """Natural logarithm; its local gradient is 1/x. ValueError unless x > 0."""
        if self.data <= 0.0:
            raise ValueError(f"log needs a positive input, got {self.data}")
        return Value(math.log(self.data), op="log", parents=(self,), local_grads=(1 / self.data,))

    def sqrt(self) -> Value:
        """Square root; its local gradient is 1 / (2 sqrt(x)). ValueError unless x > 0."""
        if self.data <= 0.0:
            raise ValueError(
                f"sqrt needs a positive input (its gradient at 0 is infinite), got {self.data}"
            )
        out = math.sqrt(self.data)
        return Value(out, op="sqrt", parents=(self,), local_grads=(0.5 / out,))

    # The chain rule ---------------------------------------------------------------------------

    def backward(self) -> None:
        """Fill ``grad`` of every node reachable from here with d(self)/d(node).

        Every grad of the graph is reset first, so a second call gives the
        same grads. In reverse topological order, each node already holds its
        whole upstream gradient when it passes ``local gradient * upstream
        gradient`` on to each of its parents. A gradient that overflows
        float64 raises a ValueError.
        """
        order = topological_order(self)  # parents before children, self last
        for node in order:
            node.grad = 0.0
        self.grad = 1.0  # d(self)/d(self)
        for node in reversed(order):  # node.grad: its whole upstream gradient
            pairs = zip(node.parents, node.local_grads, strict=True)
            for parent, local_grad in pairs:
                parent.grad += local_grad * node.grad  # the chain rule
        if not all(math.isfinite(node.grad) for node in order):
            raise ValueError("a gradient overflows float64 in backward")


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from `root`, each after all of its parents.

    A depth-first search: a node is appended once all of its parents have
    been, so `root` comes last. It keeps its own stack instead of recursing,
    so a graph deeper than Python's recursion limit works too. A `root` that
    is not a Value raises a TypeError.
    """
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    order: list[Value] = []
    visited: set[Value] = set()
    stack = [(root, False)]  # (node, are its parents already in order?)
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))  # popped again after its parents
            stack.extend((parent, False) for parent in reversed(node.parents))
    return order


def _operands(values: tuple, name: str) -> tuple[Value, ...]:
    """The arguments of vsum or vmax as Values; an error for none or for a list."""
    if len(values) == 0:
        raise ValueError(f"{name} needs at least one value")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Value | Real):
            raise TypeError(
                f"{name} takes Values or real numbers as separate arguments "
                f"({name}(*values)), got {type(value).__name__}"
            )
    return tuple(_as_value(value) for value in values)


def vsum(*values: Value | float, label: str = "") -> Value:
    """One ``"+"`` node adding any number of Values or numbers; every local gradient is 1.

    TypeError for an argument that is not a Value or a number (pass a list as ``vsum(*values)``);
    ValueError for no argument or a sum that overflows float64.
    """
    parents = _operands(values, "vsum")
    try:
        total = math.fsum(parent.data for parent in parents)
    except OverflowError:
        total = math.inf  # reported by the new node, with its operands
    return Value(total, label, op="+", parents=parents, local_grads=(1,) * len(parents))


def vmax(*values: Value | float, label: str = "") -> Value:
    """One ``"max"`` node over any number of Values or numbers.

    The local gradient is 1 for the first of the largest inputs and 0 for the others: backward
    routes the whole gradient to that one input. Errors as for :func:`vsum`.
    """
    parents = _operands(values, "vmax")
    datas = [parent.data for parent in parents]
    winner = datas.index(max(datas))
    local_grads = tuple(1 if k == winner else 0 for k in range(len(parents)))
    return Value(datas[winner], label, op="max", parents=parents, local_grads=local_grads)
