"""The CLI's help: global flags listed once at the top, each command's help with only its
own flags, a pointer to `phoenix --help` and an Examples section whose every line parses;
--version on phoenix and phoenixd."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata

import pytest

from phoenixd.cli.main import GLOBAL_HINT, build_parser

GLOBAL_FLAGS = ("--endpoint", "--context", "--token", "--ca", "--cert", "--key", "--timeout",
                "--output", "--no-headers", "--sort-by")


def leaves(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield parser
    for action in subparsers:
        for child in dict.fromkeys(action.choices.values()):
            yield from leaves(child)


LEAVES = list(leaves(build_parser()))


def test_the_top_help_lists_the_global_flags() -> None:
    text = build_parser().format_help()
    assert all(flag in text for flag in GLOBAL_FLAGS)


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda p: p.prog)
def test_each_command_shows_its_own_flags_and_runnable_examples(
    leaf: argparse.ArgumentParser,
) -> None:
    text = leaf.format_help()
    own = {match.group(1) for match in re.finditer(r"^  (?:-\w, )?(--[\w-]+)", text, re.M)}
    assert own.isdisjoint(GLOBAL_FLAGS), text
    assert GLOBAL_HINT.split(":")[0] in " ".join(text.split())
    lines = text.split("Examples:\n")[1].split("\n\n")[0].splitlines()
    # The phoenix command in each line, without the shell around it (pipes, redirections).
    examples = [m.group().strip() for m in (re.search(r"phoenix\b[^|()<>]*", ln) for ln in lines)
                if m]
    assert len(examples) == len(lines), lines
    assert examples and all(e.startswith(leaf.prog) for e in examples), examples
    for example in examples:
        args = build_parser().parse_args(shlex.split(example)[1:])
        assert args.handler is leaf.get_default("handler")


def test_global_flags_are_accepted_before_and_after_the_command() -> None:
    before = build_parser().parse_args(["-o", "json", "--timeout", "5", "member", "list"])
    after = build_parser().parse_args(["member", "list", "-o", "json", "--timeout", "5"])
    for args in (before, after):
        assert (args.output.name, args.timeout) == ("json", 5.0)
    assert build_parser().parse_args(["member", "list"]).output.name == "table"


@pytest.mark.parametrize(("program", "needles"), [
    ("phoenixd.cli.main", ["phoenix 0.1.0", "SDK phoenixflight", "API phoenixflight.v1"]),
    ("phoenixd", [f"phoenixd {metadata.version('phoenixd')}"]),
])
def test_version(program: str, needles: list[str]) -> None:
    out = subprocess.run([sys.executable, "-m", program, "--version"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert all(needle in out for needle in needles), out
