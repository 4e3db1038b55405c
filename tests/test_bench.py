"""Tests of the benchmark's timing helpers (benchmarks/bench.py); no time is asserted."""

import importlib.util
from pathlib import Path

import numpy as np

BENCH_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
spec = importlib.util.spec_from_file_location("bench", BENCH_PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_functions_take_turns_and_every_round_is_kept():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    rounds = bench.interleaved_times(fns, repeats=4)
    assert calls == ["a", "b"] * 5  # one warm-up each, then four rounds in turn
    assert set(rounds) == {"a", "b"}
    assert all(len(times) == 4 and np.all(times >= 0) for times in rounds.values())


def test_ratio_is_the_median_of_the_ratios_round_by_round():
    # the medians of the times give 2.5 / 1.5; the rounds' own ratios are 1, 3, 1 and 3
    rounds = {"torch": np.array([1.0, 3.0, 2.0, 6.0]), "fast": np.array([1.0, 1.0, 2.0, 2.0])}
    assert bench.ratio(rounds, "torch", "fast") == "2.00 (1.00-3.00)"


def test_ratio_without_the_reference_reads_not_available():
    assert bench.ratio({"fast": np.array([1.0])}, "torch", "fast") == "n/a"
