"""An example PhoenixFlight agent: summarizes documents page by page, checkpointing after
each page, so that when it dies (or drains) another agent picks up at the page it reached.

    python examples/summarizer_agent.py --member-id summarizer-1 --endpoint 127.0.0.1:7400

Submit work for it (the `phoenix` CLI comes with the daemon):

    phoenix packet submit doc-42 --cap summarize --state '{"pages": 6}'

Stop it with Ctrl-C or SIGTERM: it asks to be drained and exits once its work has been
handed off (with the last checkpoint) or finished; before it is connected it exits at once.
It exits 1 when it cannot register within --register-timeout seconds (phoenixd down, or the
id taken by a live member), 2 on a bad command line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from phoenixflight import Member, RegistrationError, Task


def make_handler(seconds_per_page: float) -> Any:
    async def summarize(task: Task) -> dict[str, Any]:
        pages = int(task.state.get("pages", 3))
        done = int(task.state.get("done", 0))
        summary = list(task.state.get("summary", []))
        if task.handed_over_from:
            logging.info("%s: taking over from %s at page %d", task.packet_id,
                         task.handed_over_from, done)
        for page in range(done, pages):
            await asyncio.sleep(seconds_per_page)  # the "work": read and summarize one page
            summary.append(f"page {page + 1}: ok")
            await task.checkpoint({**task.state, "done": page + 1, "summary": summary},
                                  step=f"page-{page + 1}")
        return {"pages": pages, "summary": summary}

    return summarize


def main() -> int:
    parser = argparse.ArgumentParser(prog="summarizer_agent", description=__doc__.splitlines()[0])
    parser.add_argument("--member-id", required=True)
    parser.add_argument("--endpoint", help="phoenixd address (default $PHOENIX_ENDPOINT)")
    parser.add_argument("--seconds-per-page", type=float, default=0.5,
                        help="how long each page takes (raise it to watch a handoff by hand)")
    parser.add_argument("--lease-ttl", type=float, default=5.0)
    parser.add_argument("--trust", type=float, default=0.9)
    parser.add_argument("--register-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="give up (exit 1) when not registered within this long")
    parser.add_argument("--namespace", default="",
                        help="the namespace to join (default: default); it must exist")
    parser.add_argument("--credential-file", type=Path,
                        help="keep the credential here to replace this member after a restart")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        member = Member(
            args.member_id, "summarize", handler=make_handler(args.seconds_per_page),
            endpoint=args.endpoint, lease_ttl=args.lease_ttl, trust_score=args.trust,
            credential_file=args.credential_file, drain_deadline=10.0,
            register_timeout=args.register_timeout, namespace=args.namespace,
        )
    except ValueError as exc:  # an invalid id: one line, before any call
        print(f"summarizer_agent: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(member.run())
    except RegistrationError as exc:
        print(f"summarizer_agent: {exc.details}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
