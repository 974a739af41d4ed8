"""Read-side queries: filtered pages of members and packets, the capability directory."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TypeVar

from phoenixd.core.members import Member, MemberStatus
from phoenixd.core.packets import Packet, PacketStatus
from phoenixd.core.selector import Selector
from phoenixd.core.state import ClusterState
from phoenixd.core.validation import parse_capability

__all__ = ["capability_directory", "list_members", "list_packets"]

R = TypeVar("R", Member, Packet)


def list_members(
    state: ClusterState,
    *,
    statuses: Collection[MemberStatus] = (),
    capability: str = "",
    selector: Selector | None = None,
    namespaces: Collection[str] = (),
    after_id: str = "",
    limit: int = 100,
) -> tuple[list[Member], str, int]:
    """One page of matching members by id. Returns (page, next after_id or "", total)."""
    cap_name, cap_version = parse_capability(capability) if capability else ("", "")
    wanted = set(statuses)

    def matches(member: Member) -> bool:
        if wanted and member.status not in wanted:
            return False
        if cap_name:
            version = member.capability_versions().get(cap_name)
            if version is None or (cap_version and version != cap_version):
                return False
        return selector is None or selector.matches(member.labels)

    ids = _in(namespaces, state.member_ids, lambda ns: state.peek(ns).member_ids)
    return _page(ids, state.members, matches, after_id, limit)


def list_packets(
    state: ClusterState,
    *,
    statuses: Collection[PacketStatus] = (),
    owner: str = "",
    workload_type: str = "",
    lineage_id: str = "",
    namespaces: Collection[str] = (),
    after_id: str = "",
    limit: int = 100,
) -> tuple[list[Packet], str, int]:
    """One page of matching packets by id. Returns (page, next after_id or "", total)."""
    wanted = set(statuses)

    def matches(p: Packet) -> bool:
        return not (
            (wanted and p.status not in wanted)
            or (owner and p.owner != owner)
            or (workload_type and p.workload_type != workload_type)
            or (lineage_id and p.lineage_id != lineage_id)
        )

    ids = _in(namespaces, state.packet_ids, lambda ns: state.peek(ns).packet_ids)
    return _page(ids, state.packets, matches, after_id, limit)


def _in(namespaces: Collection[str], every: list[str], of: Callable[[str], list[str]]
        ) -> Iterable[str]:
    """The ids of these namespaces in order, from their own indexes (all ids if none named):
    a list of one namespace costs what it holds, not what the daemon holds."""
    if not namespaces:
        return every
    if len(namespaces) == 1:
        return of(next(iter(namespaces)))
    return heapq.merge(*(of(ns) for ns in sorted(namespaces)))


def _page(
    ids: Iterable[str], records: Mapping[str, R], matches: Callable[[R], bool],
    after_id: str, limit: int,
) -> tuple[list[R], str, int]:
    """The matching records after ``after_id`` (ids ascending), at most ``limit``, the id to
    resume after ("" on the last page), and how many match in all."""
    page: list[R] = []
    more = False
    total = 0
    for record_id in ids:
        record = records[record_id]
        if not matches(record):
            continue
        total += 1
        if record_id > after_id:
            if len(page) < limit:
                page.append(record)
            else:
                more = True
    return page, (_id_of(page[-1]) if more else ""), total


def _id_of(record: Member | Packet) -> str:
    return record.member_id if isinstance(record, Member) else record.packet_id


def capability_directory(
    state: ClusterState, include_inactive: bool = False, namespaces: Collection[str] = (),
) -> dict[str, list[tuple[Member, str]]]:
    """Capability name -> [(provider, version)], providers sorted by id."""
    directory: dict[str, list[tuple[Member, str]]] = {}
    for member_id in _in(namespaces, state.member_ids, lambda ns: state.peek(ns).member_ids):
        member = state.members[member_id]
        if not include_inactive and member.status is not MemberStatus.ACTIVE:
            continue
        for name, version in member.capability_versions().items():
            directory.setdefault(name, []).append((member, version))
    return dict(sorted(directory.items()))
