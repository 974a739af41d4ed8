"""``phoenix apply`` and ``phoenix bundle list|get`` as a subprocess against a real phoenixd:
the changes as a table and as JSON, a dry run that writes nothing, a refusal exiting 1 with
the daemon's reason, an unreadable file exiting 2 before any call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.cli import js, phoenix
from tests.daemon import PhoenixProcess
from tests.reliability import bundle_load


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[PhoenixProcess]:
    with PhoenixProcess(tmp_path / "data", *bundle_load.FLAGS) as d:
        yield d


def test_apply_prints_the_changes_and_bundle_list_shows_what_was_applied(
        daemon: PhoenixProcess, tmp_path: Path) -> None:
    archive = tmp_path / "cli.pflight"
    archive.write_bytes(bundle_load.bundle("cli", 2))
    dry = phoenix(daemon, "apply", str(archive), "--dry-run").stdout
    assert dry.startswith("would apply acme.cli 1.0.0 (sha256:")
    assert not any((daemon.data_dir / "imports").iterdir())
    shown = phoenix(daemon, "apply", str(archive)).stdout.splitlines()
    assert shown[0].startswith("applied acme.cli 1.0.0") and " at revision " in shown[0]
    assert shown[1].split() == ["KIND", "NAMESPACE", "KEY", "ACTION"]
    assert [line.split()[-1] for line in shown[2:]] == ["created"] * 6
    again = js(daemon, "apply", str(archive))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}
    assert "revision" not in again  # 0: nothing changed
    listed = phoenix(daemon, "bundle", "list").stdout.splitlines()
    assert listed[1].split()[:3] == ["acme.cli", "1.0.0", "unsigned"]
    got = js(daemon, "bundle", "get", "acme.cli")
    assert got["file"].startswith("imports/sha256-") and got["signature_status"] == "unsigned"


def test_refusals_exit_1_and_an_unreadable_file_exits_2(daemon: PhoenixProcess,
                                                         tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.pflight"
    damaged.write_bytes(b"not a bundle")
    refused = phoenix(daemon, "apply", str(damaged), expect=1)
    assert refused.stderr.startswith("phoenix: INVALID_ARGUMENT: bundle refused: archive")
    missing = phoenix(daemon, "apply", str(tmp_path / "missing.pflight"), expect=2)
    assert "missing.pflight" in missing.stderr
    unknown = phoenix(daemon, "bundle", "get", "acme.nothing", expect=1)
    assert "NOT_FOUND" in unknown.stderr
