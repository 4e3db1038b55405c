"""Checks of the built book in headless Chromium with the network off.

Run after `make book` (``make test`` does both). Each toc page is opened once through a server on
127.0.0.1; every request for another host is blocked and recorded. Without Chromium these tests
skip with a message, except under CI, where they fail.
"""

import functools
import json
import os
import re
import threading
import zipfile
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from browser import block_other_hosts, launch, missing
from tocfiles import ROOT, toc_entries, toc_notebooks

pytestmark = pytest.mark.browser

HTML_DIR = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
PAGES = toc_entries()
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture(scope="module")
def html_dir() -> Path:
    if not (HTML_DIR / "index.html").exists():
        missing("the book is not built: run `make book` first")
    return HTML_DIR


@pytest.fixture(scope="module")
def server_url(html_dir):
    handler = functools.partial(QuietHandler, directory=str(html_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        pass


@pytest.fixture(scope="module")
def reports(server_url):
    """Open every toc page once and record what a reader would see."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    results = {}
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context()
        blocked: list[str] = []
        block_other_hosts(context, blocked)
        page = context.new_page()
        for name in PAGES:
            if not (HTML_DIR / f"{name}.html").exists():
                continue  # reported by test_every_toc_entry_was_built
            blocked.clear()
            page.goto(urljoin(server_url, f"{name}.html"), wait_until="load")
            results[name] = _inspect(page) | {"blocked": list(blocked)}
        browser.close()
    return results


def _inspect(page) -> dict:
    """Wait for MathJax, then count maths, images and tracebacks on the open page."""
    math_sources = page.locator(".math").count()
    typeset = errors = untypeset = 0
    if math_sources:
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000
        )
        page.evaluate("() => MathJax.startup.promise")
        typeset = page.locator("mjx-container").count()
        errors = page.locator("mjx-merror").count()
        untypeset = page.evaluate(
            "() => [...document.querySelectorAll('.math')]"
            ".filter(el => !el.querySelector('mjx-container')).length"
        )
    images = page.evaluate(
        """async () => Promise.all([...document.images].map(async img => {
            img.loading = 'eager';
            try { await img.decode(); } catch (e) {}
            return [img.getAttribute('src'), img.naturalWidth];
        }))"""
    )
    return {
        "math_sources": math_sources,
        "typeset": typeset,
        "math_errors": errors,
        "untypeset": untypeset,
        "images": images,
        "tracebacks": page.locator(".traceback").count(),
        "text_has_traceback": TRACEBACK in page.inner_text("body"),
    }


def _report(reports: dict, name: str) -> dict:
    if name not in reports:
        pytest.fail(f"{name} was not built")
    return reports[name]


def test_every_toc_entry_was_built(html_dir):
    missing = [name for name in PAGES if not (html_dir / f"{name}.html").exists()]
    assert not missing, f"toc entries with no built page: {missing}"


def test_book_has_maths_at_all(reports):
    assert sum(report["typeset"] for report in reports.values()) > 0


@pytest.mark.parametrize("name", PAGES)
def test_maths_is_typeset(reports, name):
    report = _report(reports, name)
    assert report["untypeset"] == 0, f"{name}: {report['untypeset']} maths elements not typeset"
    assert report["math_errors"] == 0, f"{name}: MathJax reported {report['math_errors']} errors"
    if report["math_sources"]:
        assert report["typeset"] > 0


@pytest.mark.parametrize("name", PAGES)
def test_every_image_loads(reports, name):
    broken = [src for src, width in _report(reports, name)["images"] if width == 0]
    assert not broken, f"{name}: images that did not load: {broken}"


@pytest.mark.parametrize("name", PAGES)
def test_no_page_shows_a_traceback(reports, name):
    report = _report(reports, name)
    assert report["tracebacks"] == 0 and not report["text_has_traceback"], name


@pytest.mark.parametrize("name", PAGES)
def test_no_request_leaves_the_machine(reports, name):
    blocked = _report(reports, name)["blocked"]
    assert blocked == [], f"{name} asked the network for {blocked}"


class _LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        for key in ("href", "src"):
            if attributes.get(key) and tag in ("a", "img", "script", "link"):
                self.links.append(attributes[key])


@functools.cache
def _parse(path: Path) -> _LinkCollector:
    collector = _LinkCollector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


@pytest.mark.parametrize("name", PAGES)
def test_internal_links_resolve(html_dir, name):
    page = html_dir / f"{name}.html"
    if not page.exists():
        pytest.fail(f"{name} was not built")
    broken = []
    for link in _parse(page).links:
        parts = urlsplit(link)
        if parts.scheme or link.startswith("//"):
            continue
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(link)
        elif parts.fragment and target.suffix == ".html":
            if unquote(parts.fragment) not in _parse(target).ids:
                broken.append(link)
    assert not broken, f"{name}: links that lead nowhere: {broken}"


def test_chapters_offer_notebook_downloads(html_dir):
    chapters = [name for name in PAGES if re.match(r"chapters/\d\d_", name)]
    for name in chapters:
        source = html_dir / "_sources" / f"{name}.ipynb"
        assert source.exists(), f"no downloadable notebook for {name}"
        assert f"_sources/{name}.ipynb" in (html_dir / f"{name}.html").read_text(encoding="utf-8")


def test_welcome_page_links_a_zip_of_every_chapter_notebook(html_dir):
    assert 'href="backprop-derived-notebooks.zip"' in (html_dir / "index.html").read_text()
    with zipfile.ZipFile(html_dir / "backprop-derived-notebooks.zip") as archive:
        names = set(archive.namelist())
        for notebook in toc_notebooks():
            member = f"backprop-derived/{notebook.as_posix()}"
            assert member in names, f"the zip lacks {notebook}"
            stored = json.loads(archive.read(member))
            assert stored == json.loads((ROOT / notebook).read_text(encoding="utf-8"))
        assert "backprop-derived/backprop_utils/__init__.py" in names
        assert "backprop-derived/requirements.txt" in names
