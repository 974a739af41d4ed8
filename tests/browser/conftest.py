"""The console in a real browser: Debian's chromium driven by Playwright (the ``browser``
extra), headless, against a real phoenixd. Playwright never downloads a browser here: it
is given chromium's path (``make chromium`` installs it). The tests of this directory share
one browser and one daemon (xdist keeps them on one worker: ``--dist loadgroup``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api.http import Http, http_daemon
from tests.daemon import PhoenixProcess

CHROMIUM = "/usr/bin/chromium"
# Only the loopback: anything else goes to a closed loopback port (the proxy) and no name is
# ever looked up; the background services a fresh profile would call are off.
CHROMIUM_ARGS = [
    "--no-sandbox",  # root on CI
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--no-pings",
]
# How long a test waits for something to appear in the page (a live update, a reconnect).
WAIT_MS = 15_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.xdist_group("browser"))


def chromium() -> str:
    path = shutil.which("chromium") or CHROMIUM
    if not os.path.exists(path):
        pytest.fail("chromium is missing: `make chromium` installs Debian's package")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), headless=True,
                                              args=CHROMIUM_ARGS)
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


def live(page: Page) -> None:
    page.wait_for_selector("#stream-state[data-state=live]")


def tab(page: Page, name: str) -> None:
    page.click(f"#tabs button[data-tab={name}]")
