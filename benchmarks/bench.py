"""Speed and memory of the softmax loss and batch normalization in backprop_utils.

Prints markdown tables: the median time of forward + backward for each implementation,
PyTorch's CPU ``cross_entropy`` / ``batch_norm`` when torch is importable (it is not a
dependency of the book), the floor (streaming copy and ``np.exp`` on the same bytes), and
the peak extra memory measured by tracemalloc, as a multiple of the input's bytes.

    python benchmarks/bench.py            # full run, a few minutes
    python benchmarks/bench.py --quick    # fewer repeats, for a smoke test

Each configuration runs with one thread (threadpoolctl, and torch.set_num_threads(1)) and
with the default thread count. Timings are medians of repeated runs; other processes on the
machine make them noisy, so compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial

import numpy as np
from threadpoolctl import threadpool_limits

from backprop_utils.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from backprop_utils.softmax import softmax_loss, softmax_loss_naive, softmax_loss_staged

try:
    import torch
    import torch.nn.functional as torch_functional
except ImportError:  # torch is optional
    torch = None

SOFTMAX_SIZES = [(256, 10), (4096, 1000), (65536, 100)]
BATCHNORM_SIZES = [(256, 100), (4096, 1024), (65536, 64)]
DTYPES = [np.float64, np.float32]
LARGE_SCALE = 300.0  # scores this large take softmax_loss's MAX-node shift in both dtypes
NAIVE_ROWS = 16  # above the smallest size, time the naive loops on this many rows and scale


def median_ms(fn: Callable[[], object], repeats: int, budget_s: float = 1.5) -> float:
    """Median wall time of fn() in milliseconds, after one warm-up call."""
    return medians(interleaved_times({"fn": fn}, repeats, budget_s))["fn"]


def interleaved_times(
    fns: dict[str, Callable[[], object]], repeats: int, budget_s: float = 3.0
) -> dict[str, np.ndarray]:
    """Wall time (ms) of each function in each round, timed round-robin after one warm-up.

    Taking turns exposes every function to the same background load, so the ratio of two
    functions' times in one round stays meaningful on a busy machine.
    """
    warmup = 0.0
    for fn in fns.values():
        start = time.perf_counter()
        fn()
        warmup += time.perf_counter() - start
    repeats = max(3, min(repeats, int(budget_s / max(warmup, 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * np.array(values) for name, values in times.items()}


def medians(rounds: dict[str, np.ndarray]) -> dict[str, float]:
    """Median over the rounds of each function's time (ms)."""
    return {name: float(np.median(values)) for name, values in rounds.items()}


def ratio(times: dict[str, np.ndarray], numerator: str, denominator: str) -> str:
    """Median over the rounds of numerator / denominator, and its quartiles in brackets.

    Each round's ratio compares two runs made one after the other, under the same load;
    the quartiles show how far the load moved it. "n/a" when a function was not timed.
    """
    if numerator not in times or denominator not in times:
        return "n/a"
    ratios = times[numerator] / times[denominator]
    low, mid, high = np.percentile(ratios, [25, 50, 75])
    return f"{mid:.2f} ({low:.2f}-{high:.2f})"


def peak_extra_bytes(fn: Callable[[], object]) -> int:
    """Peak memory allocated while fn() runs (what it returns stays alive until the end)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak


@contextmanager
def threads(limit: int | None):
    """Limit BLAS/OpenMP pools (and torch) to `limit` threads; None keeps the default."""
    if limit is None:
        yield
        return
    torch_threads = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=limit):
        if torch is not None:
            torch.set_num_threads(limit)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(torch_threads)


def floor_fns(shape: tuple[int, int], dtype: type) -> dict[str, Callable[[], object]]:
    """Stream-copy an array of this shape, and take np.exp of it into an existing array."""
    source = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    target = np.empty_like(source)
    return {
        "copy": partial(np.copyto, target, source),
        "exp": partial(np.exp, source, out=target),
    }


def torch_cross_entropy(scores: np.ndarray, labels: np.ndarray) -> Callable[[], object]:
    scores_t, labels_t = torch.from_numpy(scores), torch.from_numpy(labels)

    def run():
        leaf = scores_t.detach().requires_grad_(True)
        torch_functional.cross_entropy(leaf, labels_t).backward()
        return leaf.grad

    return run


def torch_batch_norm(x, gamma, beta, dout) -> Callable[[], object]:
    x_t, gamma_t, beta_t, dout_t = (torch.from_numpy(a) for a in (x, gamma, beta, dout))

    def run():
        leaves = [a.detach().requires_grad_(True) for a in (x_t, gamma_t, beta_t)]
        out = torch_functional.batch_norm(leaves[0], None, None, leaves[1], leaves[2], True)
        out.backward(dout_t)
        return [leaf.grad for leaf in leaves]

    return run


def batchnorm_step(backward, x, gamma, beta, dout):
    """Forward then backward; the output stays alive during the backward pass."""
    out, cache = batchnorm_forward(x, gamma, beta)
    return out, backward(dout, cache)


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def bench_softmax(repeats: int, limit: int | None) -> list[str]:
    rows = []
    for dtype in DTYPES:
        for n_samples, n_classes in SOFTMAX_SIZES:
            rng = np.random.default_rng(0)
            scores = rng.standard_normal((n_samples, n_classes)).astype(dtype)
            labels = rng.integers(0, n_classes, n_samples)
            with threads(limit):
                if n_samples <= 256:
                    naive = median_ms(partial(softmax_loss_naive, scores, labels), 3)
                    naive_note = ""
                else:  # the loops cost the same per row: time a few rows and scale
                    part_s, part_y = scores[:NAIVE_ROWS], labels[:NAIVE_ROWS]
                    naive = median_ms(partial(softmax_loss_naive, part_s, part_y), 3)
                    naive *= n_samples / NAIVE_ROWS
                    naive_note = "~"
                fns = {
                    "staged": partial(softmax_loss_staged, scores, labels),
                    "fast": partial(softmax_loss, scores, labels),
                    **floor_fns(scores.shape, dtype),
                }
                if torch is not None:
                    fns["torch"] = torch_cross_entropy(scores, labels)
                rounds = interleaved_times(fns, repeats)
            times = medians(rounds)
            staged, fast, copy, exp = (times[k] for k in ("staged", "fast", "copy", "exp"))
            reference = times.get("torch")
            peak = peak_extra_bytes(partial(softmax_loss, scores, labels)) / scores.nbytes
            floor = copy + exp
            rows.append(
                f"| {dtype.__name__} | {n_samples}x{n_classes} | {naive_note}{naive:.1f} "
                f"| {staged:.2f} | {fast:.2f} | {fmt(reference)} "
                f"| {ratio(rounds, 'torch', 'fast')} "
                f"| {naive / fast:.0f} | {copy:.3g} + {exp:.3g} | {fast / floor:.1f} "
                f"| {peak:.2f} |"
            )
    header = [
        "| dtype | N x C | naive ms | staged ms | vectorized ms | torch ms "
        "| torch / vectorized | naive / vectorized | floor ms (copy + exp) "
        "| vectorized / floor | peak extra memory / input |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    return header + rows


def bench_softmax_large_scores(repeats: int, limit: int | None) -> list[str]:
    """The vectorized softmax loss where the MAX-node shift is taken (|scores| > 300)."""
    rows = []
    for dtype in DTYPES:
        for n_samples, n_classes in SOFTMAX_SIZES[1:]:
            rng = np.random.default_rng(0)
            scores = (LARGE_SCALE * rng.standard_normal((n_samples, n_classes))).astype(dtype)
            labels = rng.integers(0, n_classes, n_samples)
            with threads(limit):
                fns = {"fast": partial(softmax_loss, scores, labels)}
                if torch is not None:
                    fns["torch"] = torch_cross_entropy(scores, labels)
                rounds = interleaved_times(fns, repeats)
            times = medians(rounds)
            fast, reference = times["fast"], times.get("torch")
            peak = peak_extra_bytes(partial(softmax_loss, scores, labels)) / scores.nbytes
            rows.append(
                f"| {dtype.__name__} | {n_samples}x{n_classes} | {fast:.2f} | {fmt(reference)} "
                f"| {ratio(rounds, 'torch', 'fast')} | {peak:.2f} |"
            )
    header = [
        "| dtype | N x C | vectorized ms | torch ms | torch / vectorized "
        "| peak extra memory / input |",
        "|---|---|---|---|---|---|",
    ]
    return header + rows


def bench_batchnorm(repeats: int, limit: int | None) -> list[str]:
    rows = []
    for dtype in DTYPES:
        for n_samples, n_features in BATCHNORM_SIZES:
            rng = np.random.default_rng(0)
            x = rng.standard_normal((n_samples, n_features)).astype(dtype)
            gamma = rng.uniform(0.5, 2, n_features).astype(dtype)
            beta = rng.standard_normal(n_features).astype(dtype)
            dout = rng.standard_normal((n_samples, n_features)).astype(dtype)
            args = (x, gamma, beta, dout)
            with threads(limit):
                fns = {
                    "staged": partial(batchnorm_step, batchnorm_backward, *args),
                    "closed": partial(batchnorm_step, batchnorm_backward_alt, *args),
                    "copy": floor_fns(x.shape, dtype)["copy"],
                }
                if torch is not None:
                    fns["torch"] = torch_batch_norm(x, gamma, beta, dout)
                rounds = interleaved_times(fns, repeats)
            times = medians(rounds)
            staged, closed, copy = (times[k] for k in ("staged", "closed", "copy"))
            reference = times.get("torch")
            peak = (
                peak_extra_bytes(partial(batchnorm_step, batchnorm_backward_alt, *args)) / x.nbytes
            )
            # forward reads x and writes out, backward reads x and dout and writes dx:
            # five arrays, two and a half copies
            floor = 2.5 * copy
            rows.append(
                f"| {dtype.__name__} | {n_samples}x{n_features} | {staged:.2f} | {closed:.2f} "
                f"| {fmt(reference)} | {ratio(rounds, 'closed', 'torch')} "
                f"| {staged / closed:.1f} | {floor:.3g} | {closed / floor:.1f} | {peak:.2f} |"
            )
    header = [
        "| dtype | N x D | staged ms | closed form ms | torch ms | closed form / torch "
        "| staged / closed form | floor ms (2.5 copies) | closed form / floor "
        "| peak extra memory / input |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    return header + rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions = f"NumPy {np.__version__}" + (f", torch {torch.__version__}" if torch else "")
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {versions}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per median")
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 21)
    print(f"Measured {datetime.date.today().isoformat()} on {machine()}.")
    if torch is None:
        print("PyTorch is not installed: its columns read n/a.")
    for label, limit in (("one thread", 1), ("default threads", None)):
        print(f"\n### Softmax loss, forward + backward, {label}\n")
        print("\n".join(bench_softmax(repeats, limit)))
        if limit == 1:
            print(f"\n### Softmax loss with large scores (x{LARGE_SCALE:g}), {label}\n")
            print("\n".join(bench_softmax_large_scores(repeats, limit)))
        print(f"\n### Batch normalization, forward + backward, {label}\n")
        print("\n".join(bench_batchnorm(repeats, limit)))
    print(
        "\nTimes are medians in milliseconds. A ratio is the median of the ratios measured "
        "round by round, with their quartiles in brackets. Above the smallest size, naive "
        f"(~) is scaled from {NAIVE_ROWS} rows. Peak memory is counted by tracemalloc "
        "while the output is alive; the input itself is not counted."
    )


if __name__ == "__main__":
    main()
