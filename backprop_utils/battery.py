"""The engine of :mod:`backprop_utils.check`: run a reader's function on cases, compare, report.

:func:`run_battery` calls the reader's function on each :class:`Case`, compares every output
with this module's reference (shape, dtype, values), checks that no input array changed, takes
centred differences on the cases that ask for them, and names a known mistake of
:mod:`backprop_utils.mistakes` wherever a wrong output agrees with one of its wrong variants.
It returns a :class:`CheckResult` whose findings say, in words, which case failed, which
output, where and by how much.
"""

from __future__ import annotations

import inspect
import os
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop_utils.mistakes import IN_PLACE, Mistake, section

__all__ = [
    "Battery",
    "Case",
    "CheckResult",
    "ReaderError",
    "as_results",
    "call_reader",
    "require_function",
    "run_battery",
]


@dataclass(frozen=True)
class Case:
    """One input of a battery: a name a student understands and the arrays to call with.

    ``inputs`` holds the forward inputs (``scores, y`` or ``x`` and the parameters) and, for a
    backward pass, ``dout``; the reader's function receives these very arrays, so a change in
    place shows. ``finite_differences`` marks the case on which gradients are also compared
    with centred differences.
    """

    name: str
    inputs: dict[str, np.ndarray]
    finite_differences: bool = False

    @property
    def dtype(self) -> type:
        """float32 if the first input is float32, else float64: the dtype the outputs need."""
        first = next(iter(self.inputs.values()))
        return np.float32 if first.dtype == np.float32 else np.float64


@dataclass(frozen=True)
class Battery:
    """What one check needs to run its cases.

    Attributes
    ----------
    call : callable
        ``call(inputs) -> (outputs, watched)``: runs the reader's function(s) on a case's inputs
        and returns their outputs by name, and ``{name: (array, copy before the call)}`` for
        further arrays (the cache) that must not change. Raises :class:`ReaderError`.
    reference : callable
        ``reference(**float64 inputs) -> outputs``, from this module's own functions.
    numeric : callable
        ``numeric(float64 inputs) -> {output: centred differences}``, of the reader's function
        (or of the forward pass whose gradient the output is).
    catalogue : tuple of Mistake
        The known mistakes to look for.
    shape_of : dict
        For each gradient, the input whose shape it must have ({"dx": "x", ...}).
    differences_of : str
        What the centred differences are taken of, in words.
    reference_name : str
        The module's function that gives the right outputs.
    """

    call: Callable[[dict[str, np.ndarray]], tuple[dict[str, Any], dict[str, tuple]]]
    reference: Callable[..., dict[str, Any]]
    numeric: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    catalogue: tuple[Mistake, ...]
    shape_of: dict[str, str]
    differences_of: str
    reference_name: str


class ReaderError(Exception):
    """The reader's function raised (``kind="raised"``) or returned something unusable."""

    def __init__(self, message: str, kind: str = "returned") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class _Failure:
    kind: str  # one of _HEADLINES
    output: str  # the output's name, "" when the whole call failed
    case: str
    detail: str
    mistakes: tuple[Mistake, ...] = ()


_HEADLINES = {
    "raised": "An exception was raised",
    "returned": "A result cannot be checked",
    "shape": "`{output}` has the wrong shape",
    "dtype": "`{output}` has the wrong dtype",
    "value": "`{output}` differs from the reference",
    "differences": "`{output}` disagrees with centred differences",
}


@dataclass(repr=False)
class CheckResult:
    """What a check found. It prints as a short report, in JupyterLab and in the book.

    Attributes
    ----------
    passed : bool
        True when every check of every case passed.
    findings : list of str
        What went wrong, in words: known mistakes first, then each failing check with its
        first case, output, place and size. Empty when ``passed``.
    mistakes : list of str
        The names of the known mistakes that the outputs matched.
    cases : list of str
        The names of the cases that were run.
    label : str
        The call that was checked, e.g. ``check.softmax_loss(my_loss)``.
    checks : str
        What was checked, in words.
    """

    passed: bool
    findings: list[str]
    mistakes: list[str]
    cases: list[str]
    label: str
    checks: str

    def _summary(self) -> str:
        if self.passed:
            return f"{self.label}: passed all checks on {len(self.cases)} cases"
        count = len(self.findings)
        return f"{self.label}: FAILED with {count} finding{'s' * (count != 1)}"

    def _details(self) -> str:
        return f"Cases: {'; '.join(self.cases)}. Checked: {self.checks}."

    def __str__(self) -> str:
        if self.passed:
            return f"{self._summary()}.\n{self._details()}"
        lines = [f"{number}. {text}" for number, text in enumerate(self.findings, 1)]
        return "\n".join([self._summary() + ":", *lines])

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        if self.passed:
            return f"**{_escape(self._summary())}.** {_escape(self._details())}"
        items = [f"{number}. {_escape(text)}" for number, text in enumerate(self.findings, 1)]
        return "\n".join([f"**{_escape(self._summary())}:**", "", *items])


def _escape(text: str) -> str:
    """Markdown-escape ``text`` outside its `code spans`."""
    parts = text.split("`")
    for index in range(0, len(parts), 2):
        for char in "\\*_[]<>#|~$":
            parts[index] = parts[index].replace(char, "\\" + char)
    return "`".join(parts)


def require_function(value: object, argument: str, parameters: tuple[str, ...]) -> str:
    """Raise TypeError unless ``value`` is callable with ``parameters``; return its name."""
    wanted = f"{argument}({', '.join(parameters)})"
    if not callable(value):
        raise TypeError(f"{argument} must be a function {wanted}, got {type(value).__name__}")
    name = getattr(value, "__name__", type(value).__name__)
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):  # a builtin without a signature: try it
        return name
    try:
        signature.bind(*parameters)
    except TypeError:
        raise TypeError(
            f"{argument} must take {len(parameters)} arguments, {wanted}; "
            f"{name}{signature} cannot be called that way"
        ) from None
    return name


def call_reader(function: Callable, arguments: tuple, who: str) -> Any:
    """``function(*arguments)``; an exception becomes a ReaderError that says where it came from."""
    try:
        return function(*arguments)
    except Exception as err:  # the reader's bug, whatever it is, is a finding
        raise ReaderError(f"{who} raised {_describe(err)}", "raised") from err


def _describe(err: Exception) -> str:
    """``ValueError: message (line 7: `code`)``: the error, and the last line it passed outside
    NumPy and this package (the reader's own code, as a rule)."""
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    message = message if len(message) <= 160 else message[:157] + "..."
    text = f"{type(err).__name__}: {message}" if message else type(err).__name__
    numpy_dir = os.path.dirname(np.__file__)
    here = os.path.dirname(__file__)
    frames = [
        frame
        for frame in traceback.extract_tb(err.__traceback__)
        if not frame.filename.startswith((numpy_dir, here))
    ]
    if frames and frames[-1].line:
        text += f" (line {frames[-1].lineno}: `{frames[-1].line.strip()}`)"
    return text


def as_results(value: object, count: int, names: str, who: str) -> tuple:
    """``value`` as a tuple of ``count`` results, or a ReaderError naming what was expected."""
    if not isinstance(value, tuple | list) or len(value) != count:
        got = f"{len(value)} values" if isinstance(value, tuple | list) else type(value).__name__
        raise ReaderError(f"{who} returned {got}; expected the {count} values ({names})")
    return tuple(value)


# comparing --------------------------------------------------------------------------------------


def _tolerance(dtype: type, want: np.ndarray) -> tuple[float, float]:
    """rtol and atol for output in ``dtype`` against a float64 reference ``want``."""
    finite = np.abs(want[np.isfinite(want)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    return (1e-4, 1e-5 * scale) if dtype == np.float32 else (1e-6, 1e-9 * scale)


def _close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Elementwise agreement; non-finite values agree only with the same non-finite value."""
    finite = np.isfinite(got) & np.isfinite(want)
    near = np.zeros(got.shape, dtype=bool)
    near[finite] = np.abs(got[finite] - want[finite]) <= atol + rtol * np.abs(want[finite])
    same = ~np.isfinite(want) & ((got == want) | (np.isnan(got) & np.isnan(want)))
    return near | same


def _agree(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> bool:
    return got.shape == want.shape and bool(_close(got, want, rtol, atol).all())


def _place(name: str, index: tuple[int, ...]) -> str:
    """``dscores[2, 0]`` (row 2, column 0), in words for 1-D and 2-D outputs."""
    if not index:
        return f"`{name}`"
    text = f"`{name}[{', '.join(str(i) for i in index)}]`"
    if len(index) == 2:
        return f"{text} (row {index[0]}, column {index[1]})"
    return text


def _number(value: float) -> str:
    return f"{value:.4g}"


def _worst(name: str, got: np.ndarray, want: np.ndarray, bad: np.ndarray, ours: str) -> str:
    """Where ``got`` is furthest from ``want`` (what ``ours`` gives) among ``bad`` entries."""
    distance = np.where(bad, np.abs(got - want), -1.0)
    distance[np.isnan(distance)] = np.inf
    index = np.unravel_index(int(np.argmax(distance)), got.shape)
    mine, theirs = float(got[index]), float(want[index])
    text = f"{_place(name, index)} is {_number(mine)} where {ours} {_number(theirs)}"
    if np.isfinite(mine) and np.isfinite(theirs):
        relative = abs(mine - theirs) / max(abs(mine) + abs(theirs), 1e-300)
        text += f": off by {abs(mine - theirs):.2g} (relative error {relative:.2g})"
    if got.ndim:
        text += f"; {int(bad.sum())} of {got.size} entries differ"
    return text


def _as_array(name: str, value: object, scalar: bool) -> np.ndarray:
    """The output as an array; a ReaderError if it is not real numbers."""
    if not scalar and not isinstance(value, np.ndarray):
        kind = "None" if value is None else f"a {type(value).__name__}"
        raise ReaderError(f"`{name}` is {kind}; expected a NumPy array")
    try:
        array = np.asarray(value)
    except ValueError:
        raise ReaderError(f"`{name}` is not an array of numbers") from None
    if array.dtype.kind not in "fiub":
        raise ReaderError(f"`{name}` holds {array.dtype} values; expected real numbers")
    return array


# running ----------------------------------------------------------------------------------------


def run_battery(battery: Battery, cases: list[Case], label: str) -> CheckResult:
    """Run every case; return the findings in words. Never raises for a wrong function."""
    failures: list[_Failure] = []
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in cases:
            failures += _run_case(battery, case)
    checks = (
        "in every case the types, shapes and dtypes returned, the values against "
        f"{battery.reference_name} in float64, and that no input changed; in the first case "
        f"also the gradients against centred differences of {battery.differences_of}"
    )
    return _result(label, [case.name for case in cases], failures, checks)


def _run_case(battery: Battery, case: Case) -> list[_Failure]:
    saved = {name: value.copy() for name, value in case.inputs.items()}
    try:
        outputs, watched = battery.call(case.inputs)
    except ReaderError as err:
        return [_Failure(err.kind, "", case.name, str(err))]
    failures = _changes(case, saved, watched)
    inputs = {
        name: value.astype(np.float64) if value.dtype.kind == "f" else value
        for name, value in saved.items()
    }
    expected = battery.reference(**inputs)
    variants = _Variants(battery.catalogue, inputs)
    arrays = {}
    for name, want in expected.items():
        if name not in outputs:
            continue
        want = np.asarray(want, dtype=np.float64)
        try:
            got = _as_array(name, outputs[name], scalar=want.ndim == 0)
        except ReaderError as err:
            failures.append(_Failure("returned", name, case.name, str(err)))
            continue
        found, usable = _compare(battery, case, name, got, want, variants)
        failures += found
        if usable:
            arrays[name] = got.astype(np.float64)
    if case.finite_differences and not any(f.kind in ("raised", "returned") for f in failures):
        failures += _differences(battery, case, inputs, arrays)
    return failures


def _changes(case: Case, saved: dict, watched: dict) -> list[_Failure]:
    """A failure for every input (or watched cache array) that the call changed."""
    pairs = {name: (case.inputs[name], saved[name]) for name in case.inputs}
    pairs.update(watched)
    failures = []
    for name, (after, before) in pairs.items():
        if after.shape != before.shape:
            detail = f"`{name}` now has shape {after.shape} where it had {before.shape}"
        elif np.array_equal(after, before, equal_nan=True):
            continue
        else:
            changed = ~((after == before) | (np.isnan(after) & np.isnan(before)))
            index = np.unravel_index(int(np.argmax(changed)), after.shape)
            detail = (
                f"{_place(name, index)} now holds {_number(after[index])} where it held "
                f"{_number(before[index])}; {int(changed.sum())} of {after.size} entries changed"
            )
        failures.append(_Failure("in place", name, case.name, detail, (IN_PLACE,)))
    return failures


def _compare(battery, case, name, got, want, variants) -> tuple[list[_Failure], bool]:
    """Failures of one output's shape, dtype and values; and whether its values can be used."""
    rtol, atol = _tolerance(case.dtype, want)
    if got.shape != want.shape:
        wanted = "a single number" if want.ndim == 0 else f"{want.shape}"
        source = battery.shape_of.get(name)
        wanted += f", the shape of `{source}`" if source else ""
        detail = f"`{name}` has shape {got.shape}; expected {wanted}"
        found = variants.matching(name, got.astype(np.float64), want, rtol, atol)
        return [_Failure("shape", name, case.name, detail, found)], False
    failures = []
    if want.ndim and got.dtype != case.dtype:
        detail = (
            f"`{name}` is {got.dtype} for {np.dtype(case.dtype)} input; "
            f"the book's convention is {np.dtype(case.dtype)} in, {np.dtype(case.dtype)} out"
        )
        failures.append(_Failure("dtype", name, case.name, detail))
    got = got.astype(np.float64)
    bad = ~_close(got, want, rtol, atol)
    if bad.any():
        found = variants.matching(name, got, want, rtol, atol)
        detail = _worst(name, got, want, bad, "the reference has")
        failures.append(_Failure("value", name, case.name, detail, found))
    return failures, True


class _Variants:
    """The outputs of every wrong variant on one case, computed when first needed."""

    def __init__(self, catalogue: tuple[Mistake, ...], inputs: dict[str, np.ndarray]) -> None:
        self._catalogue = catalogue
        self._inputs = inputs
        self._outputs: list[tuple[Mistake, dict[str, Any]]] | None = None

    def _all(self) -> list[tuple[Mistake, dict[str, Any]]]:
        if self._outputs is None:
            self._outputs = []
            for mistake in self._catalogue:
                for variant in mistake.variants:
                    copies = {name: value.copy() for name, value in self._inputs.items()}
                    try:
                        self._outputs.append((mistake, variant(**copies)))
                    except Exception:  # noqa: BLE001 - a variant that raises here makes no claim
                        continue
        return self._outputs

    def matching(self, name, got, want, rtol, atol) -> tuple[Mistake, ...]:
        """The mistakes with a variant whose ``name`` output is wrong here and equals ``got``."""
        found: list[Mistake] = []
        for mistake, outputs in self._all():
            if name not in outputs or mistake in found:
                continue
            theirs = np.asarray(outputs[name], dtype=np.float64)
            if not _agree(theirs, want, rtol, atol) and _agree(got, theirs, rtol, atol):
                found.append(mistake)
        return tuple(found)


def _differences(battery, case, inputs, arrays) -> list[_Failure]:
    """Compare each gradient with centred differences (float64 inputs, random dout)."""
    try:
        numeric = battery.numeric(inputs)
    except ReaderError as err:
        detail = f"{err}, while taking centred differences"
        return [_Failure(err.kind, "", case.name, detail)]
    failures = []
    for name, expected in numeric.items():
        got = arrays.get(name)
        if got is None:  # a missing output is reported by the comparison with the reference
            continue
        if got.shape != expected.shape:
            detail = f"`{name}` has shape {got.shape}; centred differences give {expected.shape}"
            failures.append(_Failure("differences", name, case.name, detail))
            continue
        scale = max(1.0, float(np.abs(expected).max()))
        bad = ~_close(got, expected, 1e-5, 1e-7 * scale)
        if bad.any():
            detail = _worst(
                name, got, expected, bad, f"centred differences of {battery.differences_of} give"
            )
            failures.append(_Failure("differences", name, case.name, detail))
    return failures


# reporting --------------------------------------------------------------------------------------


def _joined(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _in_cases(names: list[str], all_names: list[str]) -> str:
    """'in 2 of 8 cases ("N = 1", "C = 1")', or 'in all but ...', or 'in all 8 cases'."""
    if len(names) == len(all_names):
        return f"in all {len(all_names)} cases"
    text = f"in {len(names)} of {len(all_names)} cases"
    others = [name for name in all_names if name not in names]
    if len(names) <= 3:
        return f"{text} ({_quoted(names)})"
    if len(others) <= 3:
        return f"{text} (all but {_quoted(others)})"
    return text


def _result(
    label: str, case_names: list[str], failures: list[_Failure], checks: str
) -> CheckResult:
    """The findings: each known mistake, then each failing check with its first case."""
    diagnosed: dict[Mistake, list[_Failure]] = {}
    groups: dict[tuple[str, str], list[_Failure]] = {}
    for failure in failures:
        for mistake in failure.mistakes:
            diagnosed.setdefault(mistake, []).append(failure)
        if failure.kind != "in place":  # reported with its mistake, IN_PLACE
            groups.setdefault((failure.kind, failure.output), []).append(failure)
    findings = []
    for mistake, matches in diagnosed.items():
        outputs = list(dict.fromkeys(failure.output for failure in matches))
        cases = list(dict.fromkeys(failure.case for failure in matches))
        which = _joined([f"`{name}`" for name in outputs])
        where = _in_cases(cases, case_names)
        if mistake is IN_PLACE:
            verb = "was" if len(outputs) == 1 else "were"
            first = matches[0]
            evidence = f'{which} {verb} changed {where}. In "{first.case}": {first.detail}'
        else:
            verb = "matches" if len(outputs) == 1 else "match"
            evidence = f"{which} {verb} it {where}"
        text = f"{mistake.explanation}. {evidence}"
        findings.append(f'Known mistake "{mistake.name}": {text}. See {section(mistake.section)}.')
    order = list(_HEADLINES)
    for (kind, output), group in sorted(groups.items(), key=lambda item: order.index(item[0][0])):
        cases = list(dict.fromkeys(failure.case for failure in group))
        headline = _HEADLINES[kind].format(output=output)
        first = group[0]
        findings.append(
            f'{headline} {_in_cases(cases, case_names)}. In "{first.case}": {first.detail}.'
        )
    mistake_names = [mistake.name for mistake in diagnosed]
    return CheckResult(not failures, findings, mistake_names, case_names, label, checks)
