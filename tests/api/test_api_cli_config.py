"""Named contexts in the phoenix config file, against a real phoenixd: set-context,
use-context, get-contexts and current-context; a setting's precedence flag > environment >
context > default; $PHOENIX_CONFIG and $XDG_CONFIG_HOME choose the file (a temp dir here)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import yaml

from tests.api.cli import CLOSED, phoenix
from tests.daemon import PhoenixProcess


def test_contexts_choose_the_daemon_by_precedence(
    daemon: PhoenixProcess, tmp_path: Path
) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}

    def run(*args: str, expect: int = 0, **extra: str) -> str:
        return phoenix(None, *args, expect=expect, env={**env, **extra},
                       unset=() if "PHOENIX_ENDPOINT" in extra else ("PHOENIX_ENDPOINT",)).stdout

    run("config", "current-context", expect=1)
    run("config", "set-context", "local", "--endpoint", daemon.address)
    run("config", "set-context", "down", "--endpoint", CLOSED, "--token", "s3cret")
    assert run("config", "current-context") == "local\n"  # the first context is current
    assert run("member", "list", "-o", "json") == "[]\n"
    run("--context", "down", "member", "list", "--timeout", "2", expect=2)
    assert "*        local" in run("config", "get-contexts")
    listed = json.loads(run("config", "get-contexts", "-o", "json"))
    assert [c["token"] for c in listed if c["name"] == "down"] == ["REDACTED"]

    run("config", "use-context", "down")
    run("member", "list", "--timeout", "2", expect=2)  # the context: the closed port
    run("member", "list", PHOENIX_ENDPOINT=daemon.address)  # env over the context
    run("member", "list", "--endpoint", daemon.address, PHOENIX_ENDPOINT=CLOSED)  # flag wins
    path = tmp_path / "phoenix" / "config.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds tokens
    assert yaml.safe_load(path.read_text())["current-context"] == "down"


def test_phoenix_config_names_the_file_and_mistakes_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.yaml"
    env = {"PHOENIX_CONFIG": str(config), "XDG_CONFIG_HOME": str(tmp_path / "unused")}
    phoenix(None, "config", "set-context", "a", "--endpoint", CLOSED, env=env)
    assert config.exists() and not (tmp_path / "unused").exists()
    unknown = phoenix(None, "config", "use-context", "nope", env=env, expect=2)
    assert unknown.stderr.startswith(f"phoenix: no context 'nope' in {config} (contexts: a;")
    missing = phoenix(None, "--context", "nope", "member", "list", env=env, expect=2)
    assert missing.stderr.count("\n") == 1 and "no context 'nope'" in missing.stderr
    config.write_text("contexts: {a: {endpoint: x, colour: red}}\n")
    bad = phoenix(None, "member", "list", env=env, expect=2)
    assert "context 'a': settings are endpoint, token, ca, cert, key (not colour)" in bad.stderr
