"""Reading and driving the console's page: its tabs, its tables, its stream's state."""

from __future__ import annotations

from playwright.sync_api import Page

__all__ = ["WAIT_MS", "live", "rows", "tab"]

# How long a test waits for something to appear in the page (a live update, a reconnect).
WAIT_MS = 15_000


def live(page: Page) -> None:
    """Wait until the page's stream is open."""
    page.wait_for_selector("#stream-state[data-state=live]")


def tab(page: Page, name: str) -> None:
    page.click(f"#tabs button[data-tab={name}]")


def rows(page: Page, table: str) -> list[list[str]]:
    """The cells of a console table, as shown."""
    cells = page.eval_on_selector_all(
        f'[data-table="{table}"] tbody tr',
        "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))")
    return [list(row) for row in cells]
