"""An example PhoenixFlight agent: summarizes documents page by page, checkpointing after
each page, so that when it dies (or drains) another agent picks up at the page it reached.

    python examples/summarizer_agent.py --member-id summarizer-1 --endpoint 127.0.0.1:7400

Submit work for it (the `phoenix` CLI comes with the daemon):

    phoenix packet submit doc-42 --cap summarize --state '{"pages": 6}'

Stop it with Ctrl-C or SIGTERM: it asks to be drained and exits once its work has been
handed off (with the last checkpoint) or finished.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from phoenixflight import Member, Task


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--member-id", required=True)
    parser.add_argument("--endpoint", help="phoenixd address (default $PHOENIX_ENDPOINT)")
    parser.add_argument("--seconds-per-page", type=float, default=0.5)
    parser.add_argument("--lease-ttl", type=float, default=5.0)
    parser.add_argument("--trust", type=float, default=0.9)
    parser.add_argument("--credential-file", type=Path,
                        help="keep the credential here to replace this member after a restart")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    member = Member(
        args.member_id, "summarize", handler=make_handler(args.seconds_per_page),
        endpoint=args.endpoint, lease_ttl=args.lease_ttl, trust_score=args.trust,
        credential_file=args.credential_file, drain_deadline=10.0,
    )
    asyncio.run(member.run())
    logging.info("%s: drained, %d packet(s) completed", args.member_id, len(member.completed))


if __name__ == "__main__":
    main()
