"""Tables for the chapters' printed results (timings, gradient checks, training runs).

:func:`html_table` returns an :class:`HtmlTable`: the HTML of the table, which JupyterLab and
the HTML book show, that also renders as a Markdown table, which the PDF typesets (Sphinx's
LaTeX builder cannot show HTML). A chapter ends a cell with ``html_table(...)`` to show one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

__all__ = ["HtmlTable", "html_table"]

# Characters that mean something inside a Markdown table cell; a backslash makes each literal.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|$~&])")


class HtmlTable(str):
    """The HTML of a table (the string itself), also shown as a Markdown table.

    Jupyter front ends and the HTML book display the HTML (``_repr_html_``); renderers without
    HTML, such as Sphinx's LaTeX builder, display the Markdown (``_repr_markdown_``); a terminal
    shows aligned plain text. Build one with :func:`html_table`.

    Attributes
    ----------
    header : tuple of str, length K
        The column titles, as given to ``str``.
    rows : tuple of tuples of str, each of length K
        The entries, as given to ``str``.
    caption : str or None
        The caption.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str | None

    def __new__(
        cls, header: tuple[str, ...], rows: tuple[tuple[str, ...], ...], caption: str | None
    ) -> HtmlTable:
        title = f"<caption>{html.escape(caption)}</caption>" if caption is not None else ""
        head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in rows
        )
        table = super().__new__(
            cls, f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
        table.header, table.rows, table.caption = header, rows, caption
        return table

    def _repr_html_(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        lines = [_markdown_row(self.header), "|" + " --- |" * len(self.header)]
        lines += [_markdown_row(row) for row in self.rows]
        title = f"{_markdown_cell(self.caption)}\n\n" if self.caption is not None else ""
        return title + "\n".join(lines) + "\n"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        widths = [max(map(len, column)) for column in zip(self.header, *self.rows, strict=True)]
        lines = [self.caption] if self.caption is not None else []
        for row in (self.header, *self.rows):
            padded = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append("  ".join(padded).rstrip())
        printer.text("\n".join(lines))


def _markdown_cell(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _markdown_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |"


def _check_table(
    header: object, rows: object, caption: object
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Validate html_table's arguments; return the header and rows as tuples of str."""
    if isinstance(header, str) or not isinstance(header, Iterable):
        raise TypeError(
            f"header must be a sequence of column titles (a list or tuple), got {header!r}"
        )
    titles = tuple(str(title) for title in header)
    if not titles:
        raise ValueError("header must name at least one column, got none")
    if isinstance(rows, str) or not isinstance(rows, Iterable):
        raise TypeError(f"rows must be an iterable of rows (sequences of entries), got {rows!r}")
    cells = []
    for row in rows:  # rows may be a generator: read it once, here
        if isinstance(row, str) or not isinstance(row, Iterable):
            raise TypeError(
                f"each row of rows must be a sequence of {len(titles)} entries, got {row!r}"
            )
        entries = tuple(str(entry) for entry in row)
        if len(entries) != len(titles):
            raise ValueError(
                f"each row must have {len(titles)} entries, one per column, "
                f"got {len(entries)}: {entries!r}"
            )
        cells.append(entries)
    if caption is not None and not isinstance(caption, str):
        raise TypeError(f"caption must be a str or None, got {type(caption).__name__}")
    return titles, tuple(cells)


def html_table(
    header: Iterable[object], rows: Iterable[Iterable[object]], caption: str | None = None
) -> HtmlTable:
    """A table with one header row and an optional caption, for a notebook to display.

    Parameters
    ----------
    header : sequence, length K
        The column titles; each is shown with ``str``.
    rows : iterable of sequences, each of length K
        One entry per column; each entry is shown with ``str``. A generator is read once.
    caption : str, optional
        Shown above the table.

    Returns
    -------
    table : HtmlTable
        The string ``<table>...</table>``, every title, entry and the caption HTML-escaped;
        displayed as HTML in JupyterLab and the HTML book and as a Markdown table in the PDF.

    Raises
    ------
    TypeError
        If ``header``, ``rows`` or a row is not a sequence (a str is not taken for one), or
        ``caption`` is not a str.
    ValueError
        If ``header`` is empty or a row does not have one entry per column.
    """
    titles, cells = _check_table(header, rows, caption)
    return HtmlTable(titles, cells, caption)
