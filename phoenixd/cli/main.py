"""``phoenix``: drive a phoenixd (like etcdctl), or inspect a data dir offline.

Every command prints a table by default and JSON with ``-o json``; it exits 0 on
success, 1 when the daemon refused the call, 2 when the daemon could not be
reached or the command line is wrong, with one line on stderr saying why.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phoenixd.cli import audit_commands, member_commands, packet_commands
from phoenixflight import DEFAULT_ENDPOINT, Client, Connection, PhoenixFlightError

__all__ = ["build_parser", "main"]

Handler = Callable[[Any, argparse.Namespace], int | None]


def _common(defaults: bool) -> argparse.ArgumentParser:
    """Connection and output flags, accepted before or after the command."""
    p = argparse.ArgumentParser(add_help=False)
    d = (lambda value: value) if defaults else (lambda value: argparse.SUPPRESS)
    p.add_argument("--endpoint", default=d(None), metavar="HOST:PORT",
                   help=f"phoenixd address (default $PHOENIX_ENDPOINT or {DEFAULT_ENDPOINT})")
    p.add_argument("--token", default=d(None), help="operator bearer token ($PHOENIX_TOKEN)")
    p.add_argument("--ca", default=d(None), metavar="PEM",
                   help="CA bundle to reach a TLS daemon ($PHOENIX_CA)")
    p.add_argument("--cert", default=d(None), metavar="PEM",
                   help="client certificate for mTLS ($PHOENIX_CERT)")
    p.add_argument("--key", default=d(None), metavar="PEM",
                   help="client private key for mTLS ($PHOENIX_KEY)")
    p.add_argument("--timeout", type=float, default=d(30.0), help="seconds per call (default 30)")
    p.add_argument("-o", "--output", choices=("table", "json"), default=d("table"),
                   help="a table (default) or JSON")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phoenix", parents=[_common(defaults=True)],
        description="PhoenixFlight command line: members, Flight Packets and the Flight "
        "Recorder of a phoenixd.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    leaf_parent = _common(defaults=False)

    def leaf(sub: Any, name: str, handler: Handler, help_text: str, *,
             description: str | None = None, offline: bool = False) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=description or help_text[:1].upper() + help_text[1:],
            parents=[leaf_parent],
        )
        p.set_defaults(handler=handler, offline=offline)
        return p

    member_commands.add_commands(commands, leaf)
    packet_commands.add_commands(commands, leaf)
    audit_commands.add_commands(commands, leaf)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"phoenix: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    offline = args.offline and getattr(args, "data_dir", None) is not None
    client = None
    try:
        if not offline:
            connection = Connection.from_env(
                endpoint=args.endpoint, token=args.token,
                ca=Path(args.ca) if args.ca else None,
                cert=Path(args.cert) if args.cert else None,
                key=Path(args.key) if args.key else None,
            )
            client = Client(connection=connection, timeout=args.timeout)
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
