"""What the browser checks share: where Chromium is, how it starts, and what to do without it."""

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Debian's Chromium, headless, as root, with no call home: the machine has no network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def missing(reason: str) -> None:
    """Skip on a reader's machine; fail under CI, where everything must run."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def launch(playwright):
    """Start headless Chromium, or skip (fail under CI) when it is not installed."""
    if not CHROMIUM.exists():
        missing(
            f"no Chromium at {CHROMIUM}: install it with `sudo apt-get install -y chromium` "
            "(Debian/Ubuntu) or set CHROMIUM to its path"
        )
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


def block_other_hosts(context, blocked: list[str]) -> None:
    """Let requests to 127.0.0.1 through; abort and record every other one."""

    def guard(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
