"""``phoenix``: drive a phoenixd, or inspect a data dir offline.

The full command set (members, packets, watches) grows with the API; this
module holds the entry point and the audit commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import grpc

from phoenixd.store import verify_journal
from phoenixflight.v1 import flight_recorder_service_pb2 as rec_pb
from phoenixflight.v1 import flight_recorder_service_pb2_grpc as rec_grpc

__all__ = ["main"]

DEFAULT_ENDPOINT = "127.0.0.1:7400"


def _events(n: object) -> str:
    return f"{n} event" if n == 1 else f"{n} events"


def _print(result: dict[str, object], output: str) -> None:
    if output == "json":
        print(json.dumps(result, indent=2))
        return
    if result["ok"]:
        print(f"OK: {_events(result['verified_events'])} verified, chain intact; "
              f"head {result['head_sequence']} {result['head_hash']}")
    else:
        print(f"FAILED at sequence {result['first_bad_sequence']} "
              f"(byte offset {result['first_bad_offset']}): {result['problem']}; "
              f"{_events(result['verified_events'])} before it verified")


def _audit_verify(args: argparse.Namespace) -> int:
    if args.data_dir is not None:
        path = Path(args.data_dir) / "audit.jsonl"
        if not path.exists():
            print(f"phoenix: no journal at {path}", file=sys.stderr)
            return 2
        report = verify_journal(path)
        result: dict[str, object] = {
            "ok": report.ok, "verified_events": report.verified,
            "head_sequence": report.head_sequence, "head_hash": report.head_hash,
            "first_bad_sequence": report.bad_sequence, "first_bad_offset": report.bad_offset,
            "problem": report.problem,
        }
    else:
        metadata = (("authorization", f"Bearer {args.token}"),) if args.token else None
        with _channel(args) as channel:
            stub = rec_grpc.FlightRecorderServiceStub(channel)
            try:
                resp = stub.VerifyChain(rec_pb.VerifyChainRequest(), timeout=args.timeout,
                                        metadata=metadata)
            except grpc.RpcError as exc:
                hint = " (is phoenixd running? to check a data dir offline: --data-dir DIR)"
                unreachable = exc.code() == grpc.StatusCode.UNAVAILABLE
                print(f"phoenix: {args.endpoint}: {exc.code().name}: {exc.details()}"
                      f"{hint if unreachable else ''}", file=sys.stderr)
                return 2
        result = {
            "ok": resp.ok, "verified_events": resp.verified_events,
            "head_sequence": resp.head_sequence, "head_hash": resp.head_hash,
            "first_bad_sequence": resp.first_bad_sequence,
            "first_bad_offset": resp.first_bad_offset, "problem": resp.problem,
        }
    _print(result, args.output)
    return 0 if result["ok"] else 1


def _channel(args: argparse.Namespace) -> grpc.Channel:
    """A channel to the daemon: plaintext, or TLS when --ca is given (mTLS with --cert/--key)."""
    if not args.ca:
        return grpc.insecure_channel(args.endpoint)
    key = Path(args.key).read_bytes() if args.key else None
    cert = Path(args.cert).read_bytes() if args.cert else None
    creds = grpc.ssl_channel_credentials(Path(args.ca).read_bytes(), key, cert)
    return grpc.secure_channel(args.endpoint, creds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phoenix", description="PhoenixFlight command line.")
    parser.add_argument("--endpoint", default=os.environ.get("PHOENIX_ENDPOINT", DEFAULT_ENDPOINT),
                        help="phoenixd address (default $PHOENIX_ENDPOINT or 127.0.0.1:7400)")
    parser.add_argument("--token", default=os.environ.get("PHOENIX_TOKEN"),
                        help="operator bearer token (default $PHOENIX_TOKEN)")
    parser.add_argument("--ca", default=os.environ.get("PHOENIX_CA"),
                        help="CA bundle (PEM) to reach a TLS daemon (default $PHOENIX_CA)")
    parser.add_argument("--cert", default=os.environ.get("PHOENIX_CERT"),
                        help="client certificate (PEM) for mTLS (default $PHOENIX_CERT)")
    parser.add_argument("--key", default=os.environ.get("PHOENIX_KEY"),
                        help="client private key (PEM) for mTLS (default $PHOENIX_KEY)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds per call (default 30)")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table",
                        help="human-readable text (default) or JSON")
    commands = parser.add_subparsers(dest="command", required=True)

    audit = commands.add_parser("audit", help="the Flight Recorder")
    audit_cmds = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_cmds.add_parser(
        "verify", help="check every record and hash-chain link of the journal",
        description="Verify the Flight Recorder's hash chain, through the daemon (VerifyChain) "
        "or offline on a data dir. Exits 0 when intact, 1 naming the first bad sequence number.",
    )
    verify.add_argument("--data-dir", help="verify this data dir's audit.jsonl offline")
    verify.set_defaults(run=_audit_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
