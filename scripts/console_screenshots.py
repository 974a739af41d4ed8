"""Capture each tab of the runtime console as a PNG (the README's screenshots).

    .venv/bin/python scripts/console_screenshots.py docs/console    # make screenshots

Starts a phoenixd on free loopback ports over a temporary data dir, gives it a few members,
two example workers and some packets, kills one worker so that its packet is handed off,
then opens /console in headless chromium (Playwright with Debian's chromium, as the browser
tests) and captures every tab. Times and hashes differ on every run; the layout does not.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, ViewportSize, sync_playwright  # noqa: E402

from tests.api.agents import wait_until  # noqa: E402
from tests.api.example_agent import AgentProcess  # noqa: E402
from tests.api.http import Http, http_daemon  # noqa: E402
from tests.browser import chromium  # noqa: E402
from tests.browser.pages import WAIT_MS, live, tab  # noqa: E402

TABS = ("overview", "members", "capabilities", "workloads", "assignment", "handoffs", "audit",
        "health", "simulator")
VIEWPORT: ViewportSize = {"width": 1360, "height": 900}
MEMBERS = (
    ("planner-01", ["planning", "routing"], 0.95, {"zone": "a"}),
    ("indexer-01", ["indexing@2"], 0.8, {"zone": "b"}),
    ("indexer-02", ["indexing@2", "ocr"], 0.7, {"zone": "a"}),
    ("gpu-node-01", ["inference@1"], 0.9, {"zone": "b", "gpu": "a100"}),
)


def populate(http: Http, address: str, logs: Path) -> list[AgentProcess]:
    for member_id, capabilities, trust, labels in MEMBERS:
        http.ok("POST", "/v1/members", {
            "member_id": member_id, "capabilities": capabilities, "trust_score": trust,
            "labels": labels, "capacity": {"cpu": 16, "memory": 4096}, "lease_ttl": "3600s"})
    workers = [AgentProcess(address, f"summarizer-{i}", "--lease-ttl", "1",
                            "--seconds-per-page", "0.2", log=logs / f"summarizer-{i}.log")
               for i in (1, 2)]
    for worker in (1, 2):
        wait_until(lambda n=worker: http.get(f"/v1/members/summarizer-{n}")[0] == 200)
    for i, (capability, cpu) in enumerate((("indexing@2", 2), ("planning", 1),
                                           ("inference@1", 8), ("ocr", 1), ("translation", 1))):
        http.ok("POST", "/v1/packets", {"packet_id": f"job-{i + 1}",
                                        "required_capabilities": [capability],
                                        "demand": {"cpu": cpu, "memory": 256}})
    http.ok("POST", "/v1/packets", {"packet_id": "doc-42", "required_capabilities": ["summarize"],
                                    "context_checkpoint": {"state": {"pages": 400}}})
    owner = wait_until(lambda: _checkpointed_owner(http))
    killed = workers[int(owner.rsplit("-", 1)[1]) - 1]
    killed.proc.kill()  # by its PID: its lease runs out and doc-42 moves to the other worker
    killed.proc.wait(10)
    wait_until(lambda: http.ok("POST", "/v1/events:query",
                               {"types": ["handoff_completed"]})["events"], within=30)
    http.ok("POST", "/v1/members/indexer-02:drain", {"reason": "maintenance window"})
    return workers


def _checkpointed_owner(http: Http) -> str:
    packet = http.ok("GET", "/v1/packets/doc-42")["packet"]
    return str(packet["current_owner"]) if packet["context_checkpoint"]["step"] else ""


def capture(page: Page, out: Path) -> None:
    for name in TABS:
        tab(page, name)
        if name == "assignment":
            page.locator("#explain-form [name=packet_id]").fill("job-1")
            page.locator("#explain-form button[type=submit]").click()
            page.wait_for_selector('[data-table="candidates"] tbody tr')
        elif name == "audit":
            page.locator("#verify-form button[type=submit]").click()
            page.wait_for_selector("#verify-result[data-ok]")
        elif name == "health":
            page.wait_for_selector("#health-cards .card")
        elif name == "simulator":
            form = page.locator("#simulate-form")
            form.locator("[name=members]").fill("8")
            form.locator("[name=packets]").fill("60")
            form.locator("[name=steps]").fill("6")
            form.locator("button[type=submit]").click()
            page.wait_for_selector('[data-table="sim-steps"] tbody tr')
        page.wait_for_timeout(300)  # the next frame drawn
        page.screenshot(path=str(out / f"{name}.png"))
        print(out / f"{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the directory the PNGs are written to")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, http = http_daemon(Path(tmp) / "data", "--suspect-grace", "1")
        workers: list[AgentProcess] = []
        try:
            workers = populate(http, proc.address, Path(tmp))
            with sync_playwright() as playwright:
                browser = chromium.launch(playwright)
                page = browser.new_page(viewport=VIEWPORT)
                page.set_default_timeout(WAIT_MS)
                page.goto(http.base + "/console")
                live(page)
                capture(page, args.out)
                browser.close()
        finally:
            for worker in workers:
                if worker.proc.poll() is None:
                    worker.stop()
            proc.stop()


if __name__ == "__main__":
    main()
