"""Fixtures for the API tests beside the shared ones in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.example_agent import AgentProcess


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    """Example agents a test starts; any still running at the end are killed."""
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        if agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait(10)
