"""The console in a real browser: Debian's chromium driven by Playwright (the ``browser``
extra), headless, against a real phoenixd. Playwright never downloads a browser here: it
is given chromium's path (``make chromium`` installs it). The tests of this directory share
one browser and one daemon per module (their xdist_group keeps them on one worker under
``make test``'s ``--dist loadgroup``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api.http import Http, http_daemon
from tests.browser import chromium
from tests.browser.pages import WAIT_MS, live
from tests.daemon import PhoenixProcess


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Not for the whole session: while Playwright's sync API is open its event loop runs in
    # this thread, and the tests that follow on the same worker call asyncio.run().
    with sync_playwright() as playwright:
        try:
            launched = chromium.launch(playwright)
        except FileNotFoundError as exc:
            pytest.fail(str(exc))
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PhoenixProcess, Http]]:
    """One phoenixd with its HTTP port, shared by a module's tests."""
    # A killed worker is FAILED (and its packet handed off) a second after its lease ends.
    proc, http = http_daemon(tmp_path_factory.mktemp("console") / "data",
                             "--suspect-grace", "1")
    try:
        yield proc, http
    finally:
        proc.stop()


@pytest.fixture
def page(browser: Browser, served: tuple[PhoenixProcess, Http]) -> Iterator[Page]:
    """The console, opened and live; the page fails the test on any script error."""
    context = browser.new_context()
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(WAIT_MS)
    opened.goto(served[1].base + "/console")
    live(opened)
    yield opened
    context.close()
    assert not errors, errors
