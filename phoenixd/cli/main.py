"""``phoenix``: drive a phoenixd (like etcdctl), or inspect a data dir offline.

Every command prints a table by default (``-o`` for the other formats, see output.py); it
exits 0 on success, 1 when the daemon refused the call, 2 when the daemon could not be
reached or the command line is wrong, with one line on stderr saying why.

The global flags (connection, ``-o``, ``--timeout``) are listed once, in ``phoenix --help``;
they are accepted before or after the command, so each command's help shows only its own
flags, its examples, and a line pointing at ``phoenix --help``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from phoenixd.cli import (
    apply_commands,
    audit_commands,
    bundle_commands,
    completion_commands,
    config_commands,
    dryrun_commands,
    health_commands,
    member_commands,
    namespace_commands,
    packet_commands,
    simulate_commands,
    status_commands,
    token_commands,
)
from phoenixd.cli.contexts import connection_settings
from phoenixd.cli.output import (
    FORMAT_HELP,
    Format,
    Printer,
    colour_wanted,
    field_path,
    parse_format,
)
from phoenixflight import DEFAULT_ENDPOINT, Client, Connection, PhoenixFlightError
from phoenixflight_api import protocol
from phoenixflight_api.v1 import member_pb2

__all__ = ["build_parser", "main", "version_line"]

Handler = Callable[[Any, argparse.Namespace], int | None]
GLOBAL_HINT = ("Global flags (--endpoint, --context, --token, -o, --timeout, ...): see "
               "`phoenix --help`.")


def version_line() -> str:
    """This CLI's package version, the SDK's, and the API it speaks (its proto package)."""
    return (f"phoenix {metadata.version('phoenixd')}\n"
            f"SDK phoenixflight {metadata.version('phoenixflight')}, "
            f"API {member_pb2.DESCRIPTOR.package} "
            f"(phoenixflight-api {metadata.version('phoenixflight-api')})")


def _global_flags(top: bool) -> argparse.ArgumentParser:
    """Connection and output flags. The top parser lists them with their defaults; each
    command accepts them too (after its name) but hides them and sets no default, so a flag
    given before the command is not reset by the command's parser."""
    p = argparse.ArgumentParser(add_help=False)

    def flag(*names: str, default: Any = None, help: str, **kw: Any) -> None:
        p.add_argument(*names, default=default if top else argparse.SUPPRESS,
                       help=help if top else argparse.SUPPRESS, **kw)

    flag("--endpoint", metavar="HOST:PORT",
         help=f"phoenixd address (default $PHOENIX_ENDPOINT, the context's, or "
         f"{DEFAULT_ENDPOINT})")
    flag("--context", metavar="NAME",
         help="a context of the config file, instead of its current one (phoenix config)")
    flag("--token", help="operator bearer token ($PHOENIX_TOKEN)")
    flag("--ca", metavar="PEM", help="CA bundle to reach a TLS daemon ($PHOENIX_CA)")
    flag("--cert", metavar="PEM", help="client certificate for mTLS ($PHOENIX_CERT)")
    flag("--key", metavar="PEM", help="client private key for mTLS ($PHOENIX_KEY)")
    flag("--namespace", default="", metavar="NAME",
         help="the namespace to register or submit into (default: default) and the only one "
         "lists, watches and queries show (default: every namespace)")
    flag("--timeout", type=float, default=30.0, metavar="SECONDS",
         help="seconds per call, and the whole wait of `packet wait` and `member drain "
         "--wait` (default 30)")
    flag("-o", "--output", type=parse_format, default=Format("table"), metavar="FORMAT",
         help=FORMAT_HELP)
    flag("--no-headers", action="store_true", default=False,
         help="tables without their header line")
    flag("--sort-by", metavar="PATH", help="sort lists by a field path, e.g. .trust_score")
    return p


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs, keeps paragraphs of indented lines (the Examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        fill = super()._fill_text
        return "\n\n".join(
            paragraph if "\n" in paragraph.strip("\n") or paragraph.startswith("  ")
            else fill(paragraph, width, indent)
            for paragraph in text.split("\n\n"))


class _Leaves:
    """Adds leaf commands: the hidden global flags, a handler, and an Examples epilog."""

    def __init__(self) -> None:
        self.parent = _global_flags(top=False)

    def __call__(self, sub: Any, name: str, handler: Handler, help_text: str, *,
                 examples: Sequence[str], description: str | None = None,
                 offline: bool = False, local: bool = False) -> argparse.ArgumentParser:
        """``offline``: runs without a daemon when given --data-dir; ``local``: never calls
        one (completion, config)."""
        epilog = "Examples:\n" + "".join(f"  {line}\n" for line in examples)
        p: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, parents=[self.parent],
            description=description or help_text[:1].upper() + help_text[1:],
            epilog=f"{epilog}\n{GLOBAL_HINT}", formatter_class=HelpFormatter,
        )
        p.set_defaults(handler=handler, offline=offline, local=local)
        return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phoenix", parents=[_global_flags(top=True)], formatter_class=HelpFormatter,
        description="PhoenixFlight command line: members, Flight Packets and the Flight "
        "Recorder of a phoenixd; PhoenixFile bundles (build, inspect, verify) offline.",
        epilog="Run `phoenix COMMAND --help` for a command's own flags and examples.",
    )
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    leaf = _Leaves()
    namespace_commands.add_commands(commands, leaf)
    member_commands.add_commands(commands, leaf)
    packet_commands.add_commands(commands, leaf)
    audit_commands.add_commands(commands, leaf)
    config_commands.add_commands(commands, leaf)
    status_commands.add_commands(commands, leaf)
    apply_commands.add_commands(commands, bundle_commands.add_commands(commands, leaf), leaf)
    token_commands.add_commands(commands, leaf)
    simulate_commands.add_commands(commands, leaf)
    dryrun_commands.add_commands(commands, leaf)
    health_commands.add_commands(commands, leaf)
    completion_commands.add_commands(commands, leaf, root=parser)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"phoenix: {message}", file=sys.stderr)
    return code


def _check_flags(args: argparse.Namespace) -> None:
    """Range checks argparse's types cannot say clearly, refused before any call is made."""
    if not args.timeout > 0:
        raise argparse.ArgumentTypeError(
            f"--timeout must be > 0 seconds (got {args.timeout:g})")
    if args.namespace and (problem := protocol.id_problem(args.namespace, "--namespace")):
        raise argparse.ArgumentTypeError(problem)
    if args.sort_by:
        field_path(args.sort_by)  # a malformed path says so now, not after the call


def _connect(args: argparse.Namespace) -> Client:
    """The connection by precedence: flag > environment > context > default (contexts.py)."""
    s = connection_settings({k: getattr(args, k) for k in ("endpoint", "token", "ca", "cert",
                                                            "key")}, args.context)
    connection = Connection.from_env(
        endpoint=s["endpoint"], token=s["token"],
        ca=Path(s["ca"]) if s["ca"] else None,
        cert=Path(s["cert"]) if s["cert"] else None,
        key=Path(s["key"]) if s["key"] else None,
    )
    return Client(connection=connection, timeout=args.timeout)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.printer = Printer(args.output, no_headers=args.no_headers, sort_by=args.sort_by,
                           colour=colour_wanted(sys.stdout))
    offline = args.local or (args.offline and getattr(args, "data_dir", None) is not None)
    client = None
    try:
        _check_flags(args)
        if not offline:
            client = _connect(args)
        return int(args.handler(client, args) or 0)
    except PhoenixFlightError as exc:
        if exc.unavailable:
            endpoint = client.connection.endpoint if client else "phoenixd"
            return _fail(f"{endpoint}: {exc.code.name}: {exc.details} (is phoenixd running? "
                         "to check a data dir offline: audit verify --data-dir DIR)", 2)
        return _fail(f"{exc.code.name}: {exc.details}", 1)
    except BrokenPipeError:  # e.g. piped into head: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        return 0
    except (argparse.ArgumentTypeError, ValueError, OSError) as exc:
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        return 130
    finally:
        if client is not None:
            client.close()


if __name__ == "__main__":
    sys.exit(main())
