"""Every chapter opened as a reader opens it: in JupyterLab (with jupyterlab-myst), in Chromium.

Run after `make book` (``make test`` does both): each chapter must show as many figures in
JupyterLab as its built page shows. A JupyterLab server from this environment is started on
127.0.0.1 at a free port, on a copy of the chapters (so nothing the browser does can touch the
real files), with notebook windowing off (every cell is rendered, not only the visible ones),
autosave off and no news pop-up. The server and its kernels are always stopped at the end.
Without Chromium these tests skip with a message, except under CI, where they fail.
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import block_other_hosts, launch, missing
from tocfiles import ROOT, toc_notebooks

pytestmark = pytest.mark.jupyterlab

HTML_DIR = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
NOTEBOOKS = toc_notebooks()
RUN_ALL = Path("chapters/05_quotient_rule.ipynb")  # the chapter whose cells the browser runs
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
}
# What raw MyST looks like once jupyterlab-myst has rendered a cell (or failed to).
RAW_MYST = ["```{", "{eq}`", "{glue", "{numref}`", "{cite}`", "{doc}`", "Unknown Directive"]
RAW_MYST += ["Unknown role"]
# jupyterlab-myst shows a maths error as a span whose title is KaTeX's message.
MATH_ERRORS = ".katex-error, mjx-merror, [title*='control sequence'], [title*='ParseError']"
VISIBLE_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
IMAGES = f"{VISIBLE_PANEL} .jp-OutputArea-output img"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_settings(folder: Path) -> None:
    for plugin, values in SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_for_server(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within 90 s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and every kernel it started (they share its process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)  # kernels that outlived the server
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the chapters: (base URL, token)."""
    if not (HTML_DIR / "index.html").exists():
        missing("the book is not built: run `make book` first")
    home = tmp_path_factory.mktemp("jupyterlab")
    work = home / "chapters"
    shutil.copytree(ROOT / "chapters", work)
    _write_settings(home / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = os.environ | {
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}"]
    command += ["--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"]
    command += [f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True"]
    command += ["--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", process, log)
        yield base, token
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def page(lab):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        blocked: list[str] = []
        block_other_hosts(context, blocked)
        page = context.new_page()
        page.blocked = blocked
        yield page
        browser.close()


def _open(page, lab, notebook: Path) -> None:
    """Open the notebook alone in a fresh workspace; wait until JupyterLab has drawn it all."""
    base, token = lab
    cells = json.loads((ROOT / notebook).read_text(encoding="utf-8"))["cells"]
    markdown = sum(cell["cell_type"] == "markdown" for cell in cells)
    workspace = f"check-{notebook.stem}-{secrets.token_hex(3)}"
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{notebook.name}?reset&token={token}")
    panel = f"{VISIBLE_PANEL} .jp-Notebook"
    page.wait_for_selector(panel, timeout=90_000)
    page.wait_for_function(
        """([panel, cells, markdown]) => {
            const nb = document.querySelector(panel);
            return nb && nb.querySelectorAll('.jp-Cell').length === cells
                && nb.querySelectorAll('.jp-MarkdownCell.jp-mod-rendered').length === markdown;
        }""",
        arg=[panel, len(cells), markdown],
        timeout=60_000,
    )
    _wait_until_idle(page)


def _wait_until_idle(page, timeout: int = 60_000) -> None:
    """Wait for the kernel to start and fall idle, and for every image to be decoded."""
    page.wait_for_function(
        "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText ?? '')",
        timeout=timeout,
    )
    page.evaluate(
        f"""async () => Promise.all([...document.querySelectorAll('{IMAGES}')]
            .map(img => img.decode().catch(() => 0)))"""
    )


def _figures_on_built_page(notebook: Path) -> int:
    html = (HTML_DIR / notebook.with_suffix(".html")).read_text(encoding="utf-8")
    main = html[html.find("<main") :]
    return len(re.findall(r"<figure\b[^>]*>\s*(?:<div[^>]*>\s*)*<img\b", main))


def _inspect(page) -> dict:
    panel = page.locator(VISIBLE_PANEL)
    rendered = panel.locator(".jp-MarkdownCell .jp-RenderedMarkdown, .jp-MarkdownCell .myst")
    text = "\n".join(rendered.all_inner_texts())
    text += "\n".join(panel.locator(".jp-OutputArea-output").all_inner_texts())
    return {
        "images": page.evaluate(
            f"() => [...document.querySelectorAll('{IMAGES}')].filter(i => i.naturalWidth).length"
        ),
        "math_errors": panel.locator(MATH_ERRORS).count(),
        "raw_myst": [raw for raw in RAW_MYST if raw in text],
        "dirty": page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count(),
        "errors": panel.locator("[data-mime-type='application/vnd.jupyter.stderr']").count(),
    }


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_chapter_opens_in_jupyterlab_as_in_the_book(page, lab, notebook):
    _open(page, lab, notebook)
    page.wait_for_timeout(1000)  # time for a late metadata change to mark the tab
    report = _inspect(page)
    figures = _figures_on_built_page(notebook)
    assert figures > 0, f"{notebook}: the built page shows no figure"
    assert report["images"] == figures, (
        f"{notebook}: JupyterLab shows {report['images']} images, the book {figures} figures"
    )
    assert report["math_errors"] == 0, f"{notebook}: {report['math_errors']} maths errors"
    assert report["raw_myst"] == [], f"{notebook}: raw MyST shown: {report['raw_myst']}"
    assert report["dirty"] == 0, f"{notebook}: opening it marked it modified"
    assert page.blocked == [], f"{notebook}: asked the network for {page.blocked}"


def test_a_chapter_runs_in_the_browser(page, lab):
    _open(page, lab, RUN_ALL)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        f"""() => {{
            const prompts = [...document.querySelectorAll(
                '{VISIBLE_PANEL} .jp-CodeCell .jp-InputPrompt')].map(p => p.innerText.trim());
            return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
        }}""",
        timeout=120_000,
    )
    prompts = page.locator(f"{VISIBLE_PANEL} .jp-CodeCell .jp-InputPrompt").all_inner_texts()
    code_cells = [
        cell
        for cell in json.loads((ROOT / RUN_ALL).read_text(encoding="utf-8"))["cells"]
        if cell["cell_type"] == "code"
    ]
    assert [prompt.strip() for prompt in prompts] == [
        f"[{number}]:" for number in range(1, len(code_cells) + 1)
    ], "the cells did not all run, once each and in order"
    _wait_until_idle(page)
    report = _inspect(page)
    assert report["errors"] == 0, f"{RUN_ALL}: {report['errors']} error or stderr outputs"
    assert report["images"] == _figures_on_built_page(RUN_ALL)
