"""Checks of the PDF that `make pdf` builds, read with poppler-utils as a reader would see it.

Run after `make pdf` (``make test`` does both). Without the PDF or poppler-utils these tests skip
with a message, except under CI, where they fail.
"""

import itertools
import json
import os
import re
import shutil
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
from tocfiles import ROOT, toc_notebooks, toc_sources

pytestmark = pytest.mark.pdf

LATEX_DIR = Path(os.environ.get("BOOK_LATEX", ROOT / "_build" / "latex"))
NAME = "backprop-derived"
TOOLS = ("pdfinfo", "pdftotext", "pdfimages", "pdftohtml")
# The notation's raw LaTeX, the macros the book once had, and the commands most often seen when
# maths was not typeset: none may show as text outside the code the book prints.
RAW_LATEX = re.compile(
    r"\\(?:loss|frac|displaystyle|operatorname|softmax|raw|indicator|xhat|argmax|R|max|min|sum"
    r"|partial|mathrm|mathbf|texttt|left|right|cdot|sqrt|hat|begin|end)(?![A-Za-z])"
)
# HTML markup, or what a notebook prints for an output it could not render (IPython's HTML
# object, a figure that fell back to text).
RAW_HTML = re.compile(r"</?(?:table|thead|tbody|tr|td|th|div|span|img)\b|<IPython\.|<Figure size")
# Code never runs off the page: Sphinx wraps long lines (verbatimforcewraps in _config.yml) and
# identifiers break after an underscore (_latex/backpropderived.sty). The allowance is for the
# odd inline literal that TeX cannot fit into a narrow table column; today there is none.
MAX_CODE_OVERFULL = 2


def _missing(reason: str) -> None:
    """Skip on a reader's machine; fail under CI, where everything must run."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _letters(text: str) -> str:
    """Only the letters and digits, lower case: what survives line breaks, hyphens and case."""
    return re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKC", text).lower())


@pytest.fixture(scope="module")
def pdf() -> Path:
    path = LATEX_DIR / f"{NAME}.pdf"
    if not path.exists():
        _missing(
            f"no PDF at {path}: run `make pdf` first (it needs TeX: "
            "`sudo apt-get install -y --no-install-recommends texlive-xetex texlive-latex-extra "
            "texlive-fonts-recommended latexmk xindy fonts-freefont-otf fonts-dejavu-core`)"
        )
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        _missing(f"{', '.join(missing)} not found: `sudo apt-get install -y poppler-utils`")
    return path


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def text(pdf) -> str:
    return unicodedata.normalize("NFKC", _run("pdftotext", str(pdf), "-"))


@pytest.fixture(scope="module")
def pages_xml(pdf) -> ET.Element:
    """The PDF as pdftohtml's XML: runs of text with their fonts, and the outline (bookmarks)."""
    return ET.fromstring(_run("pdftohtml", "-xml", "-i", "-q", "-stdout", str(pdf)))


@pytest.fixture(scope="module")
def fragments(pages_xml) -> list[tuple[str, bool]]:
    """Every run of text on the pages, as (text, set in a monospace font)."""
    root = pages_xml
    mono = {spec.get("id") for spec in root.iter("fontspec") if "Mono" in spec.get("family")}
    return [
        (unicodedata.normalize("NFKC", "".join(element.itertext())), element.get("font") in mono)
        for element in root.iter("text")
    ]


@pytest.fixture(scope="module")
def log(pdf) -> str:
    return (LATEX_DIR / f"{NAME}.log").read_text(encoding="utf-8", errors="replace")


@cache
def _title(source: Path) -> str:
    """The first level-1 heading of a toc page, which titles its chapter."""
    if source.suffix == ".ipynb":
        cells = json.loads((ROOT / source).read_text(encoding="utf-8"))["cells"]
        text = "\n".join(
            "".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"
        )
    else:
        text = (ROOT / source).read_text(encoding="utf-8")
    return re.search(r"^# (.+)$", text, re.M).group(1)


def _figure_count() -> int:
    """Figures the notebooks show: cells numbered as figures, and any other image output."""
    count = 0
    for notebook in toc_notebooks():
        for cell in json.loads((ROOT / notebook).read_text(encoding="utf-8"))["cells"]:
            tags = cell.get("metadata", {}).get("tags", [])
            if cell["cell_type"] != "code" or {"remove-cell", "remove-output"} & set(tags):
                continue
            images = sum(
                any(mime.startswith("image/") or mime == "application/pdf" for mime in out["data"])
                for out in cell.get("outputs", [])
                if "data" in out
            )
            is_figure = bool(cell["metadata"].get("mystnb", {}).get("figure"))
            count += max(images, int(is_figure))
    return count


def _solution_count() -> int:
    count = 0
    for notebook in toc_notebooks():
        for cell in json.loads((ROOT / notebook).read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "markdown":
                source = "".join(cell["source"])
                count += len(re.findall(r"^\s*(?:`{3,}|:{3,})\{solution\}", source, re.M))
    return count


@cache
def _code_corpus() -> str:
    """All code a page may show verbatim: code cells, code in the prose, the module's source."""
    parts, prose = [], []
    for source in toc_sources():
        if source.suffix == ".ipynb":
            for cell in json.loads((ROOT / source).read_text(encoding="utf-8"))["cells"]:
                (parts if cell["cell_type"] == "code" else prose).append("".join(cell["source"]))
        else:
            prose.append((ROOT / source).read_text(encoding="utf-8"))
    # Code spans and fenced blocks of the Markdown, not its maths.
    parts += [code for text in prose for _, code in re.findall(r"(`+)(.+?)\1", text, re.S)]
    for path in (ROOT / "backprop_utils").glob("*.py"):
        module = path.read_text(encoding="utf-8")
        parts += [module, module.replace("\\\\", "\\")]  # docstrings as they are shown
    return re.sub(r"\s+", "", "\n".join(parts))


def test_page_count_is_plausible(pdf):
    pages = int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))
    documents = len(toc_sources())
    assert 4 * documents <= pages <= 40 * documents, f"{pages} pages for {documents} documents"


def test_every_figure_is_an_image(pdf):
    rows = _run("pdfimages", "-list", str(pdf)).splitlines()[2:]
    images = sum(row.split()[2] == "image" for row in rows)
    figures = _figure_count()
    assert figures > 0
    assert images >= figures, f"{images} images in the PDF, {figures} figures in the notebooks"


def _outline(pages_xml: ET.Element, depth: int) -> list[str]:
    """The PDF's bookmarks at one depth (1: parts, 2: chapters), in order."""
    top = pages_xml.find("outline")
    level = [top] if top is not None else []
    for _ in range(depth - 1):
        level = [nested for outline in level for nested in outline.findall("outline")]
    return [" ".join(item.text.split()) for outline in level for item in outline.findall("item")]


def test_parts_are_the_toc_captions_in_order(pages_xml):
    captions = re.findall(
        r'^\s*-\s*caption:\s*"?(.+?)"?\s*$', (ROOT / "_toc.yml").read_text(encoding="utf-8"), re.M
    )
    assert _outline(pages_xml, 1) == captions


def test_chapters_are_the_toc_pages_in_order(pages_xml):
    titles = [_title(source) for source in toc_sources()[1:]]  # the root page opens the book
    assert _outline(pages_xml, 2)[: len(titles)] == titles


def test_title_page_names_the_book(text):
    first_line = text.split("\f")[0].strip().splitlines()[0]
    assert _letters(first_line) == _letters(_title(toc_sources()[0]))


@pytest.mark.parametrize("source", toc_sources()[1:], ids=str)
def test_printed_contents_lists_every_chapter(text, source):
    pages = text.split("\f")
    first = next((i for i, page in enumerate(pages) if page.strip().startswith("CONTENTS")), None)
    assert first is not None, "no CONTENTS page"
    contents = [pages[first]]
    contents += itertools.takewhile(lambda page: ". . . ." in page, pages[first + 1 :])
    assert _letters(_title(source)) in _letters("".join(contents))


def test_every_reference_resolves(text, log):
    assert "??" not in text, "an unresolved reference shows as ?? in the PDF"
    undefined = re.findall(r"^LaTeX Warning: (?:Hyper r|R)eference .*undefined.*$", log, re.M)
    assert not undefined, undefined[:5]
    assert "There were undefined references" not in log


def _outside_code(fragments: list[tuple[str, bool]], pattern: re.Pattern) -> list[str]:
    """The runs of text that match ``pattern`` and are not code the book shows verbatim."""
    corpus = _code_corpus()
    found = []
    for fragment, is_mono in fragments:
        if not pattern.search(fragment):
            continue
        shown = re.sub(r"[\s\u2423\u21aa]+", "", fragment)  # wrapped code: its markers, spaces
        if not (is_mono and shown in corpus):
            found.append(fragment)
    return found


def test_no_raw_latex_outside_the_code(fragments):
    raw = _outside_code(fragments, RAW_LATEX)
    assert not raw, f"raw LaTeX in the PDF's text (not code the book shows): {raw[:5]}"


def test_no_raw_html_or_unrendered_output(fragments):
    raw = _outside_code(fragments, RAW_HTML)
    assert not raw, f"HTML or an object's repr where an output should be: {raw[:5]}"


def test_every_exercise_has_its_solution(text):
    solutions = _solution_count()
    assert solutions > 0
    assert len(re.findall(r"Solution to Exercise \d+", text)) == solutions


def test_bibliography_lists_every_reference(text):
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    titles = re.findall(r"^\s*title\s*=\s*[{\"](.+?)[}\"],?\s*$", bib, re.M | re.I)
    assert titles
    body = _letters(text)
    # A title's LaTeX commands ({\texttt{rel\_error}}) are not part of what it reads.
    missing = [title for title in titles if _letters(re.sub(r"\\[A-Za-z]+", "", title)) not in body]
    assert not missing, f"references missing from the bibliography: {missing}"


def test_code_stays_within_the_page(log):
    overfull = re.findall(r"^Overfull \\hbox \(([\d.]+)pt too wide\).*\n(.*)$", log, re.M)
    from_code = [(width, content) for width, content in overfull if "Mono" in content]
    assert len(from_code) <= MAX_CODE_OVERFULL, f"code runs off the page: {from_code}"
