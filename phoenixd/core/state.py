"""The daemon's durable state and the one function that folds events into it.

Member events carry the member's whole record after the change, so applying
one is an upsert: replay is simple, and a watcher can be shown the member as
it was at any revision without keeping old versions around.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Any

from phoenixd.core.events import Event
from phoenixd.core.members import Member

__all__ = ["ClusterState"]


class ClusterState:
    """Members (and, with the packets layer, packets and assignments)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to empty (before a full replay)."""
        self.members: dict[str, Member] = {}
        self._sorted_ids: list[str] = []  # for stable, cheap pagination
        self.revision = 0

    @property
    def member_ids(self) -> list[str]:
        return self._sorted_ids

    def apply(self, event: Event) -> None:
        """Fold one event into the state; used live and on replay alike."""
        raw = event.data.get("member")
        if raw is not None:
            member = replace(Member.from_dict(raw), revision=event.sequence)
            if member.member_id not in self.members:
                bisect.insort(self._sorted_ids, member.member_id)
            self.members[member.member_id] = member
        self.revision = event.sequence

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The state as the three snapshot documents (file name -> document)."""
        return {
            "registry.json": {
                "members": [self.members[i].to_dict() for i in self._sorted_ids]
            },
            "packets.json": {"packets": []},
            "assignments.json": {"assignments": []},
        }

    def restore(self, documents: dict[str, dict[str, Any]], revision: int) -> None:
        for raw in documents["registry.json"]["members"]:
            member = Member.from_dict(raw)
            self.members[member.member_id] = member
        self._sorted_ids = sorted(self.members)
        self.revision = revision
