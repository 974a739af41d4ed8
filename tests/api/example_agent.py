"""The example agent (examples/summarizer_agent.py), the SDK's Member, as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "examples" / "summarizer_agent.py"

__all__ = ["AGENT", "AgentProcess"]


class AgentProcess:
    """One summarizer agent: its log file, its signals and its exit code."""

    def __init__(self, endpoint: str, member_id: str, *extra: str, log: Path) -> None:
        self.log = log
        env = {**os.environ, "PHOENIX_ENDPOINT": endpoint}
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(AGENT), "--member-id", member_id, *extra],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )

    def text(self) -> str:
        return self.log.read_text()

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> int:
        """SIGTERM (unless it has exited) and its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)
