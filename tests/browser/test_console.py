"""The runtime console at /console, in headless chromium against a real phoenixd: its forms
call the public API, the live stream shows other clients' changes without a reload, a
handoff after a worker is killed arrives by itself, and the stream resumes after the daemon
restarts without losing an event."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.agents import wait_until
from tests.api.example_agent import AgentProcess
from tests.api.http import Http, http_daemon
from tests.browser.pages import WAIT_MS, live, rows, tab
from tests.daemon import PhoenixProcess, operator_token_args

Served = tuple[PhoenixProcess, Http]
# One chromium and one daemon for the module: its tests run on one xdist worker.
pytestmark = pytest.mark.xdist_group("browser")
CONSOLE = Path(__file__).resolve().parents[2] / "phoenixd" / "http" / "console"


def register(http: Http, member_id: str, **fields: object) -> None:
    """A member without a worker behind it: it offers no capability the workers do, so it
    never wins a packet meant for them."""
    http.ok("POST", "/v1/members", {"member_id": member_id, "capabilities": ["indexing"],
                                    "capacity": {"cpu": 8, "memory": 800},
                                    "lease_ttl": "3600s", **fields})


def test_the_page_and_its_modules_carry_a_csp_that_forbids_inline_script(
        served: Served) -> None:
    base = served[1].base
    with urllib.request.urlopen(base + "/console", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "an inline script"
    assert not re.search(r"\son[a-z]+=", page), "an inline event handler"
    for name in re.findall(r'(?:src|href)="/console/([\w.]+)"', page):
        with urllib.request.urlopen(f"{base}/console/{name}", timeout=10) as response:
            assert response.headers["Content-Security-Policy"] == policy
    status, body = served[1].get("/console/secret.txt")
    assert status == 404 and "no route" in body["message"]


def test_the_modules_never_write_html() -> None:
    """Text from the daemon goes in with textContent: no module can parse a string as HTML."""
    for module in sorted(CONSOLE.glob("*.js")):
        source = module.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{module.name} uses {sink}"


def test_a_member_registered_through_the_form_is_listed(page: Page, served: Served) -> None:
    tab(page, "members")
    form = page.locator("#register-form")
    form.locator("[name=member_id]").fill("form-member-1")
    form.locator("[name=capabilities]").fill("planning, routing")
    form.locator("[name=label]").fill("zone=a")
    form.locator("button[type=submit]").click()
    expect(page.locator("#register-result")).to_contain_text("registered form-member-1")
    expect(page.locator('[data-table="members"] tbody')).to_contain_text("form-member-1")
    member = served[1].ok("GET", "/v1/members/form-member-1")["member"]
    assert member["capabilities"] == ["planning", "routing"] and member["labels"] == {"zone": "a"}


def test_a_member_another_client_registers_appears_without_a_reload(
        page: Page, served: Served) -> None:
    tab(page, "members")
    register(served[1], "curl-member-1")
    expect(page.locator('[data-table="members"] tbody')).to_contain_text("curl-member-1")
    tab(page, "capabilities")
    expect(page.locator('[data-table="capabilities"] tbody')).to_contain_text("curl-member-1")


def test_markup_from_a_member_is_shown_as_text(page: Page, served: Served) -> None:
    # A packet only it can take keeps the member DRAINING (with nothing to do it would retire
    # at once) and the drain's reason, which the operator wrote, in its status.
    register(served[1], "marked-member", capabilities=["marked"])
    served[1].ok("POST", "/v1/packets", {"packet_id": "marked-1",
                                         "required_capabilities": ["marked"]})
    markup = '<img id="injected" src="x"><b>bold</b>'
    served[1].ok("POST", "/v1/members/marked-member:drain", {"reason": markup})
    tab(page, "members")
    expect(page.locator('[data-table="members"] tbody')).to_contain_text(markup)
    tab(page, "audit")
    expect(page.locator('[data-table="events"] tbody')).to_contain_text(markup)
    assert page.locator("#injected").count() == 0
    assert page.locator('[data-table="members"] b').count() == 0


def test_a_packet_submitted_through_the_form_hands_off_when_its_worker_is_killed(
        page: Page, served: Served, tmp_path: Path) -> None:
    proc, http = served
    workers = [AgentProcess(proc.address, f"worker-{i}", "--lease-ttl", "1",
                            "--seconds-per-page", "0.2", log=tmp_path / f"worker-{i}.log")
               for i in (1, 2)]
    try:
        for number in (1, 2):
            wait_until(lambda n=number: http.get(f"/v1/members/worker-{n}")[0] == 200)
        tab(page, "workloads")
        form = page.locator("#submit-form")
        form.locator("[name=packet_id]").fill("doc-42")
        form.locator("[name=required_capabilities]").fill("summarize")
        form.locator("[name=state]").fill('{"pages": 200}')
        form.locator("button[type=submit]").click()
        expect(page.locator("#submit-result")).to_contain_text("submitted doc-42")

        def checkpointed() -> str:
            packet = http.ok("GET", "/v1/packets/doc-42")["packet"]
            step = packet["context_checkpoint"]["step"]
            return str(packet["current_owner"]) if step.startswith("page-") else ""

        owner = wait_until(checkpointed)
        queue = page.locator('[data-table="packets"] tbody')
        expect(queue).to_contain_text(owner)
        killed = workers[int(owner.rsplit("-", 1)[1]) - 1]
        killed.proc.kill()  # SIGKILL to that worker's PID: no goodbye, its lease runs out
        killed.proc.wait(10)
        survivor = "worker-2" if owner == "worker-1" else "worker-1"

        tab(page, "handoffs")
        log = page.locator('[data-table="migrations"] tbody')
        expect(log).to_contain_text("handoff_completed")
        completed = next(r for r in rows(page, "migrations") if r[3] == "handoff_completed")
        # packet, source, target, checkpoint step
        assert completed[2] == "doc-42" and completed[4] == owner and completed[5] == survivor
        assert completed[7].startswith("page-")
        tab(page, "workloads")
        expect(queue).to_contain_text(survivor)
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait(10)


def test_the_assignment_tab_explains_a_decision(page: Page, served: Served) -> None:
    http = served[1]
    register(http, "explained-member", trust_score=0.8)
    http.ok("POST", "/v1/packets", {"packet_id": "explained-1",
                                    "required_capabilities": ["indexing"]})
    tab(page, "assignment")
    page.locator("#explain-form [name=packet_id]").fill("explained-1")
    page.locator("#explain-form button[type=submit]").click()
    expect(page.locator("#decision")).to_contain_text("explained-1")
    decision = http.ok("GET", "/v1/packets/explained-1:explain")["decision"]
    expect(page.locator("#decision")).to_contain_text(decision["explanation"])
    shown = {r[0]: r for r in rows(page, "candidates")}
    for candidate in decision["candidates"]:
        assert shown[candidate["member_id"]][3] == candidate["rejected_by"]


def test_verify_chain_runs_on_the_audit_tab(page: Page, served: Served) -> None:
    tab(page, "audit")
    page.locator("#verify-form button[type=submit]").click()
    expect(page.locator("#verify-result")).to_contain_text("chain intact")
    assert page.locator("#verify-result").get_attribute("data-ok") == "true"


def test_simulator_mode_runs_a_preset_on_the_daemon(page: Page, served: Served) -> None:
    tab(page, "simulator")
    form = page.locator("#simulate-form")
    for field, value in (("preset", "zone-outage"), ("members", "6"), ("packets", "30"),
                         ("steps", "3")):
        form.locator(f"[name={field}]").fill(value)
    form.locator("[name=learn_reliability]").check()
    form.locator("button[type=submit]").click()
    expect(page.locator("#simulate-result")).to_contain_text("audit chain head")
    expected = served[1].ok("POST", "/v1/simulator:simulate", {
        "preset": "zone-outage", "mode": "ring", "members": 6, "packets": 30, "steps": 3,
        "seed": 1, "learn_reliability": True})
    # the same scenario and seed: the same run, down to its audit chain's head
    expect(page.locator("#simulate-result")).to_contain_text(expected["head_hash"])
    assert len(rows(page, "sim-steps")) == len(expected["steps"])
    expect(page.locator("#sim-cards")).to_contain_text("dhs")


def test_a_hidden_page_closes_its_stream_and_resumes_from_its_cursor(
        page: Page, served: Served) -> None:
    tab(page, "members")
    page.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    expect(page.locator("#stream-state")).to_have_attribute("data-state", "paused")
    register(served[1], "while-hidden")
    page.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {value: "visible", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    live(page)
    expect(page.locator('[data-table="members"] tbody')).to_contain_text("while-hidden")


def test_the_console_resumes_after_a_daemon_restart_without_losing_an_event(
        page: Page, served: Served) -> None:
    proc, http = served
    tab(page, "audit")
    register(http, "before-restart")
    expect(page.locator('[data-table="events"] tbody')).to_contain_text("before-restart")
    proc.restart()
    register(http, "after-restart")
    live(page)
    expect(page.locator('[data-table="events"] tbody')).to_contain_text("after-restart")
    tab(page, "members")
    expect(page.locator('[data-table="members"] tbody')).to_contain_text("after-restart")
    tab(page, "audit")
    journal = [int(e["sequence"]) for e in http.ok("POST", "/v1/events:query",
                                                   {"page_size": 1000})["events"]]

    def shown() -> list[int]:
        return sorted(int(r[0]) for r in rows(page, "events"))

    wait_until(lambda: shown() == journal or None)


def test_a_daemon_with_an_operator_token_asks_for_it(browser: Browser,
                                                      tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    proc, http = http_daemon(data, *operator_token_args(tmp_path, "s3cret-token"))
    try:
        http.token = "s3cret-token"
        register(http, "behind-a-token")
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(http.base + "/console")
        expect(page.locator("#token-form")).to_be_visible()
        page.locator("#token").fill("s3cret-token")
        page.locator("#token-form button[type=submit]").click()
        live(page)
        tab(page, "members")
        expect(page.locator('[data-table="members"] tbody')).to_contain_text("behind-a-token")
        assert page.evaluate("() => sessionStorage.getItem('phoenixflight.token')") == \
            "s3cret-token"
        context.close()
    finally:
        proc.stop()
