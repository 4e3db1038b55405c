"""How much a reader reads in each chapter: words of prose and visible asserts.

    python tests/reading_stats.py          # a table, one chapter a row (also `make reading`)

The book's targets for a chapter: at most about 10 visible asserts and under about 2,500 words
of prose. Prose is the text of the markdown cells without code blocks and maths; a visible
assert is an `assert` statement or `np.testing.assert_*` call in a code cell that the book shows
(not tagged remove-cell, remove-input, hide-input or hide-cell). A second, cruder count takes
every word of the markdown cells, maths, solutions and code blocks included (what the review
hook counts): at most 3,000.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tocfiles import ROOT, toc_notebooks

MAX_VISIBLE_ASSERTS = 12  # "about 10"
MAX_PROSE_WORDS = 2600  # "under about 2,500"
MAX_MARKDOWN_WORDS = 3000  # every token of the markdown cells
HIDDEN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
ASSERT = re.compile(r"^\s*assert\b|np\.testing\.assert_", re.M)
CODE_BLOCK = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$", re.S | re.M)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def prose_words(markdown: str) -> int:
    """Words of prose: code blocks (except MyST directives) and maths removed."""
    text = CODE_BLOCK.sub(
        lambda m: m.group(0) if "{" in m.group(0).split("\n")[0] else "", markdown
    )
    text = re.sub(r"^(?: {4}.*\n?)+", "", text, flags=re.M)
    text = MATH.sub(" ", text)
    text = re.sub(r"^:[\w-]+:.*$", "", text, flags=re.M)  # directive options
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # roles
    return len(re.findall(r"[A-Za-z][A-Za-z'-]*", text))


def visible_asserts(notebook: dict) -> int:
    return sum(
        len(ASSERT.findall(_source(cell)))
        for cell in notebook["cells"]
        if cell["cell_type"] == "code" and not HIDDEN & set(cell["metadata"].get("tags", []))
    )


def stats(path: Path) -> tuple[int, int, int]:
    """(words of prose, visible asserts, every word of the markdown) of the notebook."""
    notebook = json.loads((ROOT / path).read_text(encoding="utf-8"))
    markdown = "\n\n".join(_source(c) for c in notebook["cells"] if c["cell_type"] == "markdown")
    every_word = len(re.findall(r"[A-Za-z]+", markdown))
    return prose_words(markdown), visible_asserts(notebook), every_word


def main() -> int:
    print(f"{'chapter':40} {'words':>6} {'asserts':>8} {'all words':>10}")
    over = 0
    for path in toc_notebooks():
        if not (ROOT / path).exists():
            print(f"{path.stem:40} (not written yet)")
            continue
        words, asserts, every_word = stats(path)
        flag = (
            words > MAX_PROSE_WORDS
            or asserts > MAX_VISIBLE_ASSERTS
            or every_word > MAX_MARKDOWN_WORDS
        )
        over += flag
        mark = "  over target" if flag else ""
        print(f"{path.stem:40} {words:6d} {asserts:8d} {every_word:10d}{mark}")
    print(
        f"targets: at most {MAX_VISIBLE_ASSERTS} visible asserts, {MAX_PROSE_WORDS} words of "
        f"prose, {MAX_MARKDOWN_WORDS} words in all"
    )
    return 1 if over and "--strict" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
