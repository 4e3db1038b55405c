"""Tests of backprop_utils.tables."""

import pytest

from backprop_utils.tables import html_table


def test_table_has_one_cell_per_entry():
    html = html_table(["a", "b"], [(1, "x"), (2.5, "y")])
    assert html.startswith("<table>") and html.endswith("</table>")
    assert html.count("<th>") == 2 and html.count("<td>") == 4 and "<td>2.5</td>" in html
    assert "<caption>" not in html


def test_caption_comes_first():
    html = html_table(["a"], [(1,)], caption="Table 1. Numbers.")
    assert html.startswith("<table><caption>Table 1. Numbers.</caption><thead>")


def test_row_of_the_wrong_length_raises():
    with pytest.raises(ValueError, match="2 entries"):
        html_table(["a", "b"], [(1, 2, 3)])
