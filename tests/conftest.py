"""Shared fixtures: a real phoenixd per test, and small helpers to register members."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from hypothesis import settings

from phoenixflight_api.v1 import membership_service_pb2 as mpb
from tests.daemon import PhoenixProcess


@pytest.fixture(scope="session", autouse=True)
def private_cli_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The phoenix CLI (run in-process or as a subprocess) reads an empty config dir of the
    test run's own, never the contexts of whoever runs the tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        patch.delenv("PHOENIX_CONFIG", raising=False)
        yield


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[PhoenixProcess]:
    """A phoenixd on a fresh data dir; killed if the test failed, stopped otherwise."""
    proc = PhoenixProcess(tmp_path / "data").start()
    yield proc
    if proc.proc is not None and proc.proc.poll() is None:
        proc.stop()


def register(
    d: PhoenixProcess, member_id: str, *caps: str, ttl: float = 10.0, **fields: object
) -> mpb.RegisterMemberResponse:
    """Register a member and return the response (member + credential)."""
    duration = Duration()
    duration.FromNanoseconds(int(ttl * 1e9))
    request = mpb.RegisterMemberRequest(
        member_id=member_id, capabilities=list(caps), lease_ttl=duration, **fields  # type: ignore[arg-type]
    )
    return d.members.RegisterMember(request, timeout=10)


# Hypothesis: CI runs a fixed set of examples (derandomized, no example database), so a
# property fails the same way on every run; ``make soak`` (PHOENIX_SOAK=1) runs many more,
# randomized and remembering its failures.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("soak", max_examples=5000, deadline=None)
settings.load_profile("soak" if os.environ.get("PHOENIX_SOAK") == "1" else "ci")
