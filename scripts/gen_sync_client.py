"""Write the synchronous client (clients/python/phoenixflight/client.py) from the asyncio one.

The asyncio client (aio.py) is the one source of every method, signature and docstring. The
synchronous face is the same code without the awaits: this script rewrites it token by token
(``async def`` -> ``def``, ``await x`` -> ``x``, async iterators -> iterators, grpc.aio -> grpc),
as httpcore's unasync does, so that no method exists on one face and not the other.

Usage:
    python scripts/gen_sync_client.py          # regenerate client.py
    python scripts/gen_sync_client.py --check  # fail if the committed client.py drifted
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "clients" / "python" / "phoenixflight"
SOURCE = PACKAGE / "aio.py"
TARGET = PACKAGE / "client.py"

DOCSTRING = '''"""The synchronous PhoenixFlight client: one typed method per RPC.

    from phoenixflight import Client

    with Client("127.0.0.1:7400") as pf:
        member, credential = pf.register_member("agent-01", "ocr@2", trust_score=0.9)
        pf.submit_packet({"packet_id": "fp-001", "required_capabilities": ["ocr@2"]})

Every method raises PhoenixFlightError (status code + message) when the daemon
refuses a call or cannot be reached; streams raise it while being iterated.

GENERATED from aio.py by scripts/gen_sync_client.py: do not edit; change aio.py and
run `make gen`.
"""
'''

# (pattern, replacement), applied in order to the source after its docstring.
REWRITES: tuple[tuple[str, str], ...] = (
    (r"^from collections\.abc import \((?:.|\n)*?\)$",
     "from collections.abc import Callable, Generator, Iterable, Iterator, Mapping"),
    (r"\bAsyncGenerator\[([\w.]+), None\]", r"Generator[\1, None, None]"),
    (r"\basync def ", "def "),
    (r"\basync for ", "for "),
    (r"\basync with ", "with "),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncIterable\b", "Iterable"),
    (r"\bAsyncClient\b", "Client"),
    (r"\baio_channel\(\)", "channel()"),
    (r"\bgrpc\.aio\.", "grpc."),
    (r"\bAwaitable\[(\w+)\]", r"\1"),
    (r"^( *)for (\w+) in (.+):\n\1    yield \2$", r"\1yield from \3"),
)


def render(source: str) -> str:
    """client.py's text, from aio.py's."""
    match = re.match(r'"""(?:.|\n)*?"""\n', source)
    if match is None:
        raise SystemExit(f"{SOURCE} does not start with a module docstring")
    body = source[match.end():]
    for pattern, replacement in REWRITES:
        body = re.sub(pattern, replacement, body, flags=re.MULTILINE)
    leftover = re.findall(r"\b(?:async|await|Async\w+|aio)\b", body)
    if leftover:
        raise SystemExit(f"{SOURCE}: no rewrite for {sorted(set(leftover))}")
    return DOCSTRING + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if client.py drifted")
    args = parser.parse_args(argv)
    wanted = render(SOURCE.read_text())
    if args.check:
        if TARGET.read_text() != wanted:
            print(f"{TARGET.relative_to(ROOT)} drifted from aio.py: run `make gen`",
                  file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
