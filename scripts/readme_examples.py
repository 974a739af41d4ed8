"""Run the README's console examples against a real phoenixd and write or check their blocks.

    .venv/bin/python scripts/readme_examples.py --write   # make readme: refresh README.md
    .venv/bin/python scripts/readme_examples.py --check   # make test: exit 1 with a diff on drift
    .venv/bin/python scripts/readme_examples.py --write --session http   # one session's blocks

The commands live in docs/readme_examples.toml (its header says how a step is written). Each
session there gets a fresh data dir and a free loopback port, and one bash that runs the
commands in order from the repository root, as a reader types them. The README shows the
defaults (127.0.0.1:7400, ./.phoenixflight), so commands are mapped to the run's port and data
dir on the way in and their output is mapped back on the way out. Values that differ on every
run (times, credentials, hashes, signatures, durations) are normalised on both sides before
comparing, so the README keeps realistic values and the check stays stable.

Everything a run starts is stopped when it ends, even on failure: background jobs are stopped
by the PIDs the commands captured (`kill $first`), and whatever is left in the process group of
the run's own bash or daemon is then stopped by that group's id.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = ROOT / "docs" / "readme_examples.toml"

SHOWN_LISTEN = "127.0.0.1:7400"  # what the README shows: phoenixd's and the CLI's default
SHOWN_METRICS_LISTEN = "127.0.0.1:7401"  # the --metrics-listen address the README shows
SHOWN_HTTP_LISTEN = "127.0.0.1:8000"  # the --http-listen address the README shows
SHOWN_DATA_DIR = ".phoenixflight"  # phoenixd's default --data-dir, relative to the repo root
PHOENIXD = ".venv/bin/phoenixd"

STEP_TIMEOUT = 60.0  # seconds one command may run; the slowest (a drain) takes a few
UNTIL_TIMEOUT = 60.0  # seconds a repeated read may take to show what it waits for
UNTIL_PAUSE = 0.2  # seconds between two tries of a repeated read
SERVE_TIMEOUT = 30.0  # seconds phoenixd may take to answer health checks
STOP_TIMEOUT = 15.0  # seconds a stopped process group gets before SIGKILL

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
BLOCK = re.compile(r"(<!-- example: (?P<name>[\w-]+) -->\n```console\n)(?P<body>.*?)(^```$)",
                   re.DOTALL | re.MULTILINE)

# What differs between two runs of the same commands, and what stands for it in a comparison.
VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?"), "<time>"),
    (re.compile(r'("credential": ")[\w-]+'), r"\1<credential>"),
    (re.compile(r'("signature": ")[\w+/=]+'), r"\1<signature>"),
    (re.compile(r"ed25519:[0-9a-f]+"), "ed25519:<key>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hash>"),
    (re.compile(r"\d+(\.\d+)? ?ms\b"), "<ms>"),
    (re.compile(r"\b(\w+_ms)=[\d.]+"), r"\1=<ms>"),
    (re.compile(r"\bpid=\d+"), "pid=<pid>"),
    # A record's length follows its timestamps, which drop trailing zeros of the fraction.
    (re.compile(r"byte offset \d+"), "byte offset <n>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
]


class ExampleError(Exception):
    """A command failed, timed out, or never printed what its step waits for."""


@dataclass(frozen=True)
class Step:
    """One command line as the reader types it, and how its output is shown."""

    run: str
    daemon: bool = False
    output: bool = True
    until: str | None = None
    stops_daemon: bool = False
    exit: int = 0  # the exit code it shows (a refusal the README explains exits non-zero)


@dataclass(frozen=True)
class Block:
    """One console block of the README: its marker name and its steps."""

    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Session:
    """Blocks that share one daemon terminal and one shell. ``scratch``: the shell runs in
    a directory of its own holding links to these repository paths, so that what the
    commands write (bundles, keys) stays out of the repository and each run starts afresh."""

    name: str
    blocks: tuple[Block, ...]
    scratch: tuple[str, ...] = ()


def load_sessions(path: Path = EXAMPLES) -> list[Session]:
    """The sessions of the examples file, in order."""
    data = tomllib.loads(path.read_text())
    return [
        Session(session["name"], tuple(
            Block(block["name"], tuple(Step(**step) for step in block["step"]))
            for block in session["block"]
        ), tuple(session.get("scratch", ())))
        for session in data["session"]
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Mapping:
    """Between what the README shows and what a run uses: the ports and the data dir."""

    port: int
    data_dir: Path
    metrics_port: int = 0
    http_port: int = 0

    @property
    def listen(self) -> str:
        return f"127.0.0.1:{self.port}"

    def to_run(self, command: str) -> str:
        """The command as this run executes it."""
        command = command.replace(SHOWN_LISTEN, self.listen)
        command = command.replace(SHOWN_METRICS_LISTEN, f"127.0.0.1:{self.metrics_port}")
        command = command.replace(SHOWN_HTTP_LISTEN, f"127.0.0.1:{self.http_port}")
        command = command.replace(SHOWN_DATA_DIR, str(self.data_dir))
        # A terminal gets console logs by default; the run's pipes would get JSON.
        return command.replace(
            PHOENIXD, f"{PHOENIXD} --listen {self.listen} --data-dir {self.data_dir}"
                      " --log-format console")

    def to_shown(self, output: str) -> str:
        """The output as the reader would see it (less the colours of a terminal)."""
        output = ANSI_ESCAPE.sub("", output)
        return output.replace(str(self.data_dir), SHOWN_DATA_DIR).replace(
            self.listen, SHOWN_LISTEN).replace(
            f"127.0.0.1:{self.metrics_port}", SHOWN_METRICS_LISTEN).replace(
            f"127.0.0.1:{self.http_port}", SHOWN_HTTP_LISTEN)


def stop_group(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Stop what is left in the process group that ``proc`` leads (it was started as its own
    session): SIGTERM, then SIGKILL for whatever outlives STOP_TIMEOUT."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            proc.poll()
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


class Shell:
    """One bash that keeps variables, functions and background jobs from step to step."""

    def __init__(self, env: dict[str, str], workdir: Path, cwd: Path = ROOT) -> None:
        self.workdir = workdir
        self.count = 0
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=cwd, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def run(self, command: str) -> tuple[int, str]:
        """Run one command line; return its exit code and its output (stdout and stderr)."""
        self.count += 1
        out = self.workdir / f"step-{self.count}.out"
        marker = f"step-{self.count}-done"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        # The command's own output goes to a file (with that of any job it starts in the
        # background); bash's stdout carries only the marker that says it has finished.
        self.proc.stdin.write(f"{{ {command}\n}} > '{out}' 2>&1 < /dev/null\n"
                              f"echo {marker} $?\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                raise ExampleError(f"bash exited while running: {command}")
            if line.startswith(marker + " "):
                return int(line.split()[1]), out.read_text(errors="replace")
        raise ExampleError(f"no answer within {STEP_TIMEOUT:.0f} s from: {command}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        stop_group(self.proc)


def wait_serving(listen: str, daemon: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the daemon at ``listen`` answers health checks (bounded by SERVE_TIMEOUT)."""
    deadline = time.monotonic() + SERVE_TIMEOUT
    with grpc.insecure_channel(listen) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if daemon.poll() is not None:
                raise ExampleError(f"phoenixd exited {daemon.returncode}:\n{log.read_text()}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)  # type: ignore[attr-defined]
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.1)
    raise ExampleError(f"phoenixd did not serve within {SERVE_TIMEOUT:.0f} s:\n{log.read_text()}")


class SessionRun:
    """Runs one session's blocks and renders each as the README shows it."""

    def __init__(self, workdir: Path, scratch: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.daemons: list[subprocess.Popen[bytes]] = []
        self.mapping = Mapping(free_port(), workdir / "data", free_port(), free_port())
        env = {**os.environ, "PHOENIX_ENDPOINT": self.mapping.listen}
        for name in ("PHOENIX_TOKEN", "PHOENIX_CA", "PHOENIX_CERT", "PHOENIX_KEY"):
            env.pop(name, None)
        self.env = env
        cwd = ROOT
        if scratch:
            cwd = workdir / "scratch"
            cwd.mkdir()
            for name in scratch:
                (cwd / name).symlink_to(ROOT / name)
        self.cwd = cwd  # the daemon's too: it reads the files the session's commands wrote
        self.shell = Shell(env, workdir, cwd)

    def close(self) -> None:
        """Stop what the session started: the shell's jobs first (a worker drains while its
        daemon still answers), then every daemon still running."""
        self.shell.close()
        for daemon in self.daemons:
            stop_group(daemon)

    def block(self, block: Block) -> str:
        return "".join(self.step(step) for step in block.steps)

    def step(self, step: Step) -> str:
        shown = f"$ {step.run}\n"
        if step.daemon:
            self.serve(step.run)
            return shown
        output = self.until(step) if step.until else self.once(step)
        return shown + output if step.output else shown

    def once(self, step: Step) -> str:
        code, output = self.shell.run(self.mapping.to_run(step.run))
        if code != step.exit:
            raise ExampleError(f"exit {code} (not {step.exit}) from: {step.run}\n{output}")
        if step.stops_daemon:
            self.wait_daemon_exit()
        return self.mapping.to_shown(output)

    def until(self, step: Step) -> str:
        """Repeat a read, as the reader would, until it prints what the step waits for."""
        assert step.until is not None
        wanted = re.compile(step.until)
        deadline = time.monotonic() + UNTIL_TIMEOUT
        output = ""
        while time.monotonic() < deadline:
            output = self.once(step)
            if wanted.search(output):
                return output
            time.sleep(UNTIL_PAUSE)
        raise ExampleError(f"{step.run}\nnever printed {step.until!r} within "
                           f"{UNTIL_TIMEOUT:.0f} s; last output:\n{output}")

    def serve(self, command: str) -> None:
        """Start phoenixd as the reader does in its own terminal, and wait until it serves."""
        log = self.workdir / "phoenixd.log"
        with log.open("ab") as sink:
            daemon = subprocess.Popen(
                ["bash", "-c", self.mapping.to_run(command)], cwd=self.cwd, env=self.env,
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.daemons.append(daemon)
        wait_serving(self.mapping.listen, daemon, log)

    def wait_daemon_exit(self) -> None:
        """Wait, as the reader watches its terminal, until the daemon a command stopped has
        exited (bounded by STOP_TIMEOUT)."""
        try:
            self.daemons[-1].wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ExampleError(f"phoenixd still runs {STOP_TIMEOUT:.0f} s after it was "
                               "stopped") from None


def run_session(session: Session) -> dict[str, str]:
    """The text (commands and output) of each of the session's blocks, by name."""
    rendered: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix=f"readme-{session.name}-") as tmp:
        run = SessionRun(Path(tmp), session.scratch)
        try:
            for block in session.blocks:
                rendered[block.name] = run.block(block)
        finally:
            run.close()
    return rendered


def run_examples(sessions: list[Session]) -> dict[str, str]:
    """Every block's text, by name. Sessions share nothing (each has its own port, data dir
    and shell), so they run side by side: most of their time is spent waiting for leases."""
    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        results = list(pool.map(run_session, sessions))
    return {name: text for result in results for name, text in result.items()}


def normalise(text: str) -> str:
    """The text with every volatile value replaced by a placeholder."""
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def check_markers(readme: str, rendered: dict[str, str]) -> None:
    """Fail on a README marker without an example, or an example without its marker."""
    marked = {m["name"] for m in BLOCK.finditer(readme)}
    if marked != set(rendered):
        raise ExampleError(
            f"README markers and {EXAMPLES.relative_to(ROOT)} differ: only in the README: "
            f"{sorted(marked - set(rendered))}, only in the examples: "
            f"{sorted(set(rendered) - marked)}")


def updated(readme: str, rendered: dict[str, str]) -> str:
    """The README with each block replaced by its run's text, unless they differ only in
    volatile values (then the block is kept, so a refresh changes nothing needlessly)."""
    def replace(match: re.Match[str]) -> str:
        if match["name"] not in rendered:  # a session that was not run this time
            return match.group(0)
        new = rendered[match["name"]]
        body = match["body"] if normalise(match["body"]) == normalise(new) else new
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(replace, readme)


def diff(readme: str, rendered: dict[str, str]) -> str:
    """A unified diff, over normalised text, of every block that drifted."""
    lines: list[str] = []
    for match in BLOCK.finditer(readme):
        if match["name"] not in rendered:
            continue
        old, new = normalise(match["body"]), normalise(rendered[match["name"]])
        lines += difflib.unified_diff(old.splitlines(keepends=True),
                                      new.splitlines(keepends=True),
                                      f"README.md ({match['name']})", "what the commands print")
    return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the blocks in README.md")
    mode.add_argument("--check", action="store_true",
                      help="exit 1 with a diff when a block differs from what its commands print")
    parser.add_argument("--session", action="append", metavar="NAME",
                        help="run only this session (repeatable); the other blocks are kept")
    args = parser.parse_args()
    readme = README.read_text()
    sessions = load_sessions()
    if args.session:
        unknown = set(args.session) - {s.name for s in sessions}
        if unknown:
            parser.error(f"no session named {', '.join(sorted(unknown))} in "
                         f"{EXAMPLES.relative_to(ROOT)}")
        sessions = [s for s in sessions if s.name in args.session]
    try:
        rendered = run_examples(sessions)
        if not args.session:
            check_markers(readme, rendered)
    except ExampleError as exc:
        print(f"readme_examples: {exc}", file=sys.stderr)
        return 1
    if args.write:
        README.write_text(updated(readme, rendered))
        return 0
    drift = diff(readme, rendered)
    if drift:
        print(drift, end="")
        print("README.md's examples drifted: run `make readme` and review the change.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
