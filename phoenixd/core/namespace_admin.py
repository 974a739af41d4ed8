"""The namespace lifecycle: create, update, delete, each one journaled event.

A namespace is deleted only when it holds nothing live (no member that is not FAILED or
RETIRED, no packet still to finish): its finished records stay readable as history, and
come back under it if a namespace of the same name is created again. The default namespace
can be changed (labels, quota) but never deleted. Lowering a quota below what a namespace
holds refuses new work only; nothing it holds is taken away.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from phoenixd.core.errors import AlreadyExists, FailedPrecondition, NotFound
from phoenixd.core.events import Actor, EventType
from phoenixd.core.namespaces import (
    DEFAULT_NAMESPACE,
    Namespace,
    Quota,
    validate_namespace,
    validate_quota,
)
from phoenixd.core.recorder import Recorder
from phoenixd.core.state import ClusterState
from phoenixd.core.validation import validate_labels

__all__ = ["NamespaceAdmin"]


class NamespaceAdmin:
    def __init__(self, state: ClusterState, recorder: Recorder, *,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._recorder = recorder
        self._wall = wall_clock

    def get(self, name: str) -> Namespace:
        record = self._state.namespaces.get(validate_namespace(name))
        if record is None:
            raise NotFound(f"namespace {name!r} does not exist")
        return record

    def create(self, name: str, labels: Mapping[str, str], quota: Quota,
               actor: str = Actor.OPERATOR) -> Namespace:
        if validate_namespace(name) in self._state.namespaces:
            raise AlreadyExists(f"namespace {name!r} already exists")
        record = Namespace.new(name, labels, quota, self._wall())
        return self._record(EventType.NAMESPACE_CREATED, record, actor, "created")

    def update(self, name: str, labels: Mapping[str, str] | None, quota: Quota | None,
               actor: str = Actor.OPERATOR) -> Namespace:
        """New labels and/or a new quota (None keeps the current one)."""
        record = self.get(name)
        changed = replace(
            record,
            labels=record.labels if labels is None else validate_labels(labels),
            quota=record.quota if quota is None else validate_quota(quota),
            create_time=record.create_time or self._wall(),  # the default's first change
            update_time=self._wall(),
        )
        if (changed.labels, changed.quota) == (record.labels, record.quota):
            return record
        return self._record(EventType.NAMESPACE_UPDATED, changed, actor, "updated")

    def delete(self, name: str, actor: str = Actor.OPERATOR) -> Namespace:
        record = self.get(name)
        if name == DEFAULT_NAMESPACE:
            raise FailedPrecondition("the default namespace cannot be deleted")
        usage = self._state.usage_of(name)
        if not usage.empty:
            raise FailedPrecondition(
                f"namespace {name!r} still holds {usage.members} live member(s) and "
                f"{usage.packets} unfinished packet(s): retire or drain the members and "
                "cancel or finish the packets first")
        self._record(EventType.NAMESPACE_DELETED, record, actor, "deleted")
        return record

    def _record(self, type_: EventType, record: Namespace, actor: str, reason: str
                ) -> Namespace:
        self._recorder.record(type_, actor, reason=f"namespace {record.name} {reason}",
                              data={"namespace": record.to_dict()})
        return self._state.namespaces.get(record.name, record)
