"""The core against a simple model of ownership, driven by Hypothesis (a RuleBasedStateMachine).

The real ClusterState, Recorder, Scheduler and Cluster run in process on fake
clocks (tests/core/packet_world.py). Rules: register members (new incarnations too), submit
packets, member-side writes (ack, checkpoint, complete, fail) by the owner, by another member,
with a grant's old epoch and credential, or with a retired incarnation's credential; time
passing with some members silent (lease expiry); retire, drain, manual handoff, cancel; and a
restart (a new core from the replayed journal).

The model is a few dicts: per packet its epoch, owner, status and acknowledged checkpoint
step, plus each member's credential, and each grant's owner and credential. It predicts
exactly whether a write is accepted or refused, and with which code (the fencing rules in the
README), what an accepted write changes, and that a refused one changes nothing. Placement is
the scheduler's choice, so the model takes it from the core but checks that it is legal:
every grant raises the epoch by exactly one; terminal packets never change; only what a rule
may move moves (an ACTIVE owner keeps its packets through a submit, a join or another
packet's write); owners are live members; load accounting is exact; no notice goes out
before its event is recorded. A restart must rebuild the very same state. At the end the
whole run, recorded as a history, goes through the ownership-history checker
(tests/reliability/history.py) against the journal and the replayed final state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from phoenixd.core.errors import PhoenixError
from phoenixd.core.events import Event, EventType
from phoenixd.core.members import MemberStatus
from phoenixd.core.packets import Packet, PacketStatus, Strategy
from phoenixd.core.registry import Registration
from tests.core.packet_world import GRACE, LEASE, World, make_world, replayed
from tests.reliability.history import OK, Entry, Op, Seen, check
from tests.reliability.soak import figure, scaled

MEMBERS = ("m1", "m2", "m3")
# The canonical code of each core error, as the server's one table maps it.
CODES = {
    "FailedPrecondition": "FAILED_PRECONDITION", "PermissionDenied": "PERMISSION_DENIED",
    "Unauthenticated": "UNAUTHENTICATED", "InvalidArgument": "INVALID_ARGUMENT",
    "NotFound": "NOT_FOUND", "AlreadyExists": "ALREADY_EXISTS",
}
WRITES = ("ack", "checkpoint", "complete", "fail")
LIVE_OWNER = frozenset({MemberStatus.ACTIVE, MemberStatus.SUSPECT, MemberStatus.DRAINING})
# What the runs did, over all examples (reported as figures).
TALLY: Counter[str] = Counter()


def _seen(packet: Packet) -> Seen:
    return Seen(packet.packet_id, packet.epoch, packet.owner, str(packet.status),
                packet.revision, packet.checkpoint.step)


@dataclass
class PacketModel:
    """What the model holds true of one packet."""

    epoch: int = 0
    owner: str = ""
    status: PacketStatus = PacketStatus.PENDING
    step: str = ""
    attempts: int = 0
    max_attempts: int = 1


class CoreModel(RuleBasedStateMachine):
    """The core (a World) beside the model; each rule acts on both and compares."""

    def __init__(self) -> None:
        super().__init__()
        self.w: World = make_world()
        self.earlier: list[Event] = []  # the journal before the last restart
        self.synced = 0  # events checked so far
        self.packets: dict[str, PacketModel] = {}
        self.credentials: dict[str, str] = {}  # member -> its current credential
        self.revoked: list[tuple[str, str]] = []  # (member, credential of an ended incarnation)
        self.grants: dict[tuple[str, int], tuple[str, str]] = {}  # -> (owner, its credential)
        self.heard: dict[str, float] = {}  # member -> last sign of life (monotonic)
        self.was_active: set[str] = set()
        self.ops: list[Op] = []
        self.now = 0.0  # the history's clock: one tick per call
        self.restarts = 0

    # -- reading, choosing, expecting ------------------------------------------------------

    @property
    def journal(self) -> list[Event]:
        return self.earlier + self.w.events

    def _pick(self, pick: int) -> str:
        ids = sorted(self.packets)
        return ids[pick % len(ids)]

    def _record(self, kind: str, packet_id: str, outcome: str, shown: list[Packet],
                member_id: str = "", epoch: int = 0, tag: str = "") -> None:
        self.now += 1
        self.ops.append(Op("model", kind, packet_id, member_id, epoch, self.now, self.now + 0.5,
                           outcome, tuple(_seen(p) for p in shown), tag))

    def _expected(self, kind: str, member_id: str, credential: str, packet_id: str, epoch: int
                  ) -> tuple[str, bool]:
        """(outcome, whether the refusal is recorded as stale_owner_rejected) per the README."""
        member = self.w.state.members.get(member_id)
        if (member is None or credential != self.credentials.get(member_id)
                or member.status is MemberStatus.RETIRED):
            return "UNAUTHENTICATED", False
        if epoch < 1:
            return "INVALID_ARGUMENT", False
        m = self.packets[packet_id]
        if (kind == "complete" and m.status is PacketStatus.COMPLETED and m.owner == member_id
                and m.epoch == epoch):
            return OK, False  # a retry after a lost reply
        if epoch != m.epoch or member_id != m.owner:
            evicted = not m.owner and self._granted(packet_id, m.epoch) == member_id
            return ("FAILED_PRECONDITION" if epoch != m.epoch or evicted
                    else "PERMISSION_DENIED"), True
        if not m.status.owned:
            return "FAILED_PRECONDITION", False
        return OK, False

    # -- rules -----------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        """Every run starts with all members registered and a packet submitted."""
        for member_id in MEMBERS:
            self.join(member_id)
        self.submit(3, True, Strategy.TRUST)

    @rule(member_id=st.sampled_from(MEMBERS))
    def join(self, member_id: str) -> None:
        previous = self.w.state.members.get(member_id)
        current = self.credentials.get(member_id, "")
        replacing = previous is not None and not previous.status.terminal
        _, credential = self.w.cluster.register(Registration(
            member_id, lease_ttl=LEASE, credential=current if replacing else ""))
        if current:
            self.revoked.append((member_id, current))
        self.credentials[member_id] = self.w.credentials[member_id] = credential
        self.heard[member_id] = self.w.mono.now
        self._sync(moving=set())

    @rule(max_attempts=st.integers(1, 3), handoff_allowed=st.booleans(),
          strategy=st.sampled_from(sorted(Strategy)))
    def submit(self, max_attempts: int, handoff_allowed: bool, strategy: Strategy) -> None:
        packet_id = f"p{len(self.packets) + 1}"
        packet = self.w.submit(packet_id, state={"n": len(self.packets)}, step="submitted",
                               max_attempts=max_attempts, handoff_allowed=handoff_allowed,
                               strategy=strategy, routing_key=packet_id)
        self.packets[packet_id] = PacketModel(step="submitted", max_attempts=max_attempts)
        self._record("submit", packet_id, OK, [packet])
        self._sync(moving=set())

    @precondition(lambda self: bool(self.packets))
    @rule(pick=st.integers(0, 1000), checkpoints=st.integers(0, 3),
          finish=st.sampled_from(("complete", "fail", "")), permanent=st.booleans())
    def work(self, pick: int, checkpoints: int, finish: str, permanent: bool) -> None:
        """An owner works a packet it holds: ack, checkpoints, then maybe complete or fail."""
        held = sorted(p for p, m in self.packets.items() if m.status.owned) or sorted(self.packets)
        packet_id = held[pick % len(held)]
        for kind in ["ack", *["checkpoint"] * checkpoints, *([finish] if finish else [])]:
            self._write(kind, "owner", packet_id, pick, permanent)

    @precondition(lambda self: bool(self.packets))
    @rule(kind=st.sampled_from(WRITES), pick=st.integers(0, 1000), permanent=st.booleans())
    def owner_write(self, kind: str, pick: int, permanent: bool) -> None:
        """The owner (or the last one) writes at its epoch, whatever the packet's status."""
        self._write(kind, "owner", self._pick(pick), pick, permanent)

    @precondition(lambda self: bool(self.packets))
    @rule(kind=st.sampled_from(WRITES), who=st.sampled_from(("other", "past", "revoked")),
          pick=st.integers(0, 1000), permanent=st.booleans())
    def stranger_writes(self, kind: str, who: str, pick: int, permanent: bool) -> None:
        """Another member at the current epoch, a past grant, or an ended incarnation."""
        self._write(kind, who, self._pick(pick), pick, permanent)

    def _write(self, kind: str, who: str, packet_id: str, pick: int, permanent: bool) -> None:
        m = self.packets[packet_id]
        choice = self._writer(who, packet_id, pick)
        if choice is None:
            return
        member_id, credential, epoch = choice
        expected, recorded = self._expected(kind, member_id, credential, packet_id, epoch)
        before, head = self.w.packet(packet_id), self.w.head
        self.now += 1
        tag = f"c{self.now:g}"
        d = self.w.cluster
        try:
            if kind == "ack":
                after = d.ack(member_id, credential, packet_id, epoch)
            elif kind == "checkpoint":
                after = d.save_checkpoint(member_id, credential, packet_id, epoch,
                                          {"at": self.now}, tag)
            elif kind == "complete":
                after = d.complete(member_id, credential, packet_id, epoch, {"ok": 1})
            else:
                after = d.fail(member_id, credential, packet_id, epoch, "boom", permanent)
            outcome = OK
        except PhoenixError as exc:
            outcome = CODES[type(exc).__name__]
        self._record(kind, packet_id, outcome, [after] if outcome == OK else [], member_id,
                     epoch, tag if kind == "checkpoint" else "")
        assert outcome == expected, (kind, who, member_id, epoch, before)
        if outcome != OK:
            assert self.w.packet(packet_id) == before  # a refusal changes nothing
            stale = [e for e in self.w.events if e.sequence > head]
            assert [e.type for e in stale] == ([EventType.STALE_OWNER_REJECTED] if recorded
                                               else [])
            return self._sync(moving=set())
        now = self.w.packet(packet_id)
        if kind in ("ack", "checkpoint", "complete"):
            assert (now.owner, now.epoch) == (member_id, epoch)
        if kind == "ack":
            assert now.status is PacketStatus.RUNNING
        elif kind == "checkpoint":
            assert now.status is before.status and now.checkpoint.step == tag
            assert now.checkpoint.epoch == epoch
            m.step = tag
        elif kind == "complete":
            assert now.status is PacketStatus.COMPLETED
        else:
            m.attempts += 1
            if permanent or m.attempts >= m.max_attempts:
                assert (now.status, now.owner, now.epoch) == (PacketStatus.FAILED, member_id,
                                                              epoch)
            else:  # back to PENDING at this epoch, or already placed at the next one
                assert (now.status, now.owner, now.epoch) == (PacketStatus.PENDING, "", epoch) or (
                    now.status is PacketStatus.ASSIGNED and now.epoch == epoch + 1)
        self._sync(moving={packet_id}, written=packet_id)

    def _writer(self, who: str, packet_id: str, pick: int) -> tuple[str, str, int] | None:
        """(member, credential, epoch) of a write: the owner's, another member's at the
        current epoch, a past grant's, or an ended incarnation's."""
        m = self.packets[packet_id]
        if who == "owner":
            member_id = m.owner or self._granted(packet_id, m.epoch)
            if member_id not in self.credentials:
                return None
            return member_id, self.credentials[member_id], m.epoch
        if who == "other":
            others = sorted(set(self.credentials) - {m.owner})
            if not others:
                return None
            member_id = others[pick % len(others)]
            return member_id, self.credentials[member_id], m.epoch
        if who == "past":
            past = [(e, grant) for (p, e), grant in sorted(self.grants.items())
                    if p == packet_id and e < m.epoch]
            if not past:
                return None
            epoch, (member_id, credential) = past[pick % len(past)]
            return member_id, credential, epoch
        if not self.revoked:
            return None
        member_id, credential = self.revoked[pick % len(self.revoked)]
        return member_id, credential, max(1, m.epoch)

    @rule(seconds=st.sampled_from((0.5, 1.0, 3.0, 6.0, 16.0)),
          silent=st.sets(st.sampled_from(MEMBERS), max_size=2))
    def tick(self, seconds: float, silent: set[str]) -> None:
        """Time passes; every live member but the ``silent`` ones heartbeats meanwhile."""
        members = self.w.state.members
        keep = tuple(sorted(m for m in members if m not in silent
                            and not members[m].status.terminal))
        before = {m: members[m].status for m in members}
        self.w.tick(seconds, keep_alive=keep)
        now = self.w.mono.now
        for member_id in keep:
            self.heard[member_id] = now - 1.0  # heartbeats came before each (<= 1 s) step
        for member_id, was in before.items():
            status = members[member_id].status
            quiet = now - self.heard[member_id]
            if member_id in keep and was is MemberStatus.ACTIVE:
                assert status is MemberStatus.ACTIVE, (member_id, status)
            elif was is MemberStatus.ACTIVE and quiet < LEASE - 1:
                assert status is MemberStatus.ACTIVE, (member_id, quiet, status)
            elif was in LIVE_OWNER and quiet >= LEASE + GRACE + 1:
                assert status.terminal, (member_id, quiet, status)
        self._sync(moving=None)

    @rule(member_id=st.sampled_from(MEMBERS))
    def retire(self, member_id: str) -> None:
        mine = self._owned_by(member_id)
        try:
            self.w.cluster.retire(member_id, "churn")
        except PhoenixError:
            assert member_id not in self.w.state.members or (
                self.w.state.members[member_id].status is MemberStatus.FAILED)
        else:
            assert self.w.state.members[member_id].status is MemberStatus.RETIRED
        self._sync(moving=mine)

    @rule(member_id=st.sampled_from(MEMBERS), deadline=st.sampled_from((1.0, 5.0, 30.0)))
    def drain(self, member_id: str, deadline: float) -> None:
        mine = self._owned_by(member_id)
        try:
            self.w.cluster.drain(member_id, "churn", deadline)
        except PhoenixError:
            assert member_id not in self.w.state.members or (
                self.w.state.members[member_id].status.terminal)
        else:
            self.heard[member_id] = self.w.mono.now  # a drain re-arms the lease
        self._sync(moving=mine)

    @precondition(lambda self: bool(self.packets))
    @rule(pick=st.integers(0, 1000), to=st.sampled_from(("", *MEMBERS)))
    def handoff(self, pick: int, to: str) -> None:
        packet_id = self._pick(pick)
        try:
            shown = [self.w.cluster.handoff(packet_id, to, "churn")]
            outcome = OK
        except PhoenixError as exc:
            shown, outcome = [], CODES[type(exc).__name__]
        self._record("handoff", packet_id, outcome, shown)
        self._sync(moving={packet_id})

    @precondition(lambda self: bool(self.packets))
    @rule(pick=st.integers(0, 1000))
    def cancel(self, pick: int) -> None:
        packet_id = self._pick(pick)
        m = self.packets[packet_id]
        try:
            packet = self.w.cluster.cancel(packet_id, "churn")
        except PhoenixError as exc:
            assert m.status.terminal and m.status is not PacketStatus.CANCELLED, exc
            return self._sync(moving=set())
        assert (packet.status, packet.owner, packet.epoch) == (
            PacketStatus.CANCELLED, m.owner, m.epoch)
        self._record("cancel", packet_id, OK, [packet])
        self._sync(moving={packet_id})

    @rule()
    def restart(self) -> None:
        """A new core from the journal alone: the same state, then leases re-armed and
        what was left PENDING placed."""
        journal = self.journal
        state = replayed(journal)
        assert state.packets == self.w.state.packets
        assert state.members == self.w.state.members
        last = journal[-1] if journal else None
        fresh = (make_world(state=state, head_sequence=last.sequence, head_hash=last.hash)
                 if last else make_world())
        fresh.mono.now, fresh.wall.now = self.w.mono.now, self.w.wall.now
        fresh.credentials.update(self.w.credentials)
        self.earlier, self.w = journal, fresh
        self.restarts += 1
        fresh.cluster.rearm_leases()
        for member_id in self.heard:
            self.heard[member_id] = fresh.mono.now  # every lease starts over
        fresh.cluster.restart_placement()
        self._sync(moving=None)

    # -- the model's bookkeeping and its invariants ----------------------------------------

    def _granted(self, packet_id: str, epoch: int) -> str:
        """Who was granted the packet at this epoch: once the grant ends (the packet is
        PENDING at that epoch), the member the fence treats as evicted."""
        return self.grants.get((packet_id, epoch), ("", ""))[0]

    def _owned_by(self, member_id: str) -> set[str]:
        return {p for p, m in self.packets.items() if m.owner == member_id and m.status.owned}

    def _sync(self, *, moving: set[str] | None, written: str = "") -> None:
        """Take placement from the core, checking that every change is one the rule allows."""
        journal = self.journal
        for event in journal[self.synced:]:
            if event.type == EventType.ASSIGNMENT_DECISION:
                packet = event.data["packet"]
                key = (packet["packet_id"], packet["epoch"])
                granted = max((e for (p, e) in self.grants if p == key[0]), default=0)
                assert key[1] == granted + 1, f"epoch {key[1]} granted after {granted}"
                owner = packet["owner"]
                self.grants[key] = (owner, self.credentials[owner])
        self.synced = len(journal)
        for packet_id, m in self.packets.items():
            now = self.w.packet(packet_id)
            if m.status.terminal:
                assert (now.status, now.owner, now.epoch) == (m.status, m.owner, m.epoch)
            held_by_active = m.status.owned and m.owner in self.was_active
            if moving is not None and packet_id not in moving and held_by_active:
                assert (now.status, now.owner, now.epoch) == (m.status, m.owner, m.epoch), (
                    f"{packet_id} moved from ACTIVE {m.owner} without cause: {now}")
            assert now.epoch == max((e for (p, e) in self.grants if p == packet_id), default=0)
            if packet_id != written:
                assert now.checkpoint.step == m.step
            m.epoch, m.owner, m.status = now.epoch, now.owner, now.status
            m.attempts = now.attempts
        members = self.w.state.members
        self.was_active = {i for i, member in members.items()
                           if member.status is MemberStatus.ACTIVE}
        self._record("read", "", OK, list(self.w.state.packets.values()))

    @invariant()
    def owners_are_live_members_and_loads_are_exact(self) -> None:
        owners: dict[str, set[str]] = {}
        for packet in self.w.state.packets.values():
            if packet.status.owned:
                owners.setdefault(packet.owner, set()).add(packet.packet_id)
        for member_id in set(self.w.state.members) | set(owners):
            member = self.w.state.members[member_id]
            mine = owners.get(member_id, set())
            assert not mine or member.status in LIVE_OWNER, (member_id, member.status, mine)
            assert self.w.state.load_of(member_id).packets == mine
        assert self.w.premature == []

    def teardown(self) -> None:
        journal = self.journal
        final = {p.packet_id: _seen(p) for p in replayed(journal).packets.values()}
        entries = [Entry.of(e.sequence, e.type, e.actor, e.data) for e in journal]
        report = check(self.ops, entries, final)
        assert report.violations == [], report.violations[:10]
        writes = [op for op in self.ops if op.kind in WRITES]
        TALLY.update(runs=1, writes=len(writes), accepted=sum(op.ok for op in writes),
                     grants=report.grants, restarts=self.restarts, stale=report.stale_refused)


# CI: a fixed, database-less set of runs (derandomized), a few seconds; the soak explores more.
CoreModel.TestCase.settings = settings(
    max_examples=scaled(100, 2000), stateful_step_count=scaled(50, 100), deadline=None,
    derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow],
)
TestCoreModel = CoreModel.TestCase


@pytest.fixture(autouse=True, scope="module")
def _report() -> Iterator[None]:
    yield
    figure("core model: runs (steps each at most)",
           f"{TALLY['runs']} ({CoreModel.TestCase.settings.stateful_step_count})")
    figure("core model: writes predicted (accepted / refused)",
           f"{TALLY['writes']} ({TALLY['accepted']} / {TALLY['writes'] - TALLY['accepted']})")
    figure("core model: grants / restarts / known-stale writes refused",
           f"{TALLY['grants']} / {TALLY['restarts']} / {TALLY['stale']}")
