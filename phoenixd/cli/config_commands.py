"""``phoenix config ...``: the named contexts in the config file (see contexts.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from phoenixd.cli.contexts import FIELDS, ConfigFile, config_path
from phoenixd.cli.output import yes_no

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]


def _file() -> ConfigFile:
    return ConfigFile.load(config_path())


def get_contexts(_client: None, a: argparse.Namespace) -> None:
    config, printer = _file(), a.printer
    rows = [{"name": name, "current": name == config.current, **settings}
            for name, settings in sorted(config.contexts.items())]
    if printer.format.name == "name":
        for row in rows:
            printer.write(f"context/{row['name']}")
    elif printer.human:
        printer.table(["CURRENT", "NAME", "ENDPOINT", "TOKEN", "TLS"], [
            ["*" if row["current"] else "", row["name"], row.get("endpoint", "-"),
             yes_no("token" in row), yes_no("ca" in row)] for row in rows])
    else:  # tokens are secrets: say whether one is set, never print it
        printer.data([{**row, "token": "REDACTED"} if "token" in row else row for row in rows])


def use_context(_client: None, a: argparse.Namespace) -> None:
    config = _file()
    config.context(a.name)  # refuses a name the file does not have
    config.current = a.name
    config.save()
    print(f"Switched to context {a.name!r}.")


def set_context(_client: None, a: argparse.Namespace) -> None:
    """Create or change a context from the connection flags given (the others are kept)."""
    config = _file()
    given = {k: getattr(a, k) for k in FIELDS if getattr(a, k, None) is not None}
    if not given and a.name in config.contexts:
        raise argparse.ArgumentTypeError(
            f"nothing to change in context {a.name!r}: give --endpoint, --token, --ca, --cert "
            "or --key")
    created = a.name not in config.contexts
    config.contexts[a.name] = {**config.contexts.get(a.name, {}), **given}
    if config.current is None:
        config.current = a.name
    config.save()
    print(f"Context {a.name!r} {'created' if created else 'modified'} in {config.path}.")


def current_context(_client: None, a: argparse.Namespace) -> int:
    config = _file()
    if config.current is None:
        print(f"phoenix: no current context in {config.path} "
              "(phoenix config use-context NAME sets one)", file=sys.stderr)
        return 1
    print(config.current)
    return 0


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``config`` to the phoenix command."""
    config = commands.add_parser(
        "config", help="named contexts: where and how to reach a phoenixd",
        description="Named contexts in $PHOENIX_CONFIG, else "
        "$XDG_CONFIG_HOME/phoenix/config.yaml, else ~/.config/phoenix/config.yaml. A setting "
        "is taken from its flag, then its PHOENIX_* variable, then the context (--context "
        "NAME, else the current one), then the default.")
    sub = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    leaf(sub, "get-contexts", get_contexts, "list the contexts (* marks the current one)",
         examples=["phoenix config get-contexts", "phoenix config get-contexts -o yaml"],
         local=True)
    p = leaf(sub, "use-context", use_context, "make a context the current one",
             examples=["phoenix config use-context prod"], local=True)
    p.add_argument("name")
    p = leaf(sub, "set-context", set_context, "create or change a context",
             description="Create or change a context from the connection flags given "
             "(--endpoint, --token, --ca, --cert, --key; see phoenix --help); settings not "
             "given are kept. The first context becomes the current one.",
             examples=["phoenix config set-context local --endpoint 127.0.0.1:7400",
                       "phoenix config set-context prod --endpoint 127.0.0.1:7443 "
                       "--ca ca.pem --token s3cret"],
             local=True)
    p.add_argument("name")
    leaf(sub, "current-context", current_context, "print the current context's name",
         examples=["phoenix config current-context"], local=True)
