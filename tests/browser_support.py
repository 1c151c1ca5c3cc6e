"""Headless Debian chromium driven by Playwright for the report and dashboard tests.

Never `playwright install`: the browser is /usr/bin/chromium (`make test` installs it with apt).
Without it the browser tests skip with the reason, except in CI, where they must run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def launch() -> tuple[Any, Any]:
    """(playwright, browser), or skip/fail with the reason when the browser is missing."""
    if not CHROMIUM.exists():
        _unavailable("Debian's chromium is not installed (apt-get install chromium; `make test` does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install 'lossdoctor[browser]')")
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
    return pw, browser


@dataclass
class Watched:
    """A page, the requests it made, and what went wrong in it."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@contextmanager
def open_page(browser: Any, allow_origin: str | None = None) -> Iterator[Watched]:
    """A page with the network off: every request that is not the file itself (or `allow_origin`, the
    dashboard's own server) is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=allow_origin is None)
    page = context.new_page()
    watched = Watched(page)

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:")) or (allow_origin and url.startswith(allow_origin)):
            r.continue_()
        else:
            watched.blocked.append(url)
            r.abort()

    context.route("**/*", route)
    page.on("request", lambda req: watched.requests.append(req.url))
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    page.on("console", lambda msg: watched.errors.append(msg.text) if msg.type == "error" else None)

    def dialog(d: Any) -> None:
        watched.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    try:
        yield watched
    finally:
        context.close()


def wait_rendered(page: Any) -> None:
    page.wait_for_selector("#app[data-rendered=true]", timeout=20_000)
