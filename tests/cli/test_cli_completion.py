"""`phoenix completion SHELL` prints a script generated from the parser: bash accepts it and
it names every command group and the commands under them."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.api.cli import CLI


def completion(shell: str) -> str:
    return subprocess.run([*CLI, "completion", shell], capture_output=True, text=True,
                          timeout=60, check=True).stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_parses_and_names_the_commands() -> None:
    script = completion("bash")
    subprocess.run(["bash", "-n"], input=script, text=True, check=True, timeout=60)
    assert "_shtab_phoenix_subparsers=(namespace member capability packet audit watch" in script
    assert "_shtab_phoenix_packet_subparsers=(submit list get explain handoff cancel wait)" in (
        script)
    assert "--ttl" in script


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_the_commands(shell: str) -> None:
    script = completion(shell)
    assert "phoenix" in script and "drain" in script and "completion" in script


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, "-m", "phoenixd.cli.main", "completion", "csh"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid choice: 'csh'" in result.stderr
