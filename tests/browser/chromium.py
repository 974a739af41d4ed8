"""Debian's chromium as Playwright launches it for the console's tests and screenshots."""

from __future__ import annotations

import os
import shutil

from playwright.sync_api import Browser, Playwright

__all__ = ["ARGS", "launch", "path"]

CHROMIUM = "/usr/bin/chromium"
# Only the loopback: anything else goes to a closed loopback port (the proxy) and no name is
# ever looked up; the background services a fresh profile would call are off.
ARGS = [
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


def path() -> str:
    """chromium's executable; an error saying how to install it when it is missing."""
    found = shutil.which("chromium") or CHROMIUM
    if not os.path.exists(found):
        raise FileNotFoundError("chromium is missing: `make chromium` installs Debian's package "
                                "(Playwright is never let download a browser of its own)")
    return found


def launch(playwright: Playwright) -> Browser:
    """Headless chromium from its system path: Playwright downloads nothing."""
    return playwright.chromium.launch(executable_path=path(), headless=True, args=ARGS)
