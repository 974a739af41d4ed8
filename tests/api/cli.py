"""Run the real ``phoenix`` CLI in a subprocess against a test phoenixd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.daemon import PhoenixProcess

__all__ = ["CLI", "CLOSED", "follow", "js", "phoenix"]

CLI = [sys.executable, "-m", "phoenixd.cli.main"]
# A closed loopback port: "the daemon is down" without sending anything anywhere else.
CLOSED = "127.0.0.1:1"


def _env(d: PhoenixProcess | None, extra: dict[str, str] | None,
         unset: tuple[str, ...] = ()) -> dict[str, str]:
    env = {**os.environ, "PHOENIX_ENDPOINT": d.address if d else CLOSED, **(extra or {})}
    return {k: v for k, v in env.items() if k not in ("NO_COLOR", *unset)}


def phoenix(
    d: PhoenixProcess | None, *args: str, expect: int = 0, env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (), stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one command to its end; assert its exit code (the output is in the message).
    ``env`` adds to the environment, ``unset`` takes variables out of it."""
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60,
                            env=_env(d, env, unset), input=stdin)
    assert result.returncode == expect, result.stdout + result.stderr
    return result


def js(d: PhoenixProcess, *args: str) -> Any:
    return json.loads(phoenix(d, *args, "-o", "json").stdout)


def follow(d: PhoenixProcess, *args: str) -> subprocess.Popen[str]:
    """Start a command that keeps running (watch, wait); the caller reads and stops it."""
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(d, None))
