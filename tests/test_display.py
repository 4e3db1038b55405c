"""Tests of backprop_utils.display: show_source gives the module's real source as a fenced
Markdown code block, whole or in part, and refuses what is not code of backprop_utils."""

import ast
import importlib
import inspect
import pkgutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from IPython.core.formatters import DisplayFormatter
from markdown_it import MarkdownIt

import backprop_utils
from backprop_utils import drafts
from backprop_utils.display import Source, show_source
from backprop_utils.engine import Value, topological_order
from backprop_utils.graphs import BatchNormGraph

PACKAGE = Path(backprop_utils.__file__).parent
# The module itself: the package's attribute `softmax` is the function of that name.
SOFTMAX_MODULE = importlib.import_module("backprop_utils.softmax")


def fences(markdown):
    """The block tokens CommonMark (the parser MyST builds on) makes of `markdown`."""
    return [token for token in MarkdownIt("commonmark").parse(markdown) if token.block]


def public_functions_and_classes():
    """Every public function and class defined in a module of backprop_utils."""
    found = []
    for info in pkgutil.iter_modules([str(PACKAGE)]):
        module = importlib.import_module(f"backprop_utils.{info.name}")
        for name, obj in vars(module).items():
            defined_here = getattr(obj, "__module__", None) == module.__name__
            if (
                not name.startswith("_")
                and defined_here
                and (inspect.isroutine(obj) or inspect.isclass(obj))
            ):
                found.append(obj)
    return found


def test_markdown_is_one_python_fence_holding_the_source_text_of_the_file():
    markdown = show_source(SOFTMAX_MODULE.softmax_loss_naive)._repr_markdown_()
    (fence,) = fences(markdown)
    assert fence.type == "fence" and fence.info == "python"
    file_text = (PACKAGE / "softmax.py").read_text()
    assert fence.content in file_text  # the lines as they stand in the module, in order
    assert fence.content.startswith("def softmax_loss_naive(")


def test_shown_function_is_the_real_one_when_executed():
    code = str(show_source(drafts.softmax_loss_vectorized))
    namespace = dict(vars(drafts))
    namespace.pop("softmax_loss_vectorized")
    exec(compile(code, "<shown>", "exec"), namespace)
    rng = np.random.default_rng(0)
    scores, y = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    shown_loss, shown_dscores = namespace["softmax_loss_vectorized"](scores, y)
    loss, dscores = drafts.softmax_loss_vectorized(scores, y)
    assert shown_loss == loss
    np.testing.assert_array_equal(shown_dscores, dscores)


def test_a_method_is_shown_dedented_from_its_def_line():
    code = str(show_source(Value.backward))
    assert code.startswith("def backward(self) -> None:\n")
    ast.parse(code)  # valid on its own
    file_lines = (PACKAGE / "engine.py").read_text().split("\n")
    for line in code.split("\n"):
        assert ("    " + line if line else line) in file_lines


def test_a_bound_method_shows_the_source_of_its_function():
    assert str(show_source(Value(1.0).backward)) == str(show_source(Value.backward))


def test_a_class_is_shown_with_its_decorator():
    assert str(show_source(BatchNormGraph)).startswith("@dataclass(frozen=True)\nclass Batch")


@pytest.mark.parametrize("obj", public_functions_and_classes(), ids=lambda obj: obj.__qualname__)
def test_every_public_function_and_class_makes_a_single_fence_holding_its_code(obj):
    source = show_source(obj)
    (fence,) = fences(source._repr_markdown_())
    assert fence.content == source.code + "\n"


def test_a_fence_is_longer_than_any_run_of_backticks_in_the_code():
    code = 'note = "```python"\nlonger = "````"'
    markdown = Source(code, "example")._repr_markdown_()
    assert markdown.startswith("`````python\n")
    (fence,) = fences(markdown)
    assert fence.content == code + "\n"


def test_docstring_false_leaves_out_only_the_docstring():
    full = str(show_source(topological_order))
    short = str(show_source(topological_order, docstring=False))
    tree = ast.parse(short)
    assert ast.get_docstring(tree.body[0]) is None
    assert '"""' not in short and short.startswith("def topological_order(root: Value)")
    full_body = ast.parse(full).body[0].body[1:]  # the statements after the docstring
    assert ast.dump(ast.Module(full_body, [])) == ast.dump(ast.Module(tree.body[0].body, []))


def test_docstring_false_on_a_class_keeps_its_fields():
    short = str(show_source(BatchNormGraph, docstring=False))
    assert '"""The nodes' not in short
    assert short.split("\n")[2] == "    x: list[Value]"


def test_lines_selects_a_range_of_the_source_counted_from_the_def_line():
    full = str(show_source(Value.backward)).split("\n")
    assert str(show_source(Value.backward, lines=(2, 4))).split("\n") == [
        line.removeprefix("    ") for line in full[1:4]
    ]


def test_lines_past_the_end_stop_at_the_end():
    full = str(show_source(topological_order))
    assert str(show_source(topological_order, lines=(1, 10_000))) == full


def test_lines_and_docstring_false_together_show_the_body_from_a_line():
    code = str(show_source(Value.backward, docstring=False, lines=(1, 12)))
    assert code.split("\n")[0] == "def backward(self) -> None:"
    assert (
        code.split("\n")[1]
        == "    order = topological_order(self)  # parents before children, self last"
    )


def test_plain_text_is_the_code_itself():
    source = show_source(topological_order)
    assert repr(source) == str(source) == source.code
    assert source.name == "backprop_utils.engine.topological_order"


def test_displays_as_markdown_and_plain_text_only():
    data, _ = DisplayFormatter().format(show_source(topological_order))
    assert set(data) == {"text/plain", "text/markdown"}  # no HTML or LaTeX to outrank markdown
    assert data["text/markdown"].startswith("```python\ndef topological_order(")


# Bad input ------------------------------------------------------------------------------------


def test_show_source_rejects_a_number():
    with pytest.raises(TypeError, match="obj must be a function, class or method"):
        show_source(1.0)


def test_show_source_rejects_a_builtin():
    with pytest.raises(TypeError, match="obj"):
        show_source(len)


def test_show_source_rejects_a_function_from_another_package():
    with pytest.raises(TypeError, match="obj must be .* of backprop_utils, got dedent from"):
        show_source(textwrap.dedent)


def test_show_source_rejects_a_module():
    with pytest.raises(TypeError, match="obj"):
        show_source(drafts)


def test_show_source_rejects_a_docstring_flag_that_is_not_a_bool():
    with pytest.raises(TypeError, match="docstring must be a bool"):
        show_source(topological_order, docstring="no")


def test_show_source_rejects_lines_given_as_a_list():
    with pytest.raises(TypeError, match="lines must be None or a tuple"):
        show_source(topological_order, lines=[1, 2])


def test_show_source_rejects_lines_in_the_wrong_order():
    with pytest.raises(ValueError, match="lines must satisfy 1 <= first <= last"):
        show_source(topological_order, lines=(3, 1))


def test_show_source_rejects_lines_past_the_end():
    with pytest.raises(ValueError, match="select no line"):
        show_source(topological_order, lines=(500, 600))


def test_start_and_stop_select_the_lines_between_two_texts():
    shown = str(show_source(Value.backward, docstring=False, start="self.grad = 1.0", stop="+="))
    assert shown.splitlines()[0].startswith("self.grad = 1.0")
    assert shown.splitlines()[-1].strip().startswith("parent.grad +=")
    assert len(shown.splitlines()) == 5


def test_start_alone_runs_to_the_end_and_stop_alone_starts_at_the_top():
    full = str(show_source(Value.backward, docstring=False)).splitlines()
    tail = str(show_source(Value.backward, docstring=False, start="for node in reversed"))
    assert tail.splitlines()[-1].strip() == full[-1].strip()
    head = str(show_source(Value.backward, docstring=False, stop="order = "))
    assert head.splitlines()[0] == full[0] and len(head.splitlines()) == 2


def test_show_source_rejects_a_start_that_no_line_contains():
    with pytest.raises(ValueError, match="start"):
        show_source(Value.backward, start="no such text")


def test_show_source_rejects_a_stop_that_no_later_line_contains():
    with pytest.raises(ValueError, match="stop"):
        show_source(Value.backward, start="self.grad = 1.0", stop="def backward")


def test_show_source_rejects_a_start_that_is_not_a_string():
    with pytest.raises(TypeError, match="start"):
        show_source(Value.backward, start=3)
