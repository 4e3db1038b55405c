"""House rules of the chapters, read from the notebooks' JSON (no kernel is started).

nbval checks that each notebook runs and matches its stored outputs; these tests check what a
chapter must contain: a numbered title, checks that assert, captioned figures, exercises with
solutions, seeded randomness and stored outputs.
"""

import ast
import json
import re

import pytest
import reading_stats
from run_notebooks import KERNELSPEC, NBFORMAT
from tocfiles import ROOT, toc_notebooks

IMAGE_TYPES = {"image/png", "image/jpeg", "image/svg+xml"}
NUMBERED = [path for path in toc_notebooks() if re.match(r"\d\d_", path.name)]
APPENDICES = [path for path in toc_notebooks() if path.name.startswith("appendix_")]
CHAPTERS = NUMBERED + APPENDICES  # every house rule holds for both; numbers only for NUMBERED


def _label_prefix(path) -> str:
    """``ch07`` for chapter 7, ``appendix`` for an appendix: the start of its labels."""
    return f"ch{path.name[:2]}" if path in NUMBERED else "appendix"


def _cells(path, kind):
    notebook = json.loads((ROOT / path).read_text(encoding="utf-8"))
    return [
        "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for cell in notebook["cells"]
        if cell["cell_type"] == kind
    ], notebook


def test_every_chapter_of_the_outline_is_in_the_toc():
    assert [int(path.name[:2]) for path in NUMBERED] == list(range(1, 14))
    assert [path.stem for path in APPENDICES] == ["appendix_making_it_fast"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_title_is_numbered_like_the_toc(path):
    markdown, _ = _cells(path, "markdown")
    number = int(path.name[:2]) if path in NUMBERED else "[A-Z]"
    assert re.match(rf"# {number}\. \S", markdown[0]), markdown[0][:60]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_at_least_three_cells_end_in_a_check(path):
    code, _ = _cells(path, "code")
    checking = [
        cell for cell in code if re.search(r"^\s*(assert\b|np\.testing\.assert_)", cell, re.M)
    ]
    assert len(checking) >= 3, f"{path.name}: only {len(checking)} cells assert anything"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_every_figure_is_shown_by_its_cell_named_and_captioned(path):
    """A figure is the one output of the cell that draws it (so JupyterLab shows it), and MyST-NB
    numbers and captions it from the cell's metadata."""
    _, notebook = _cells(path, "code")
    figures = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        images = [out for out in cell["outputs"] if set(out.get("data", {})) & IMAGE_TYPES]
        figure = cell["metadata"].get("mystnb", {}).get("figure")
        if not images and figure is None:
            continue
        figures += 1
        source = "".join(cell["source"])[:60]
        assert figure, f"{path.name}: an image without figure metadata: {source!r}"
        assert len(images) == len(cell["outputs"]) == 1, f"{path.name}: {source!r}"
        prefix = f"fig-{_label_prefix(path)}-"
        assert figure.get("name", "").startswith(prefix), f"{path.name}: {figure.get('name')}"
        assert len(figure.get("caption", "").split()) >= 5, f"{path.name}: {figure['name']}"
    assert figures, f"{path.name} draws no figure"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_nothing_is_glued(path):
    """`glue` hides a figure from JupyterLab and its roles show there as raw text."""
    code, notebook = _cells(path, "code")
    markdown, _ = _cells(path, "markdown")
    assert not re.search(r"\bglue\(|myst_nb import glue", "\n".join(code)), path.name
    assert "{glue" not in "\n".join(markdown), path.name


# MyST that both the book (MyST-NB, sphinx-exercise) and JupyterLab (jupyterlab-myst) render.
# jupyterlab-myst shows an unknown role as its bare text, so the browser cannot see one: list them.
ROLES = {"eq", "cite", "doc", "numref", "ref", "math", "sub", "sup", "abbr"}
DIRECTIVES = {"exercise", "solution", "note", "tip", "warning", "important", "admonition", "math"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_only_myst_that_jupyterlab_renders(path):
    markdown, notebook = _cells(path, "markdown")
    captions = [
        cell["metadata"].get("mystnb", {}).get("figure", {}).get("caption", "")
        for cell in notebook["cells"]
    ]
    text = "\n".join(markdown + captions)
    roles = set(re.findall(r"\{([\w:.-]+)\}`", text))
    directives = set(re.findall(r"^\s*[`:]{3,}\{([\w:.-]+)\}", text, re.M))
    assert roles <= ROLES, f"{path.name}: roles JupyterLab cannot render: {roles - ROLES}"
    assert directives <= DIRECTIVES, f"{path.name}: directives: {directives - DIRECTIVES}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_notebook_is_saved_as_jupyterlab_saves_it(path):
    """Opening the notebook in JupyterLab must not mark it modified (tests/run_notebooks.py)."""
    _, notebook = _cells(path, "code")
    assert (notebook["nbformat"], notebook["nbformat_minor"]) == NBFORMAT
    assert notebook["metadata"]["kernelspec"] == KERNELSPEC
    assert notebook["metadata"]["language_info"]["name"] == "python"
    ids = [cell.get("id") for cell in notebook["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: missing or repeated cell ids"
    timed = [cell["id"] for cell in notebook["cells"] if "execution" in cell["metadata"]]
    assert not timed, f"{path.name}: per-cell execution timestamps stored in {timed[:3]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_every_exercise_has_a_solution(path):
    markdown, _ = _cells(path, "markdown")
    text = "\n".join(markdown)
    exercises = re.findall(r"```\{exercise\}\s*\n:label: (\S+)", text)
    solutions = re.findall(r"```\{solution\} (\S+)", text)
    assert exercises, f"{path.name} has no exercises"
    assert sorted(exercises) == sorted(solutions), path.name


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_randomness_is_seeded(path):
    code, _ = _cells(path, "code")
    source = "\n".join(code)
    assert not re.search(r"np\.random\.(rand|randn|randint|normal|uniform|seed)\(", source)
    assert not re.search(r"default_rng\(\s*\)", source), f"{path.name}: unseeded default_rng()"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_outputs_are_stored_and_hold_no_error(path):
    _, notebook = _cells(path, "code")
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
            continue
        assert cell.get("execution_count") is not None, f"{path.name}: a cell was not executed"
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{path.name} stores an error"
            assert output.get("name") != "stderr", f"{path.name} stores stderr output"


def _solution_code_blocks(markdown: list[str]) -> list[str]:
    """Return the python code blocks that stand inside {solution} directives."""
    text = "\n".join(markdown)
    blocks = []
    for solution in re.findall(r"^(`{3,})\{solution\}[^\n]*\n(.*?)^\1[ \t]*$", text, re.S | re.M):
        body = solution[1]
        blocks += re.findall(r"```(?:python|ipython3?)\n(.*?)\n```", body, re.S)
        # indented code blocks: a blank line, then lines indented by four spaces
        blocks += [
            "\n".join(line[4:] for line in block.splitlines())
            for block in re.findall(r"(?:^|\n\n)((?: {4}.*\n?|\n)+)", body)
            if block.strip()
        ]
    return blocks


def _statements(source: str) -> set[str]:
    """Every statement of the code, at any depth, as a layout-independent ast dump."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with IPython syntax: it holds no solution code
        return set()
    return {ast.dump(node) for node in ast.walk(tree) if isinstance(node, ast.stmt)}


def _compound(node: ast.stmt) -> bool:
    """A statement that holds others (for, if, with, def, ...): its body is checked instead."""
    return any(isinstance(getattr(node, field, None), list) for field in ("body", "orelse"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_solution_code_is_run_and_asserts(path):
    """Each solution's code also stands in a code cell (hidden in the book), so nbval runs it.

    Simple statements are compared as syntax trees, at any depth, so the formatter may wrap the
    two copies differently and the hidden copy may add checks inside a loop.
    """
    markdown, _ = _cells(path, "markdown")
    code, _ = _cells(path, "code")
    executed = set().union(*(_statements(cell) for cell in code))
    for block in _solution_code_blocks(markdown):
        tree = ast.parse(block)
        simple = [
            node for node in ast.walk(tree) if isinstance(node, ast.stmt) and not _compound(node)
        ]
        missing = [ast.unparse(node) for node in simple if ast.dump(node) not in executed]
        assert not missing, f"{path.name}: solution code never run: {missing[:3]}"
        prints = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
        ]
        assert not prints, f"{path.name}: a solution prints instead of asserting"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_meets_the_reading_targets(path):
    """About 10 visible asserts and under about 2,500 words of prose (`make reading`)."""
    words, asserts, every_word = reading_stats.stats(path)
    assert asserts <= reading_stats.MAX_VISIBLE_ASSERTS, f"{path.name}: {asserts} visible asserts"
    assert words <= reading_stats.MAX_PROSE_WORDS, f"{path.name}: {words} words of prose"
    assert every_word <= reading_stats.MAX_MARKDOWN_WORDS, f"{path.name}: {every_word} words"
