"""The phoenix CLI's output and its refusals against a real phoenixd: statuses spelled one
way in tables, details and flags; -o wide/yaml/name/custom-columns/jsonpath; global flags
before the command; bad flags (--ttl, --timeout, --state, an envelope's state) refused as one
line before any call; the daemon's submit warnings on stderr with exit 0."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.api.cli import CLI, js, phoenix
from tests.daemon import PhoenixProcess


def test_statuses_read_the_same_in_tables_details_and_flags(daemon: PhoenixProcess) -> None:
    phoenix(daemon, "member", "register", "--ttl", "3600", "agent-a", "--cap", "ocr",
            "--trust", "0.9")
    phoenix(daemon, "member", "register", "--ttl", "3600", "agent-b", "--cap", "ocr",
            "--trust", "0.2")
    phoenix(daemon, "packet", "submit", "fp-1", "--cap", "ocr")
    phoenix(daemon, "member", "retire", "agent-b")
    table = phoenix(daemon, "member", "list", "--status", "active", "--status", "Retired",
                    "-o", "wide").stdout
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
    assert rows["agent-a"][2] == "ACTIVE" and rows["agent-b"][2] == "RETIRED"
    assert "True" not in table and "False" not in table
    assert "no" in rows["agent-a"]  # SESSION: no session open
    details = phoenix(daemon, "packet", "get", "fp-1").stdout
    assert details.splitlines()[1].split()[1] == "ASSIGNED"
    assert "handoff:         yes" in details and "True" not in details
    listed = phoenix(daemon, "packet", "list", "--status", "assigned", "-o", "name").stdout
    assert listed == "packet/fp-1\n"
    assert js(daemon, "packet", "get", "fp-1")["status"] == "PACKET_STATUS_ASSIGNED"


def test_output_formats_and_global_flags_before_the_command(daemon: PhoenixProcess) -> None:
    for name, trust in (("m-low", "0.3"), ("m-high", "0.8")):
        phoenix(daemon, "member", "register", "--ttl", "3600", name, "--trust", trust,
                "--label", "zone=a")
    assert [m["member_id"] for m in yaml.safe_load(
        phoenix(daemon, "-o", "yaml", "member", "list").stdout)] == ["m-high", "m-low"]
    columns = phoenix(daemon, "member", "list", "--sort-by", ".trust_score", "--no-headers",
                      "-o", "custom-columns=ID:.member_id,STATUS:.status,ZONE:.labels.zone")
    assert [line.split() for line in columns.stdout.splitlines()] == [
        ["m-low", "ACTIVE", "a"], ["m-high", "ACTIVE", "a"]]
    ids = phoenix(daemon, "--sort-by", ".member_id", "member", "list",
                  "-o", "jsonpath={[*].member_id}").stdout
    assert ids == "m-high m-low"
    got = phoenix(daemon, "member", "get", "m-low", "-o", "jsonpath={.trust_score}").stdout
    assert got == "0.3"
    piped = phoenix(daemon, "member", "list").stdout
    assert "\x1b[" not in piped  # not a terminal: no colour


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("member", "register", "m1", "--ttl", "0"), "--ttl must be between 1 and 3600 seconds"),
        (("member", "register", "m1", "--ttl", "-5"), "--ttl must be between 1 and 3600 seconds"),
        (("member", "list", "--timeout", "0"), "--timeout must be > 0 seconds"),
        (("member", "list", "--timeout", "-1"), "--timeout must be > 0 seconds"),
        (("packet", "submit", "fp-1", "--state", "{pages: 6"),
         "--state is not valid JSON: Expecting property name enclosed in double quotes: "
         "line 1 column 2"),
        (("packet", "submit", "fp-1", "--state", "[1,2]"), "--state must be a JSON object"),
        (("member", "list", "--sort-by", ".a..b"), "field path '.a..b'"),
        (("watch", "members", "-o", "yaml"), "-o yaml is not for streams"),
        (("audit", "tail", "-f", "-o", "name"), "-o name is not for streams"),
    ],
)
def test_cli_side_mistakes_are_refused_in_one_line(
    daemon: PhoenixProcess, args: tuple[str, ...], needle: str
) -> None:
    result = phoenix(daemon, *args, expect=2)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("phoenix: ")
    assert needle in result.stderr
    assert "DEADLINE_EXCEEDED" not in result.stderr and "protobuf" not in result.stderr
    assert js(daemon, "member", "list") == [] and js(daemon, "packet", "list") == []


def test_an_envelope_with_a_bad_state_names_the_file(
    daemon: PhoenixProcess, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"packet_id": "fp-1", "context_checkpoint": {"state": [1, 2]}}))
    result = phoenix(daemon, "packet", "submit", "-f", str(path), expect=2)
    assert result.stderr == f"phoenix: {path}: context_checkpoint.state must be a JSON object\n"
    result = phoenix(daemon, "packet", "submit", "-f", "-", stdin="{pages", expect=2)
    assert result.stderr.startswith("phoenix: stdin is not valid JSON: ")


def _on_a_terminal(d: PhoenixProcess, *args: str, env: dict[str, str]) -> str:
    """What the CLI writes when its stdout is a terminal (a pseudo-terminal here)."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen([*CLI, *args], stdout=secondary, stderr=subprocess.DEVNULL,
                                env={**{k: v for k, v in os.environ.items() if k != "NO_COLOR"},
                                     "PHOENIX_ENDPOINT": d.address, **env})
        os.close(secondary)
        chunks = []
        with contextlib.suppress(OSError):  # EIO once the process has gone
            while chunk := os.read(primary, 4096):
                chunks.append(chunk)
        proc.wait(60)
    finally:
        os.close(primary)
    return b"".join(chunks).decode()


def test_statuses_are_coloured_on_a_terminal_unless_no_color(daemon: PhoenixProcess) -> None:
    phoenix(daemon, "member", "register", "--ttl", "3600", "m1")
    assert "\x1b[32mACTIVE\x1b[0m" in _on_a_terminal(daemon, "member", "list", env={})
    assert "\x1b[" not in _on_a_terminal(daemon, "member", "list", env={"NO_COLOR": "1"})
