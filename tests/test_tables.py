"""Tests of backprop_utils.tables."""

from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import HTML
from markdown_it import MarkdownIt

from backprop_utils.tables import HtmlTable, html_table


class _Cells(HTMLParser):
    """The text of every caption, th and td of an HTML fragment, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[tuple[str, str]] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("caption", "th", "td"):
            self._open = tag
            self.cells.append((tag, ""))

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            tag, text = self.cells[-1]
            self.cells[-1] = (tag, text + data)


def _cells(html: str) -> list[tuple[str, str]]:
    parser = _Cells()
    parser.feed(html)
    parser.close()
    return parser.cells


def _markdown_to_html(markdown: str) -> str:
    """Render as the book does (MyST-NB's gfm format: CommonMark, tables, strikethrough)."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


def _expected(header, rows, caption=None, collapse=False):
    def text(value):
        return " ".join(str(value).split()) if collapse else str(value)

    cells = [("caption", text(caption))] if caption is not None else []
    cells += [("th", text(title)) for title in header]
    return cells + [("td", text(entry)) for row in rows for entry in row]


# Any text but surrogates and NUL (which Markdown parsers replace by U+FFFD).
_texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))


def test_table_has_one_cell_per_entry():
    html = html_table(["a", "b"], [(1, "x"), (2.5, "y")])
    assert html.startswith("<table>") and html.endswith("</table>")
    assert html.count("<th>") == 2 and html.count("<td>") == 4 and "<td>2.5</td>" in html
    assert "<caption>" not in html


def test_caption_comes_first():
    html = html_table(["a"], [(1,)], caption="Table 1. Numbers.")
    assert html.startswith("<table><caption>Table 1. Numbers.</caption><thead>")


def test_rows_given_as_a_generator_are_all_shown():
    table = html_table(["x", "x squared"], ((x, x * x) for x in range(3)))
    assert _cells(table) == _expected(["x", "x squared"], [(0, 0), (1, 1), (2, 4)])
    assert len(table.rows) == 3


def test_entries_given_as_generators_are_all_shown():
    table = html_table((title for title in "ab"), [(entry for entry in (1, 2))])
    assert _cells(table) == _expected("ab", [(1, 2)])


def test_cells_are_html_escaped():
    table = html_table(["a < b"], [("x & y",), ("<td>",)], caption="<b>not bold</b>")
    assert "<td><td>" not in table and "&lt;td&gt;" in table and "x &amp; y" in table
    assert _cells(table) == _expected(["a < b"], [("x & y",), ("<td>",)], "<b>not bold</b>")


@given(
    st.lists(_texts, min_size=1, max_size=3).flatmap(
        lambda header: st.tuples(
            st.just(header),
            st.lists(st.lists(_texts, min_size=len(header), max_size=len(header)), max_size=3),
            st.none() | _texts,
        )
    )
)
def test_html_shows_every_cell_exactly(table_parts):
    header, rows, caption = table_parts
    assert _cells(html_table(header, rows, caption)) == _expected(header, rows, caption)


@given(
    st.lists(_texts, min_size=1, max_size=3).flatmap(
        lambda header: st.tuples(
            st.just(header),
            st.lists(st.lists(_texts, min_size=len(header), max_size=len(header)), max_size=3),
        )
    )
)
def test_markdown_table_shows_every_cell_exactly(table_parts):
    header, rows = table_parts
    markdown = html_table(header, rows)._repr_markdown_()
    rendered = _markdown_to_html(markdown)
    assert _cells(rendered) == _expected(header, rows, collapse=True)


def test_markdown_has_the_caption_then_a_row_per_line():
    markdown = html_table(["a", "b|c"], [("$x$", "*y*"), ("1", "2")], "Two rows")._repr_markdown_()
    lines = markdown.splitlines()
    assert lines == [
        "Two rows",
        "",
        "| a | b\\|c |",
        "| --- | --- |",
        "| \\$x\\$ | \\*y\\* |",
        "| 1 | 2 |",
    ]


def test_markdown_keeps_a_multiline_entry_on_its_row():
    markdown = html_table(["a"], [("first line\nsecond line",)])._repr_markdown_()
    assert markdown.splitlines()[2] == "| first line second line |"


def test_notebooks_show_html_and_markdown_and_plain_text():
    shell = InteractiveShell.instance()
    table = html_table(["name", "value"], [("eps", 1e-5)], caption="Settings")
    data, _ = shell.display_formatter.format(table)
    assert data["text/html"] == str(table)
    assert data["text/markdown"] == table._repr_markdown_()
    assert data["text/plain"].splitlines() == ["Settings", "name  value", "eps   1e-05"]


def test_table_is_still_a_string_for_ipython_html():
    table = html_table(["a"], [(1,)])
    assert isinstance(table, str) and isinstance(table, HtmlTable)
    assert HTML(table)._repr_html_() == "<table><thead><tr><th>a</th></tr></thead>" + (
        "<tbody><tr><td>1</td></tr></tbody></table>"
    )


def test_table_without_rows_has_its_header():
    table = html_table(["a", "b"], [])
    assert _cells(table) == [("th", "a"), ("th", "b")]
    assert _cells(_markdown_to_html(table._repr_markdown_())) == [("th", "a"), ("th", "b")]


def test_row_of_the_wrong_length_raises():
    with pytest.raises(ValueError, match="2 entries"):
        html_table(["a", "b"], [(1, 2, 3)])


def test_empty_header_raises():
    with pytest.raises(ValueError, match="header"):
        html_table([], [])


def test_header_given_as_a_string_raises():
    with pytest.raises(TypeError, match="header"):
        html_table("ab", [(1, 2)])


def test_rows_that_are_not_iterable_raise():
    with pytest.raises(TypeError, match="rows"):
        html_table(["a"], 3)


def test_rows_given_as_a_string_raise():
    with pytest.raises(TypeError, match="rows"):
        html_table(["a"], "abc")


def test_row_given_as_a_string_raises():
    with pytest.raises(TypeError, match="row"):
        html_table(["a", "b"], ["xy"])


def test_row_that_is_not_iterable_raises():
    with pytest.raises(TypeError, match="row"):
        html_table(["a"], [1])


def test_caption_that_is_not_a_string_raises():
    with pytest.raises(TypeError, match="caption"):
        html_table(["a"], [(1,)], caption=3)
