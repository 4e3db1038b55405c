"""HTML tables for the chapters' printed results (timings, gradient checks, training runs)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["html_table"]


def html_table(
    header: Sequence[object], rows: Sequence[Sequence[object]], caption: str | None = None
) -> str:
    """An HTML table with one header row and an optional caption.

    Parameters
    ----------
    header : sequence, length K
        The column titles.
    rows : sequence of sequences, each of length K
        One entry per column; each entry is shown with ``str``.
    caption : str, optional
        Shown above the table.

    Returns
    -------
    html : str
        ``<table>...</table>``, for ``IPython.display.HTML``.

    Raises
    ------
    ValueError
        If a row does not have one entry per column.
    """
    for row in rows:
        if len(row) != len(header):
            raise ValueError(
                f"each row must have {len(header)} entries, one per column, got {len(row)}: {row!r}"
            )
    title = f"<caption>{caption}</caption>" if caption is not None else ""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
