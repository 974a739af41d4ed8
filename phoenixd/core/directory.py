"""Read-side queries over the registry: filtered pages of members, the capability directory."""

from __future__ import annotations

from collections.abc import Collection

from phoenixd.core.members import Member, MemberStatus, parse_capability
from phoenixd.core.selector import Selector
from phoenixd.core.state import ClusterState

__all__ = ["capability_directory", "list_members"]


def list_members(
    state: ClusterState,
    *,
    statuses: Collection[MemberStatus] = (),
    capability: str = "",
    selector: Selector | None = None,
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

    page: list[Member] = []
    more = False
    total = 0
    for member_id in state.member_ids:
        member = state.members[member_id]
        if not matches(member):
            continue
        total += 1
        if member_id > after_id:
            if len(page) < limit:
                page.append(member)
            else:
                more = True
    return page, page[-1].member_id if more else "", total

def capability_directory(
state: ClusterState, include_inactive: bool = False
) -> dict[str, list[tuple[Member, str]]]:
    """Capability name -> [(provider, version)], providers sorted by id."""
    directory: dict[str, list[tuple[Member, str]]] = {}
    for member_id in state.member_ids:
        member = state.members[member_id]
        if not include_inactive and member.status is not MemberStatus.ACTIVE:
            continue
        for name, version in member.capability_versions().items():
            directory.setdefault(name, []).append((member, version))
    return dict(sorted(directory.items()))
