"""List the pages named in _toc.yml.

Run as a script it prints the notebook paths, one a line, for the Makefile's nbval step.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def toc_entries(root: Path = ROOT) -> list[str]:
    """Return every document name in _toc.yml (the root first), without a suffix."""
    text = (root / "_toc.yml").read_text()
    root_doc = re.search(r"^root:\s*(\S+)", text, re.M).group(1)
    return [root_doc] + re.findall(r"^\s*-?\s*file:\s*(\S+)", text, re.M)


def toc_sources(root: Path = ROOT) -> list[Path]:
    """Return the source file of each toc entry (.ipynb or .md), relative to the root."""
    sources = []
    for name in toc_entries(root):
        matches = [Path(name + suffix) for suffix in (".ipynb", ".md")]
        found = [path for path in matches if (root / path).exists()]
        sources.append(found[0] if found else matches[0])
    return sources


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """Return the notebooks among the toc's sources."""
    return [path for path in toc_sources(root) if path.suffix == ".ipynb"]


if __name__ == "__main__":
    sys.stdout.write("".join(f"{path}\n" for path in toc_notebooks()))
