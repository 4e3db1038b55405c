"""How long each chapter takes to execute, against the book's limit of 15 s a notebook.

Executes every notebook of ``_toc.yml`` in a fresh kernel, as nbval and the book build do,
and prints a markdown table: the wall time from kernel start to the last cell, the time
spent inside cells, and the slowest cell. Nothing is written back to the notebooks.

    python benchmarks/notebooks.py                 # every chapter
    python benchmarks/notebooks.py chapters/09*    # some of them

The machine's other work inflates the wall times; run it on a quiet machine.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from tocfiles import toc_notebooks  # noqa: E402

LIMIT_S = 15.0


def cell_seconds(cell: dict) -> float:
    """Time a cell spent executing, from the timestamps nbclient records."""
    timing = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
        return 0.0
    start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def time_notebook(path: Path) -> tuple[float, float, int, float]:
    """Wall time, time inside cells, index and time of the slowest cell."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, resources={"metadata": {"path": path.parent}})
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    times = [cell_seconds(cell) for cell in notebook.cells]
    slowest = max(range(len(times)), key=times.__getitem__)
    return wall, sum(times), slowest, times[slowest]


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths] if paths else [ROOT / p for p in toc_notebooks()]
    print("| notebook | wall (s) | in cells (s) | slowest cell (s) | under 15 s |")
    print("|---|---|---|---|---|")
    over = 0
    for path in notebooks:
        wall, in_cells, slowest, slowest_s = time_notebook(path)
        over += wall > LIMIT_S
        verdict = "yes" if wall <= LIMIT_S else "**no**"
        print(
            f"| {path.stem} | {wall:.1f} | {in_cells:.1f} | "
            f"cell {slowest}: {slowest_s:.1f} | {verdict} |"
        )
    print(f"\n{len(notebooks) - over} of {len(notebooks)} notebooks ran in under {LIMIT_S:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
