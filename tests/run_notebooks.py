"""Execute chapters in place and save them as JupyterLab would, so opening one changes nothing.

    python tests/run_notebooks.py                      # every notebook of the toc
    python tests/run_notebooks.py chapters/06_max_node.ipynb

Each notebook runs in a fresh kernel from its own folder. It is saved with the kernelspec that
ipykernel installs (the one JupyterLab writes when it starts the kernel), the kernel's own
``language_info``, a cell id on every cell, nbformat 4.5, and no per-cell execution timestamps.
``tests/test_chapters.py`` checks that every committed notebook is saved this way.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
NBFORMAT = (4, 5)


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Give ``nb`` the metadata JupyterLab writes and drop what changes from run to run."""
    nb.nbformat, nb.nbformat_minor = NBFORMAT
    nb.metadata.kernelspec = nbformat.from_dict(KERNELSPEC)
    for cell in nb.cells:
        cell.setdefault("id", uuid.uuid4().hex[:8])
        cell.metadata.pop("execution", None)
    return nb


def run(path: Path) -> None:
    """Execute the notebook at ``path`` in a fresh kernel and save it cleaned, in place."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name=KERNELSPEC["name"],
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.write(clean(nb), path)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    from tocfiles import toc_notebooks

    paths = [Path(arg).resolve() for arg in sys.argv[1:]] or [ROOT / p for p in toc_notebooks()]
    for path in paths:
        print(f"executing {path.relative_to(ROOT)}", flush=True)
        run(path)
