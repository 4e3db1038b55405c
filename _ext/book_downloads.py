"""Sphinx extension: the downloads the welcome page links, made with every HTML build.

- ``backprop-derived-notebooks.zip``: every chapter notebook of the toc with its stored outputs,
  plus ``backprop_utils`` and the files that install it, so a reader can open the whole book in
  JupyterLab in one step;
- ``backprop-derived.pdf``: the PDF, copied from ``_build/latex`` when ``make pdf`` has built it.

Both are written to ``_build/downloads`` and copied to the root of the site (``html_extra_path``).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

ZIP_NAME = "backprop-derived-notebooks.zip"
PDF_NAME = "backprop-derived.pdf"
TOP = "backprop-derived"  # the folder the zip unpacks into
README = """Backprop, Derived: the chapters as Jupyter notebooks, with their outputs.

    python3.11 -m venv .venv
    .venv/bin/pip install -r requirements.txt     # installs backprop_utils too
    .venv/bin/jupyter lab chapters/

The notebooks show their figures, maths and MyST (roles, equations, exercises) in JupyterLab
through jupyterlab-myst, which requirements.txt installs.
"""


def _toc_notebooks(root: Path) -> list[Path]:
    toc = (root / "_toc.yml").read_text(encoding="utf-8")
    names = re.findall(r"^\s*-?\s*file:\s*(\S+)", toc, re.M)
    return [root / f"{name}.ipynb" for name in names if (root / f"{name}.ipynb").exists()]


def write_zip(root: Path, path: Path) -> None:
    """Write the notebooks, the module and its install files into the zip at ``path``."""
    files = _toc_notebooks(root) + sorted((root / "backprop_utils").glob("*.py"))
    files += [root / name for name in ("requirements.txt", "pyproject.toml", "LICENSE")]
    files = [file for file in files if file.exists()]  # a one-page build (tests/build_page.py)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{TOP}/README.txt", README)
        for file in files:
            archive.write(file, f"{TOP}/{file.relative_to(root).as_posix()}")


def make_downloads(app) -> None:
    if app.builder.format != "html":
        return
    root = Path(app.confdir)
    folder = Path(app.outdir).parent / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    write_zip(root, folder / ZIP_NAME)
    pdf = root / "_build" / "latex" / PDF_NAME
    if pdf.exists():
        shutil.copy2(pdf, folder / PDF_NAME)
    else:
        (folder / PDF_NAME).unlink(missing_ok=True)
    app.config.html_extra_path.append(str(folder))


def link_pdf(app, config) -> None:
    """The substitution {{ pdf_download }}: a link to the PDF, or how to build it."""
    built = (Path(app.confdir) / "_build" / "latex" / PDF_NAME).exists()
    link = f'<a href="{PDF_NAME}" download>{PDF_NAME}</a>'
    note = "not part of this copy of the site: `make pdf` builds it, then `make book`"
    config.myst_substitutions = dict(config.myst_substitutions or {})
    config.myst_substitutions["pdf_download"] = link if built else note


def setup(app):
    app.connect("config-inited", link_pdf)
    app.connect("builder-inited", make_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
