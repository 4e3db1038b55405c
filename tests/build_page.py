"""Build one chapter as a small book with the real _config.yml, for writing a chapter.

Usage: python tests/build_page.py chapters/05_quotient_rule.ipynb
Links to other chapters are reported as warnings there; the full build resolves them.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(page: str) -> int:
    source = ROOT / page
    if not source.exists():
        sys.stderr.write(f"no such page: {page}\n")
        return 2
    book = Path(tempfile.mkdtemp(prefix=f"page-{source.stem}-"))
    for name in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / name, book / name)
    for folder in ("_ext", "_static", "_latex"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, book / folder)
    (book / "chapters").mkdir()
    shutil.copy(source, book / "chapters" / source.name)
    shutil.copy(ROOT / "chapters" / "references.md", book / "chapters" / "references.md")
    (book / "_toc.yml").write_text(
        f"format: jb-book\nroot: chapters/{source.stem}\nchapters:\n  - file: chapters/references\n"
    )
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(book), "-W", "-n", "--keep-going"]
    status = subprocess.call(command)
    print(f"built {book / '_build' / 'html' / 'index.html'} (exit {status})")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
