"""Show the module's own source code on a page, highlighted.

:func:`show_source` takes a function, class or method of ``backprop_utils`` and returns a
:class:`Source`, an object whose rich display is a fenced ``python`` code block in Markdown
(``text/markdown``) with its plain text as a fallback. JupyterLab renders that Markdown with
highlighting, and MyST-NB parses it into a highlighted literal block in the book's HTML and
LaTeX/PDF builds. The chapters therefore show the very code the tests check, never a pasted copy.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from numbers import Integral

__all__ = ["Source", "show_source"]


class Source:
    """Source code that notebooks display as a highlighted ``python`` code block.

    Parameters
    ----------
    code : str
        The code, without a trailing newline.
    name : str
        The qualified name of the object it comes from, such as ``"backprop_utils.engine.Value"``.

    Attributes
    ----------
    code, name
        As given.
    """

    def __init__(self, code: str, name: str) -> None:
        self.code = code
        self.name = name

    def _repr_markdown_(self) -> str:
        # A fence longer than any run of backticks in the code, so the code cannot close it.
        longest = max((len(run) for run in re.findall(r"`+", self.code)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}python\n{self.code}\n{fence}\n"

    def __repr__(self) -> str:
        return self.code

    def __str__(self) -> str:
        return self.code


def _check_source(obj: object, docstring: object, lines: object) -> object:
    """Validate the arguments of show_source; return the plain function or class to read."""
    if inspect.ismethod(obj):  # a bound method: its function
        obj = obj.__func__
    obj = inspect.unwrap(obj)  # a decorated function (functools.lru_cache): the one it wraps
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        raise TypeError(
            f"obj must be a function, class or method of backprop_utils, got {type(obj).__name__}"
        )
    module = getattr(obj, "__module__", None) or ""
    if module != "backprop_utils" and not module.startswith("backprop_utils."):
        raise TypeError(
            f"obj must be a function, class or method of backprop_utils, got "
            f"{obj.__qualname__} from module {module or 'unknown'}"
        )
    if not isinstance(docstring, bool):
        raise TypeError(f"docstring must be a bool, got {type(docstring).__name__}")
    if lines is not None:
        if (
            not isinstance(lines, tuple)
            or len(lines) != 2
            or not all(isinstance(k, Integral) and not isinstance(k, bool) for k in lines)
        ):
            raise TypeError(
                f"lines must be None or a tuple (first, last) of two ints, got {lines!r}"
            )
        if not 1 <= lines[0] <= lines[1]:
            raise ValueError(f"lines must satisfy 1 <= first <= last, got {lines}")
    return obj


def _docstring_lines(code: str) -> set[int]:
    """The 1-based line numbers of the docstring of the function or class that `code` defines."""
    definition = ast.parse(code).body[0]
    body = definition.body
    if not (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return set()
    skipped = set(range(body[0].lineno, body[0].end_lineno + 1))
    following = body[0].end_lineno + 1  # a blank line after the docstring goes with it
    if following <= len(code.split("\n")) and not code.split("\n")[following - 1].strip():
        skipped.add(following)
    return skipped


def _between(numbered: list, start: str | None, stop: str | None, name: str) -> list:
    """The lines from the first that contains `start` to the next that contains `stop`."""
    texts = [line for _, line in numbered]
    first = 0
    if start is not None:
        found = [k for k, line in enumerate(texts) if start in line]
        if not found:
            raise ValueError(f"start {start!r} is in no line of the source of {name}")
        first = found[0]
    last = len(texts) - 1
    if stop is not None:
        found = [k for k, line in enumerate(texts) if k >= first and stop in line]
        if not found:
            raise ValueError(f"stop {stop!r} is in no line of the source of {name} after start")
        last = found[0]
    return numbered[first : last + 1]


def show_source(
    obj: object,
    *,
    docstring: bool = True,
    lines: tuple[int, int] | None = None,
    start: str | None = None,
    stop: str | None = None,
) -> Source:
    """The source code of a function, class or method of ``backprop_utils``, for display.

    Parameters
    ----------
    obj : function, class or method of backprop_utils
        What to show, for example ``Value.backward`` or ``softmax_loss_naive``.
    docstring : bool, default True
        Show the docstring; with False, the docstring's lines are left out.
    lines : tuple (first, last) of int, optional
        Show only lines first..last (1-based, inclusive) of the object's source, the ``def`` or
        ``class`` line (or its first decorator) being line 1; a range past the end stops at the
        end. Combined with ``docstring=False``, docstring lines in the range are left out too.
    start, stop : str, optional
        Show only the lines from the first that contains `start` to the first line from there
        on that contains `stop` (both included): an excerpt that follows the code when lines
        are added above it, as a range of line numbers does not. Applied after `lines`.

    Returns
    -------
    Source
        Displays as a highlighted code block (``text/markdown``); ``str()`` and ``repr()`` give
        the code itself, dedented to the left margin.

    Raises
    ------
    TypeError
        If `obj` is not a function, class or method defined in ``backprop_utils``, `docstring`
        is not a bool, `lines` is not a pair of ints, or `start` or `stop` is not a string.
    ValueError
        If `lines` is not 1 <= first <= last, or selects no line of the source, or no line
        contains `start`, or none from there on contains `stop`.
    """
    obj = _check_source(obj, docstring, lines)
    for name, text in (("start", start), ("stop", stop)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{name} must be None or a string, got {type(text).__name__}")
    code = textwrap.dedent(inspect.getsource(obj)).rstrip("\n")
    numbered = list(enumerate(code.split("\n"), start=1))
    if not docstring:
        skipped = _docstring_lines(code)
        numbered = [(k, line) for k, line in numbered if k not in skipped]
    if lines is not None:
        first, last = lines
        numbered = [(k, line) for k, line in numbered if first <= k <= last]
        if not numbered:
            raise ValueError(f"lines {lines} select no line of the source of {obj.__qualname__}")
    if start is not None or stop is not None:
        numbered = _between(numbered, start, stop, obj.__qualname__)
    shown = textwrap.dedent("\n".join(line for _, line in numbered))
    return Source(shown, f"{obj.__module__}.{obj.__qualname__}")
