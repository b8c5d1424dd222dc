"""Open explorer pages in a real browser: Debian's Chromium, headless, driven by Playwright.

Nothing here downloads a browser (no ``playwright install``): Playwright is
pointed at ``/usr/bin/chromium``, which ``.ci/run`` installs with apt. Every
page is opened from disk with every request and console message recorded, so
a test can assert that a page asked for nothing but itself and logged no error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHAINRULE_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_available() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright; never `playwright install`)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@dataclass
class Opened:
    """A page opened from a file, with everything it asked for and said."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check_clean(self) -> None:
        """No console error, no uncaught exception, no request but the page itself."""
        assert self.errors == [], self.errors
        assert self.requests == [self.url], self.requests


@pytest.fixture(scope="session", name="browser")
def browser_fixture() -> Iterator[Any]:
    reason = browser_available()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def open_page(browser: Any, path: Path, width: int = 1280, height: int = 720) -> Opened:
    """Open ``path`` in a fresh context, recording requests, console errors and page errors."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    opened = Opened(page, path.resolve().as_uri())
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("console", lambda msg: opened.errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.goto(opened.url)
    page.wait_for_selector("g.node")
    return opened


def lit(page: Any) -> tuple[set[tuple[str, str]], set[str]]:
    """The lit edges (input, consumer) and lit nodes, by name."""
    edges = page.eval_on_selector_all("path.edge.lit", "els => els.map(e => [e.dataset.src, e.dataset.dst])")
    nodes = page.eval_on_selector_all("g.node.lit", "els => els.map(e => e.dataset.name)")
    return {tuple(e) for e in edges}, set(nodes)


def click_node(page: Any, name: str) -> str:
    """Click the node called ``name``; return the panel's text."""
    page.click(f'g.node[data-name="{name}"]')
    return page.inner_text("#panel")
