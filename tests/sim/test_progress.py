"""The simulator's progress bar: drawn on a terminal, and nothing at all on anything else."""

from __future__ import annotations

import io

from phoenixd.cli.progress import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream: io.StringIO) -> str:
    with progress(3, "simulating steady", stream=stream, delay=0.0) as step:
        for done in range(1, 4):
            step(done, 3)
    return stream.getvalue()


def test_a_terminal_sees_the_bar() -> None:
    shown = _run(Terminal())
    assert shown.startswith("\rsimulating steady:") and "/3 [" in shown
    # Gone at the end, so that what the command prints next starts on a clean line.
    assert shown.endswith("\r") and shown.rsplit("\r", 2)[1].strip() == ""


def test_a_pipe_or_file_sees_nothing() -> None:
    assert _run(io.StringIO()) == ""
