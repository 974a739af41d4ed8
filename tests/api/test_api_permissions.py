"""File permissions of a real phoenixd's data dir: every directory it makes is 0700 whatever
the umask (another local user could otherwise swap handoff.key or the journal while the
daemon is stopped), and it refuses to start (exit 2) on a handoff.key or an operator token
file that group or others can read, saying which file and the chmod that fixes it."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.daemon import PhoenixProcess


class UnmaskedProcess(PhoenixProcess):
    """phoenixd started under ``umask 000``."""

    def command(self) -> list[str]:
        return ["sh", "-c", 'umask 000 && exec "$@"', "sh", *super().command()]


def start_exit_code(daemon: PhoenixProcess) -> int:
    """The exit code of a start that must be refused (a daemon that serves instead is stopped)."""
    proc = daemon.spawn()
    try:
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_under_umask_000_every_directory_is_private_and_every_file_too(tmp_path: Path) -> None:
    data = tmp_path / "srv" / "data"  # its parent does not exist yet either
    daemon = UnmaskedProcess(data)
    daemon.log_path = tmp_path / "phoenixd.log"
    with daemon:
        pass
    made = {path: mode(path) for path in (tmp_path / "srv", data, data / "imports")}
    assert made == dict.fromkeys(made, 0o700), {str(p): oct(m) for p, m in made.items()}
    files = {p.name: mode(p) for p in data.rglob("*") if p.is_file()}
    assert "handoff.key" in files and "audit.jsonl" in files, files
    assert all(m & 0o077 == 0 for m in files.values()), {n: oct(m) for n, m in files.items()}


def test_a_handoff_key_others_can_read_refuses_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with PhoenixProcess(data):
        pass
    key = data / "handoff.key"
    key.chmod(0o644)
    daemon = PhoenixProcess(data)
    assert start_exit_code(daemon) == 2
    log = daemon.log()
    assert f"{key} has mode 644" in log and f"chmod 600 {key}" in log, log[-2000:]
    key.chmod(0o600)
    with PhoenixProcess(data):  # fixed as the message says, it starts
        pass


def test_a_token_file_others_can_read_refuses_start(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-operator-token\n")
    token.chmod(0o640)
    daemon = PhoenixProcess(tmp_path / "data", "--auth-token-file", str(token))
    assert start_exit_code(daemon) == 2
    log = daemon.log()
    assert f"{token} has mode 640" in log and f"chmod 600 {token}" in log, log[-2000:]
    assert "s3cret-operator-token" not in log
