"""``phoenix token new``: an operator token scoped to namespaces, added to a tokens file.

The file (``phoenixd --auth-tokens FILE``) keeps only each token's SHA-256; the token itself is
printed once, on stdout, so that it can be captured (``TOKEN=$(phoenix token new ...)``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from phoenixd import operator_tokens

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]


def _namespaces(a: argparse.Namespace) -> list[str]:
    if a.all_namespaces == bool(a.namespaces):
        raise argparse.ArgumentTypeError(
            "give the token's namespaces with --namespaces A,B, or --all-namespaces for a "
            "cluster admin token")
    if a.all_namespaces:
        return [operator_tokens.EVERY_NAMESPACE]
    return sorted({n.strip() for n in a.namespaces.split(",") if n.strip()})


def new(_client: None, a: argparse.Namespace) -> int:
    path = Path(a.tokens_file)
    namespaces = _namespaces(a)
    try:
        token = operator_tokens.add(path, a.name, namespaces)
    except operator_tokens.TokenFileError as exc:
        raise ValueError(str(exc)) from exc
    scope = ("every namespace" if namespaces == [operator_tokens.EVERY_NAMESPACE]
             else "namespace " + ", ".join(namespaces))
    print(f"added token {a.name!r} ({scope}) to {path}; phoenixd reads it at start "
          f"(--auth-tokens {path})", file=sys.stderr)
    print(token)
    return 0


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``token new`` to the phoenix command."""
    token = commands.add_parser(
        "token", help="make operator tokens scoped to namespaces",
        description="Operator tokens for phoenixd --auth-tokens FILE.")
    sub = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    p = leaf(sub, "new", new, "make a token and add it to a tokens file",
             description="Make a random operator token, append its name, SHA-256 and "
             "namespaces to the tokens file (created with mode 0600) and print the token on "
             "stdout, once: the file never holds it. A token of namespaces A and B reads and "
             "changes only what A and B hold; --all-namespaces makes a cluster admin token.",
             examples=["phoenix token new billing-ci --namespaces billing "
                       "--tokens-file tokens.toml",
                       "TOKEN=$(phoenix token new ops --namespaces billing,search "
                       "--tokens-file tokens.toml)",
                       "phoenix token new root --all-namespaces --tokens-file tokens.toml"],
             local=True)
    p.add_argument("name", help="the token's name, as refusals and the Flight Recorder "
                   "show it (a DNS label)")
    p.add_argument("--namespaces", metavar="A,B", default="",
                   help="the namespaces the token may act in, comma-separated")
    p.add_argument("--all-namespaces", action="store_true",
                   help="a cluster admin token: every namespace, and namespaces themselves")
    p.add_argument("--tokens-file", required=True, metavar="FILE",
                   help="the TOML file phoenixd reads with --auth-tokens")
