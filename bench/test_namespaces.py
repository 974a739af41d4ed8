"""Listing one namespace among many packets: its own index against a scan of every packet,
side by side in one run. ListPackets of a namespace costs what the namespace holds.

    make bench          # PHOENIX_BENCH_PACKETS packets (default 1,000,000 there)
    make bench-smoke    # each case once, on 2,000 packets
"""

from __future__ import annotations

import functools
import os
from typing import Any

import pytest

from phoenixd.core import directory
from phoenixd.core.namespaces import Namespace
from phoenixd.core.packets import Checkpoint, Packet, PacketStatus, Policy, Strategy
from phoenixd.core.state import ClusterState

PACKETS = int(os.environ.get("PHOENIX_BENCH_PACKETS", "2000"))
SMALL = 100  # packets of the namespace that is listed
PAGE = 100


def _record(i: int, namespace: str) -> dict[str, Any]:
    return Packet(
        packet_id=f"fp-{namespace}-{i:07d}", workload_type="ocr", required_capabilities=("ocr",),
        status=PacketStatus.PENDING, owner="", previous_owners=(), epoch=0,
        checkpoint=Checkpoint(), policy=Policy(), handoff_allowed=True, handoff_reason="",
        lineage_id=f"lin-{i}", demand_cpu=0.0, demand_memory=0.0, routing_key="",
        strategy=Strategy.TRUST, attempts=0, max_attempts=3, create_time=0.0,
        update_time=float(i), namespace=namespace,
    ).to_dict()


@functools.cache
def _state() -> ClusterState:
    """PACKETS packets in namespace "bulk", SMALL in "small", restored as from a snapshot."""
    records = [_record(i, "bulk") for i in range(PACKETS)]
    records += [_record(i, "small") for i in range(SMALL)]
    state = ClusterState()
    state.restore({
        "registry.json": {"members": [], "namespaces": [
            Namespace(n).to_dict() for n in ("bulk", "small")]},
        "packets.json": {"packets": records},
    }, revision=1)
    return state


@pytest.mark.parametrize("how", ["own index", "scan of every packet"])
def test_list_one_namespace(benchmark: Any, how: str) -> None:
    state = _state()
    if how == "own index":
        def page() -> list[Packet]:
            return directory.list_packets(state, namespaces=["small"], limit=PAGE)[0]
    else:  # the same page found by reading every packet's namespace
        def page() -> list[Packet]:
            found = [state.packets[p] for p in state.packet_ids
                     if state.packets[p].namespace == "small"]
            return found[:PAGE]
    result = benchmark(page)
    assert len(result) == PAGE and {p.namespace for p in result} == {"small"}
