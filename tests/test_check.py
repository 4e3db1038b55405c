"""Tests of backprop_utils.check: right functions pass, known mistakes are named, wrong fail."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backprop_utils.check as check
from backprop_utils import batchnorm, drafts, layernorm, layers, mistakes
from backprop_utils.battery import CheckResult
from backprop_utils.softmax import softmax_loss, softmax_loss_naive, softmax_loss_staged

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"

# each layer checker: this module's forward and backward, and the names of the inputs' gradients
LAYERS = {
    "affine_backward": (
        check.affine_backward,
        layers.affine_forward,
        layers.affine_backward,
        ("dx", "dw", "db"),
        mistakes.AFFINE_BACKWARD,
    ),
    "relu_backward": (
        check.relu_backward,
        layers.relu_forward,
        layers.relu_backward,
        ("dx",),
        mistakes.RELU_BACKWARD,
    ),
    "batchnorm_backward": (
        check.batchnorm_backward,
        batchnorm.batchnorm_forward,
        batchnorm.batchnorm_backward_alt,
        ("dx", "dgamma", "dbeta"),
        mistakes.BATCHNORM_BACKWARD,
    ),
    "layernorm_backward": (
        check.layernorm_backward,
        layernorm.layernorm_forward,
        layernorm.layernorm_backward,
        ("dx", "dgamma", "dbeta"),
        mistakes.LAYERNORM_BACKWARD,
    ),
}


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


def softmax_reader(variant):
    """A reader's softmax loss that makes the variant's mistake: the module, outputs replaced."""

    def reader(scores, y):
        loss, dscores = softmax_loss(scores, y)
        wrong = variant(np.array(scores, dtype=np.float64), np.array(y))
        dscores = np.asarray(wrong.get("dscores", dscores)).astype(dscores.dtype)
        return wrong.get("loss", loss), dscores

    return reader


def layer_reader(variant, forward, backward, grads, change=None):
    """A reader's (backward, forward) pair that makes the variant's mistake (None: no mistake).

    Its cache is the tuple of the forward's inputs. ``change(grads)`` alters the gradients after.
    """
    params = tuple(name[1:] for name in grads)

    def wrong_outputs(args, dout):
        if variant is None:
            return {}
        inputs = {
            name: np.array(value, dtype=np.float64)
            for name, value in zip(params, args, strict=True)
        }
        return variant(**inputs, dout=np.array(dout, dtype=np.float64))

    def reader_forward(*args):
        out, _ = forward(*args)
        try:
            wrong = wrong_outputs(args, np.zeros(out.shape))
        except ValueError:  # a shape error of the mistake belongs to the backward pass
            wrong = {}
        return np.asarray(wrong.get("out", out)).astype(out.dtype), args

    def reader_backward(dout, cache):
        right = as_tuple(backward(dout, forward(*cache)[1]))
        wrong = wrong_outputs(cache, dout)
        results = [
            np.asarray(wrong.get(name, value)).astype(value.dtype)
            for name, value in zip(grads, right, strict=True)
        ]
        if change is not None:
            results = change(results)
        return results[0] if len(results) == 1 else tuple(results)

    return reader_backward, reader_forward


def variants_of(catalogue):
    return [
        pytest.param(mistake, variant, id=f"{mistake.name}: {variant.__name__}")
        for mistake in catalogue
        for variant in mistake.variants
    ]


# right implementations pass ----------------------------------------------------------------------


@pytest.mark.parametrize("function", [softmax_loss, softmax_loss_naive], ids=lambda f: f.__name__)
def test_module_softmax_losses_pass(function):
    result = check.softmax_loss(function)
    assert result.passed, result.findings
    assert result.findings == []
    assert result.mistakes == []


@pytest.mark.parametrize("name", LAYERS)
def test_module_backward_passes_with_the_module_forward(name):
    checker, _, backward, _, _ = LAYERS[name]
    result = checker(backward)
    assert result.passed, result.findings


@pytest.mark.parametrize("name", LAYERS)
def test_module_backward_passes_with_its_forward_given(name):
    checker, forward, backward, _, _ = LAYERS[name]
    result = checker(backward, forward)
    assert result.passed, result.findings


def test_staged_batchnorm_backward_passes():
    assert check.batchnorm_backward(batchnorm.batchnorm_backward).passed


def test_staged_softmax_loss_fails_only_where_its_log_node_underflows():
    result = check.softmax_loss(softmax_loss_staged)
    assert not result.passed
    assert len(result.findings) == 1
    assert "±1e4" in result.findings[0] and "underflows" in result.findings[0]


def test_a_passing_report_names_every_case():
    result = check.softmax_loss(softmax_loss)
    for case in ("N == C", "N = 1", "C = 1", "ties", "±1e4", "float32", "non-contiguous"):
        assert any(case in name for name in result.cases)
        assert case in str(result)


# every catalogued mistake is diagnosed by name ------------------------------------------------


@pytest.mark.parametrize(("mistake", "variant"), variants_of(mistakes.SOFTMAX_LOSS))
def test_softmax_mistake_is_named(mistake, variant):
    result = check.softmax_loss(softmax_reader(variant))
    assert not result.passed
    assert mistake.name in result.mistakes
    assert any(f'"{mistake.name}"' in finding for finding in result.findings)
    assert any(mistakes.section(mistake.section) in finding for finding in result.findings)


@pytest.mark.parametrize(
    ("name", "mistake", "variant"),
    [
        pytest.param(name, *param.values, id=f"{name}, {param.id}")
        for name, spec in LAYERS.items()
        for param in variants_of(spec[4])
    ],
)
def test_layer_mistake_is_named(name, mistake, variant):
    checker, forward, backward, grads, _ = LAYERS[name]
    reader_backward, reader_forward = layer_reader(variant, forward, backward, grads)
    result = checker(reader_backward, reader_forward)
    assert not result.passed
    assert mistake.name in result.mistakes
    assert any(mistakes.section(mistake.section) in finding for finding in result.findings)


@pytest.mark.parametrize(
    "draft",
    [drafts.draft_wrong_axis, drafts.draft_sum_over_samples, drafts.draft_log_of_probs],
    ids=lambda f: f.__name__,
)
def test_chapter_6_drafts_are_named_as_they_are(draft):
    expected = {
        "draft_wrong_axis": "wrong-axis broadcast",
        "draft_sum_over_samples": "sum over samples instead of classes",
        "draft_log_of_probs": "log(p) that underflows",
    }[draft.__name__]
    assert expected in check.softmax_loss(draft).mistakes


def test_input_changed_in_place_is_named():
    result = check.softmax_loss(drafts.draft_modifies_input)
    assert result.mistakes == [mistakes.IN_PLACE.name]
    assert "`scores`" in result.findings[0] and "changed" in result.findings[0]


def test_relu_that_zeroes_dout_in_place_is_named():
    def relu_backward(dout, cache):
        dout[cache <= 0] = 0
        return dout

    result = check.relu_backward(relu_backward)
    assert mistakes.IN_PLACE.name in result.mistakes
    assert "`dout`" in result.findings[0]


def test_batchnorm_that_centres_the_cached_x_in_place_is_named():
    def batchnorm_backward(dout, cache):
        centred = cache.x
        centred -= cache.mean  # in place: this is the caller's x
        return batchnorm.batchnorm_backward_alt(dout, cache._replace(mean=0 * cache.mean))

    result = check.batchnorm_backward(batchnorm_backward)
    assert mistakes.IN_PLACE.name in result.mistakes


def test_change_to_a_cache_array_is_named():
    def batchnorm_backward(dout, cache):
        grads = batchnorm.batchnorm_backward_alt(dout, cache)
        cache.inv_std[:] = 0
        return grads

    result = check.batchnorm_backward(batchnorm_backward)
    assert mistakes.IN_PLACE.name in result.mistakes
    assert "`cache.inv_std`" in result.findings[0]


def test_batchnorm_without_the_variance_path_is_named_with_the_module_cache():
    def batchnorm_backward(dout, cache):  # chapter 9's wrong backward, dgamma and dbeta right
        dx = cache.gamma * cache.inv_std * (dout - dout.mean(axis=0))
        _, dgamma, dbeta = batchnorm.batchnorm_backward_alt(dout, cache)
        return dx, dgamma, dbeta

    result = check.batchnorm_backward(batchnorm_backward)
    assert result.mistakes == ["batch norm without the xhat * mean(dout * xhat) term"]


def test_transposed_affine_gradient_is_named_with_the_module_cache():
    def affine_backward(dout, cache):
        x, w, _ = cache
        dx = (dout @ w.T).reshape(x.shape)
        dw = dout.T @ x.reshape(x.shape[0], -1)  # transposed
        return dx, dw, dout.sum(axis=0)

    result = check.affine_backward(affine_backward)
    assert result.mistakes == ["transposed matmul gradient"]
    assert any("has the wrong shape" in finding for finding in result.findings)
    assert any("N == D == M" in finding for finding in result.findings)


def test_relu_mask_from_dout_is_named_with_the_module_cache():
    result = check.relu_backward(lambda dout, cache: np.where(dout > 0, dout, 0))
    assert result.mistakes == ["ReLU mask taken from the wrong array"]


def test_a_loss_without_the_mean_names_missing_one_over_n_for_loss_and_gradient():
    def summed_loss(scores, y):
        loss, dscores = softmax_loss(scores, y)
        return loss * len(y), dscores * len(y)

    result = check.softmax_loss(summed_loss)
    assert result.mistakes == ["missing 1/N"]
    assert "`loss` and `dscores` match it" in result.findings[0]


# a wrong implementation that is no known mistake fails, and names none --------------------------


@settings(max_examples=25, deadline=None)
@given(
    scale=st.sampled_from([1.01, 0.99, 1.001, 2.0, -1.0]),
    loss_too=st.booleans(),
)
def test_scaled_softmax_gradient_fails_without_a_known_mistake(scale, loss_too):
    def scaled(scores, y):
        loss, dscores = softmax_loss(scores, y)
        return (loss * scale if loss_too else loss), dscores * scale

    result = check.softmax_loss(scaled)
    assert not result.passed
    assert result.findings
    assert result.mistakes == []


def perturb_one_entry(array, position, size):
    """``array`` with one entry, at ``position`` (a fraction of its length), moved by ``size``."""
    changed = np.array(array, copy=True)
    flat = changed.reshape(-1)
    index = min(int(position * flat.size), flat.size - 1)
    flat[index] += size * (1 + abs(flat[index]))
    return changed


@settings(max_examples=25, deadline=None)
@given(position=st.floats(0, 1), size=st.sampled_from([1e-3, -1e-2, 0.5]))
def test_softmax_gradient_wrong_in_one_entry_fails(position, size):
    def perturbed(scores, y):
        loss, dscores = softmax_loss(scores, y)
        return loss, perturb_one_entry(dscores, position, size)

    result = check.softmax_loss(perturbed)
    assert not result.passed
    assert any("`dscores`" in finding for finding in result.findings)
    assert result.mistakes == []


@pytest.mark.parametrize("name", LAYERS)
@settings(max_examples=15, deadline=None)
@given(
    which=st.integers(0, 2),
    position=st.floats(0, 1),
    size=st.sampled_from([1e-3, -1e-2, 0.5]),
    scale=st.sampled_from([1.0, 1.01, 0.99]),
)
def test_layer_gradient_scaled_or_wrong_in_one_entry_fails(name, which, position, size, scale):
    checker, forward, backward, grads, _ = LAYERS[name]
    which = which % len(grads)

    def change(results):
        results[which] = perturb_one_entry(results[which] * scale, position, size)
        return results

    def changed_backward(dout, cache):  # with the module's cache
        results = change(list(as_tuple(backward(dout, cache))))
        return results[0] if len(results) == 1 else tuple(results)

    reader_backward, reader_forward = layer_reader(None, forward, backward, grads, change)
    for result in (checker(changed_backward), checker(reader_backward, reader_forward)):
        assert not result.passed
        assert any(f"`{grads[which]}`" in finding for finding in result.findings)
        assert result.mistakes == []


def test_the_reader_harness_without_a_mistake_passes():
    for name, (checker, forward, backward, grads, _) in LAYERS.items():
        reader_backward, reader_forward = layer_reader(None, forward, backward, grads)
        assert checker(reader_backward, reader_forward).passed, name


def test_float64_gradient_for_float32_input_is_a_dtype_finding():
    result = check.softmax_loss(drafts.softmax_loss_vectorized)
    assert not result.passed
    assert len(result.findings) == 1
    assert "dtype" in result.findings[0] and "float32 input" in result.findings[0]


# what a finding says -----------------------------------------------------------------------------


def test_a_value_finding_names_case_output_place_and_size():
    def dscores_off_at_one_entry(scores, y):
        loss, dscores = softmax_loss(scores, y)
        dscores = dscores.copy()
        dscores[-1, 0] += 0.5
        return loss, dscores

    finding = check.softmax_loss(dscores_off_at_one_entry).findings[0]
    assert finding.startswith("`dscores` differs from the reference in all 8 cases")
    assert '"a random batch, N = 5, C = 4"' in finding
    assert "`dscores[4, 0]` (row 4, column 0)" in finding
    assert "off by 0.5" in finding
    assert "1 of 20 entries differ" in finding


def test_an_exception_of_the_readers_function_becomes_a_finding():
    def broken(scores, y):
        return scores.sum(axis=2), None

    result = check.softmax_loss(broken)
    assert not result.passed
    assert result.findings[0].startswith("An exception was raised in all 8 cases")
    assert "AxisError" in result.findings[0]
    assert "`return scores.sum(axis=2), None`" in result.findings[0]


@pytest.mark.parametrize(
    ("returned", "words"),
    [
        (None, "NoneType; expected the 2 values (loss, dscores)"),
        ((1.0, 2.0, 3.0), "3 values; expected the 2 values"),
        ((1.0, [[0.0]]), "`dscores` is a list; expected a NumPy array"),
        ((1.0, np.array([["a"]])), "`dscores` holds <U1 values"),
    ],
)
def test_an_unusable_result_becomes_a_finding(returned, words):
    result = check.softmax_loss(lambda scores, y: returned)
    assert not result.passed
    assert any(words in finding for finding in result.findings)


def test_a_loss_per_sample_is_a_shape_finding():
    def per_sample(scores, y):
        _, dscores = softmax_loss(scores, y)
        return -np.log(np.exp(scores)[np.arange(len(y)), y] / np.exp(scores).sum(axis=1)), dscores

    result = check.softmax_loss(per_sample)
    assert any("expected a single number" in finding for finding in result.findings)


def test_backward_reading_another_cache_is_told_where_its_cache_came_from():
    def cs231n_style(dout, cache):
        x, xhat, gamma = cache  # the cache of the reader's own forward
        return dout, dout.sum(axis=0), dout.sum(axis=0)

    finding = check.batchnorm_backward(cs231n_style).findings[0]
    assert "given the cache of backprop_utils.batchnorm.batchnorm_forward (pass your" in finding


def test_centred_differences_expose_a_gradient_that_disagrees_with_the_loss():
    def gradient_without_mean(scores, y):
        loss, dscores = softmax_loss(scores, y)
        return loss, dscores * len(y)

    result = check.softmax_loss(gradient_without_mean)
    assert result.mistakes == ["missing 1/N"]
    assert any(
        finding.startswith("`dscores` disagrees with centred differences")
        for finding in result.findings
    )


# the result object -------------------------------------------------------------------------------


def test_a_passed_result_has_no_findings_and_says_passed():
    result = check.relu_backward(layers.relu_backward)
    assert isinstance(result, CheckResult)
    assert result.passed is True
    assert result.findings == [] and result.mistakes == []
    assert str(result).startswith("check.relu_backward(relu_backward): passed all checks on 6")
    assert repr(result) == str(result)
    assert result._repr_markdown_().startswith("**check.relu\\_backward(relu\\_backward): passed")


def test_a_failed_result_numbers_its_findings():
    result = check.softmax_loss(drafts.draft_sum_over_samples)
    assert result.passed is False
    assert all(isinstance(finding, str) for finding in result.findings)
    lines = str(result).splitlines()
    count = len(result.findings)
    assert lines[0] == f"check.softmax_loss(draft_sum_over_samples): FAILED with {count} findings:"
    assert lines[1] == f"1. {result.findings[0]}"
    assert len(lines) == len(result.findings) + 1


def test_the_markdown_report_escapes_text_but_keeps_code():
    markdown = check.softmax_loss(drafts.draft_wrong_axis)._repr_markdown_()
    assert "`[:, None]`" in markdown
    assert "(N,) vector" in markdown
    assert "1. Known mistake" in markdown
    assert "\\*" not in markdown.split("`")[1]


def test_the_label_names_the_forward_when_given():
    result = check.affine_backward(layers.affine_backward, layers.affine_forward)
    assert result.label == "check.affine_backward(affine_backward, forward=affine_forward)"


def test_a_lambda_is_labelled():
    assert check.softmax_loss(lambda s, y: softmax_loss(s, y)).label == (
        "check.softmax_loss(<lambda>)"
    )


# calls that cannot be checked ---------------------------------------------------------------------


@pytest.mark.parametrize("checker", [check.softmax_loss, *[spec[0] for spec in LAYERS.values()]])
def test_a_non_function_is_a_type_error(checker):
    with pytest.raises(TypeError, match="fn must be a function"):
        checker(np.zeros(3))


def test_a_softmax_loss_of_one_argument_is_a_type_error():
    with pytest.raises(TypeError, match="must take 2 arguments"):
        check.softmax_loss(lambda scores: scores)


@pytest.mark.parametrize("name", LAYERS)
def test_a_forward_passed_as_the_backward_is_a_type_error(name):
    checker, forward, _, _, _ = LAYERS[name]
    with pytest.raises(TypeError, match="fn must take 2 arguments"):
        checker(forward)


@pytest.mark.parametrize("name", LAYERS)
def test_a_backward_passed_as_the_forward_is_a_type_error(name):
    checker, _, backward, grads, _ = LAYERS[name]
    count = len(grads)  # relu_forward(x) takes 1 argument; the others 3
    with pytest.raises(TypeError, match=f"forward must take {count} arguments"):
        checker(backward, backward)


def test_a_forward_that_is_not_a_function_is_a_type_error():
    with pytest.raises(TypeError, match="forward must be a function"):
        check.batchnorm_backward(batchnorm.batchnorm_backward, "batchnorm_forward")


# the chapter references ---------------------------------------------------------------------------


def chapter_headings():
    headings = {}
    for path in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        lines = [
            line.lstrip("#").strip().replace("$", "")
            for cell in cells
            if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines()
            if line.startswith("#")
        ]
        headings.setdefault(int(path.name[:2]), set()).update(lines)
    return headings


@pytest.mark.parametrize("key", mistakes.SECTIONS)
def test_every_chapter_reference_is_a_heading_of_that_chapter(key):
    chapter, title = mistakes.SECTIONS[key]
    assert title in chapter_headings().get(chapter, set()), (
        f"SECTIONS[{key!r}] = {(chapter, title)} is no heading of chapter {chapter}: "
        "update backprop_utils/mistakes.py after renumbering the chapters"
    )


def test_every_catalogued_mistake_has_a_known_section_and_a_variant():
    catalogues = [
        mistakes.SOFTMAX_LOSS,
        mistakes.AFFINE_BACKWARD,
        mistakes.RELU_BACKWARD,
        mistakes.BATCHNORM_BACKWARD,
        mistakes.LAYERNORM_BACKWARD,
    ]
    for mistake in [mistakes.IN_PLACE, *[m for catalogue in catalogues for m in catalogue]]:
        assert mistake.section in mistakes.SECTIONS
        assert mistake.variants or mistake is mistakes.IN_PLACE


def test_check_imports_as_a_submodule_in_a_fresh_interpreter():
    code = "import backprop_utils.check as c; from backprop_utils import check; print(c is check)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr


def test_a_gradient_of_the_wrong_shape_fails_the_finite_difference_comparison():
    """Even when the reference is wrong too (a transposed dw in the module itself)."""
    from unittest import mock

    right = layers.affine_backward

    def transposed(dout, cache):
        dx, dw, db = right(dout, cache)
        return dx, dw.T, db

    with mock.patch.object(layers, "affine_backward", transposed):
        result = check.affine_backward(transposed)
    assert not result.passed
    assert any("centred differences give" in finding for finding in result.findings)
