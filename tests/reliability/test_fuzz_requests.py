"""Fuzzing every RPC through one real phoenixd: only designed status codes come back.

Hypothesis strategies are built generically from each request message's descriptor (every
field type: strings with odd unicode and very long ones, integers at their extremes, floats with
NaN and infinities, bytes, enums with unknown numbers, nested messages, repeated and map fields,
Duration / Timestamp / FieldMask / Struct with out-of-range values), seeded with values that get
requests past validation (live members with their credentials, a real packet and its epoch, event
types, selectors, page tokens crafted to choke a decoder). A second test sends raw random and
mangled bytes as the serialized request, a third one undecodable bytes to every method (and as a
later message of every request stream): INVALID_ARGUMENT, not grpc's UNKNOWN; a fourth sets
every string field of every method to 400 KB, and the refusal quoting it must still arrive.

The daemon runs with operator auth on; most requests carry the token, some none or a wrong one.
Allowed answers: OK or a designed refusal (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
FAILED_PRECONDITION, PERMISSION_DENIED, UNAUTHENTICATED, RESOURCE_EXHAUSTED, OUT_OF_RANGE,
ABORTED), plus DEADLINE_EXCEEDED / CANCELLED for a watch we cut ourselves. UNKNOWN or INTERNAL
means an exception the daemon did not handle; a status lost on the way back (a message too long
for gRPC's trailers) means the caller never heard the daemon's answer. After each method the
daemon still serves, its chain verifies and its log holds no traceback. CI runs a bounded number
of examples per method; ``make soak`` runs many more (soak.py).
"""

from __future__ import annotations

import base64
import itertools
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor, message_factory
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phoenixd.core.events import EventType
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import envelope
from tests.daemon import PhoenixProcess, operator_token_args
from tests.reliability.rpc_catalog import CATALOG, NOT_SERVED, Outcome, Rpc, call, fill
from tests.reliability.soak import figure, scaled

TOKEN = "fuzz-operator-token"
BEARER = (("authorization", f"Bearer {TOKEN}"),)
DEADLINE = 10.0
# How long a watch may stay quiet before we cut it: a refusal comes at once, a valid watch
# waits for live events, and waiting longer would only slow the run.
WATCH_CUT = 0.3

StatusCode = grpc.StatusCode
DESIGNED = frozenset({
    StatusCode.OK, StatusCode.INVALID_ARGUMENT, StatusCode.NOT_FOUND,
    StatusCode.ALREADY_EXISTS, StatusCode.FAILED_PRECONDITION, StatusCode.PERMISSION_DENIED,
    StatusCode.UNAUTHENTICATED, StatusCode.RESOURCE_EXHAUSTED, StatusCode.OUT_OF_RANGE,
    StatusCode.ABORTED,
})

EXAMPLES = scaled(30, 1500)
RAW_EXAMPLES = scaled(20, 1000)
FUZZ_SETTINGS = settings(
    derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example, HealthCheck.filter_too_much],
)

# -- strategies from descriptors -------------------------------------------------------------

FD = descriptor.FieldDescriptor
_INT_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1), FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1), FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1), FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1), FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1), FD.TYPE_FIXED64: (0, 2**64 - 1),
}
_ODD_FLOATS = [0.0, -0.0, 0.5, 1.0, -1.0, 1.5, 1e308, -1e308, 5e-324, math.nan, math.inf,
               -math.inf]
# Characters that break naive code: NUL, a right-to-left override, combining marks, an emoji,
# a character outside the BMP, and characters that look like ASCII but are not.
_ODD_CHARS = ["a", "\x00", "\u202e", "e\u0301", "\U0001f525", "\U00010348", "\uff41", "-", " "]
# Nesting beyond this is cut short (Struct and Value nest without end).
MAX_DEPTH = 4
MAX_ITEMS = 5

Pools = Mapping[str, Sequence[object]]


def _integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    extremes = sorted({lo, hi, 0, 1, 2, 3, hi // 2, lo // 2, max(lo, -1)})
    return st.one_of(st.sampled_from(extremes), st.integers(lo, hi))


def _text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=24),
        st.from_regex(r"[a-z0-9][a-z0-9.:/@=,!()_-]{0,80}", fullmatch=True),
        st.lists(st.sampled_from(_ODD_CHARS), max_size=24).map("".join),
        # Very long: past every documented cap (1 KiB of free text, 63-character ids, ...).
        st.builds(operator.mul, st.sampled_from(_ODD_CHARS), st.integers(500, 100_000)),
    )


def _scalar(fd: descriptor.FieldDescriptor) -> st.SearchStrategy[Any]:
    if fd.type in _INT_RANGES:
        return _integers(*_INT_RANGES[fd.type])
    if fd.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        floats = st.floats(width=32) if fd.type == FD.TYPE_FLOAT else st.floats()
        return st.one_of(st.sampled_from(_ODD_FLOATS), floats)
    if fd.type == FD.TYPE_BOOL:
        return st.booleans()
    if fd.type == FD.TYPE_STRING:
        return _text()
    if fd.type == FD.TYPE_BYTES:
        return st.binary(max_size=64)
    if fd.type == FD.TYPE_ENUM:
        assert fd.enum_type is not None
        known = [value.number for value in fd.enum_type.values]
        return st.one_of(st.sampled_from(known), _integers(-(2**31), 2**31 - 1))
    raise AssertionError(f"no strategy for field {fd.full_name} of type {fd.type}")


@dataclass
class Builder:
    """Strategies for messages, by descriptor; ``pools`` seeds fields by name with values
    that get past validation (any field named ``member_id``, at any depth, and so on)."""

    pools: Pools
    _cache: dict[tuple[str, int], st.SearchStrategy[Message]] = field(default_factory=dict)

    def message(self, desc: descriptor.Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        key = (desc.full_name, depth)
        if key not in self._cache:
            self._cache[key] = self._message(desc, depth)
        return self._cache[key]

    def _message(self, desc: descriptor.Descriptor, depth: int) -> st.SearchStrategy[Message]:
        cls = message_factory.GetMessageClass(desc)
        if depth > MAX_DEPTH:
            return st.builds(cls)
        fields = {fd.name: self._field(fd, depth) for fd in desc.fields}
        build = partial(_build, cls)
        oneofs = [o for o in desc.oneofs if not _synthetic(o)]
        if len(oneofs) == 1 and len(oneofs[0].fields) == len(desc.fields):
            # A message that is one oneof (a session message, a Struct Value): one kind each.
            return st.one_of(st.builds(cls), *(
                strategy.map(partial(_only, build, name)) for name, strategy in fields.items()))
        strategy = st.fixed_dictionaries({}, optional=fields).map(build)
        return st.one_of(strategy, *self._well_known(desc))

    def _field(self, fd: descriptor.FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        entry = fd.message_type
        if entry is not None and entry.GetOptions().map_entry:
            key = self._value(entry.fields_by_name["key"], depth)
            value = self._value(entry.fields_by_name["value"], depth)
            few = st.dictionaries(key, value, max_size=MAX_ITEMS)
            if entry.fields_by_name["key"].type != FD.TYPE_STRING:
                return few
            # Many entries: past the documented caps (64 labels).
            many = st.builds(_numbered, value, st.integers(60, 200))
            return st.one_of(few, many)
        single = self._value(fd, depth)
        if fd.is_repeated:
            # A few items, or many copies of one (past the documented caps of 64).
            many = st.builds(operator.mul, single.map(lambda v: [v]), st.integers(60, 200))
            return st.one_of(st.lists(single, max_size=MAX_ITEMS), many)
        return single

    def _value(self, fd: descriptor.FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        if fd.message_type is not None:
            return self.message(fd.message_type, depth + 1)
        base = _scalar(fd)
        pool = self.pools.get(fd.name)
        return st.one_of(st.sampled_from(list(pool)), base) if pool else base

    @staticmethod
    def _well_known(desc: descriptor.Descriptor) -> list[st.SearchStrategy[Message]]:
        """In-range values of the time types too (the generic ones are mostly out of range)."""
        cls = message_factory.GetMessageClass(desc)
        if desc.full_name == "google.protobuf.Duration":
            return [st.builds(cls, seconds=st.integers(0, 7200),
                              nanos=st.integers(0, 999_999_999))]
        if desc.full_name == "google.protobuf.Timestamp":
            return [st.builds(cls, seconds=st.integers(0, 4_102_444_800),
                              nanos=st.integers(0, 999_999_999))]
        return []


def _only(build: Callable[[Mapping[str, Any]], Message], name: str, value: Any) -> Message:
    return build({name: value})


def _numbered(value: Any, count: int) -> dict[str, Any]:
    return {f"k{i}": value for i in range(count)}


def _synthetic(oneof: descriptor.OneofDescriptor) -> bool:
    """The oneof protoc makes for a proto3 ``optional`` field: not a real choice."""
    return len(oneof.fields) == 1 and oneof.name == f"_{oneof.fields[0].name}"


def _build(cls: type[Message], values: Mapping[str, Any]) -> Message:
    message = cls()
    for name, value in values.items():
        fd = cls.DESCRIPTOR.fields_by_name[name]
        entry = fd.message_type
        if entry is not None and entry.GetOptions().map_entry:
            target = getattr(message, name)
            for key, item in value.items():
                if isinstance(item, Message):
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif fd.is_repeated:
            target = getattr(message, name)
            for item in value:
                if isinstance(item, Message):
                    target.add().CopyFrom(item)
                else:
                    target.append(item)
        elif entry is not None:
            getattr(message, name).SetInParent()
            getattr(message, name).MergeFrom(value)
        else:
            setattr(message, name, value)
    return message


@st.composite
def _mangled(draw: st.DrawFn, messages: st.SearchStrategy[Message]) -> bytes:
    """A valid request's bytes with a few flipped, cut or inserted."""
    raw = bytearray(draw(messages).SerializeToString())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        edit = draw(st.sampled_from(["flip", "cut", "insert"]))
        if edit == "flip" and at < len(raw):
            raw[at] ^= draw(st.integers(1, 255))
        elif edit == "cut":
            del raw[at:at + draw(st.integers(1, 8))]
        else:
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(raw)


def _token(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _crafted_page_tokens() -> list[str]:
    """Page tokens are base64 JSON: well-formed ones holding what a decoder may choke on."""
    return [
        _token(b"[" * 50_000 + b"]" * 50_000),  # nested deeper than any recursion limit
        _token(b'{"p": ' + b"9" * 5000 + b', "q": "x"}'),  # an integer too long to convert
        _token(b'{"p": NaN, "q": "x"}'), _token(b'{"p": -1, "q": "x"}'),
        _token(b'{"p": {}, "q": []}'), _token(b'"p"'), _token(b"null"), _token(b"\xff\xfe"),
    ]


# -- the daemon and what each method's run starts from ---------------------------------------


@dataclass
class Fuzzed:
    d: PhoenixProcess
    sent: int = 0
    runs: Iterator[int] = field(default_factory=itertools.count)
    by_code: dict[str, int] = field(default_factory=dict)

    @property
    def channel(self) -> grpc.Channel:
        assert self.d.channel is not None
        return self.d.channel

    def send(self, rpc: Rpc, request: Any, metadata: Any) -> Outcome:
        self.sent += 1
        watch = rpc.server_streaming and not rpc.client_streaming
        outcome = call(self.channel, rpc, request, metadata=metadata,
                       timeout=WATCH_CUT if watch else DEADLINE, max_responses=3 if watch else 50)
        self.by_code[outcome.code.name] = self.by_code.get(outcome.code.name, 0) + 1
        return outcome

    def fresh_pools(self) -> dict[str, Sequence[object]]:
        """Seeds for one method's run: fresh members, one owning a packet at epoch 1."""
        while True:
            try:
                return self._pools(f"fz{next(self.runs)}")
            except grpc.RpcError as exc:
                # Fuzzing made these ids already (e.g. a flipped digit in a mangled request).
                if exc.code() != StatusCode.ALREADY_EXISTS:
                    raise

    def _pools(self, tag: str) -> dict[str, Sequence[object]]:
        creds = []
        for side in ("a", "b"):
            creds.append(self.d.members.RegisterMember(mpb.RegisterMemberRequest(
                member_id=f"{tag}-{side}", capabilities=[tag], lease_ttl=Duration(seconds=3600)),
                metadata=BEARER, timeout=DEADLINE).credential)
        packet = self.d.packets.SubmitPacket(ppb.SubmitPacketRequest(
            packet=envelope(f"{tag}-p", tag)), metadata=BEARER, timeout=DEADLINE).packet
        members = [f"{tag}-a", f"{tag}-b"]
        return {
            "member_id": members, "owner": members, "target_member_id": members,
            "credential": creds, "packet_id": [packet.packet_id, "no-such-packet"],
            "epoch": [packet.epoch, packet.epoch + 1], "lineage_id": [packet.audit.lineage_id],
            "after_sequence": [0, 1], "after_revision": [0, 1],
            "types": [str(t) for t in EventType],
            "capabilities": [tag, "ocr@2"], "required_capabilities": [tag],
            "capability": [tag, "ocr"], "label_selector": [
                "region=us-east", "tier!=batch,gpu", "env in (a,b)", "!gpu", "x notin (y)"],
            "paths": ["capabilities", "labels", "trust_score", "reliability", "capacity"],
            "service": ["", "phoenixflight.v1.PacketService"],
            "file_containing_symbol": ["phoenixflight.v1.PacketService"],
            "file_by_filename": ["phoenixflight/v1/packet.proto"],
            "page_token": _crafted_page_tokens(),
        }

    def assert_healthy(self) -> None:
        assert self.d.proc is not None and self.d.proc.poll() is None, self.d.log()[-4000:]
        stub = health_pb2_grpc.HealthStub(self.channel)
        check = stub.Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE)  # type: ignore[attr-defined]
        assert check.status == health_pb2.HealthCheckResponse.SERVING
        chain = self.d.recorder.VerifyChain(rpb.VerifyChainRequest(), metadata=BEARER,
                                            timeout=DEADLINE)
        assert chain.ok, chain
        assert "Traceback" not in self.d.log(), self.d.log()[-4000:]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    with PhoenixProcess(root / "data", *operator_token_args(root, TOKEN)) as d:
        f = Fuzzed(d)
        yield f
        f.assert_healthy()
        figure("fuzzed requests sent", f"{f.sent} over {len(CATALOG)} methods")
        figure("fuzzed answers by status", ", ".join(
            f"{code} {n}" for code, n in sorted(f.by_code.items(), key=lambda kv: -kv[1])))


_METADATA = st.sampled_from([
    BEARER, BEARER, BEARER, BEARER, None, (("authorization", "Bearer not-the-token"),),
    (("authorization", TOKEN),), (("authorization", "Bearer " + "\x7e" * 300),),
])


def _requests(rpc: Rpc, messages: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One request, or a short stream of them for a stream-request method."""
    return st.lists(messages, max_size=4) if rpc.client_streaming else messages


# grpc's words when the daemon's status did not survive the trip back (its message did not fit
# in the trailers): whatever code the client then sees, it is not the daemon's answer.
LOST_STATUS = ("metadata size exceeds",)


def _assert_designed(rpc: Rpc, outcome: Outcome, request: Any) -> None:
    lost = any(words in outcome.details for words in LOST_STATUS)
    assert not lost, f"{rpc}: the status was lost ({outcome.details!r}) for {request!r:.2000}"
    if outcome.code in DESIGNED:
        return
    if rpc.path in NOT_SERVED and outcome.code == StatusCode.UNIMPLEMENTED:
        return
    cut = outcome.cut and rpc.server_streaming and not rpc.client_streaming
    assert cut, f"{rpc} answered {outcome.code.name} ({outcome.details!r}) to {request!r:.2000}"


def _run(fuzzed: Fuzzed, rpc: Rpc, requests: st.SearchStrategy[Any], examples: int) -> None:
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(request=requests, metadata=_METADATA)
    def one(request: Any, metadata: Any) -> None:
        _assert_designed(rpc, fuzzed.send(rpc, request, metadata), request)

    one()
    fuzzed.assert_healthy()


@pytest.mark.parametrize("rpc", CATALOG, ids=str)
def test_fuzzed_requests_get_designed_answers(rpc: Rpc, fuzzed: Fuzzed) -> None:
    messages = Builder(fuzzed.fresh_pools()).message(rpc.method.input_type)
    _run(fuzzed, rpc, _requests(rpc, messages), EXAMPLES)


@pytest.mark.parametrize("rpc", CATALOG, ids=str)
def test_raw_and_mangled_bytes_get_designed_answers(rpc: Rpc, fuzzed: Fuzzed) -> None:
    messages = Builder(fuzzed.fresh_pools()).message(rpc.method.input_type)
    raw = st.one_of(st.binary(max_size=256), _mangled(messages))
    _run(fuzzed, rpc, _requests(rpc, raw), RAW_EXAMPLES)


CORRUPT = b"\xff\xff\xff"  # a field tag whose varint never ends: never parses


@pytest.mark.parametrize("rpc", CATALOG, ids=str)
def test_undecodable_bytes_are_invalid_argument_not_unknown(rpc: Rpc, fuzzed: Fuzzed) -> None:
    """grpc answers UNKNOWN for a request that does not parse unless the daemon says better."""
    request: Any = [CORRUPT] if rpc.client_streaming else CORRUPT
    outcome = fuzzed.send(rpc, request, BEARER)
    assert outcome.code == StatusCode.INVALID_ARGUMENT, outcome
    if rpc.client_streaming:  # a stream fails at the message that does not parse
        later = fuzzed.send(rpc, [_opening(rpc, fuzzed), CORRUPT], BEARER)
        assert later.code == StatusCode.INVALID_ARGUMENT, later
        assert later.responses, "the first message was not accepted"


def _opening(rpc: Rpc, fuzzed: Fuzzed) -> Message:
    """A first message the stream accepts: a session's ``open`` for a live member (an empty
    message for others, e.g. reflection, which answers it in-band)."""
    request = rpc.request()
    pools = fuzzed.fresh_pools()
    for fd in request.DESCRIPTOR.fields:
        carried = fd.message_type
        if carried is not None and {"member_id", "credential"} <= set(carried.fields_by_name):
            fill(getattr(request, fd.name), {
                "member_id": pools["member_id"][0], "credential": pools["credential"][0]})
    return request


HUGE = "\U0001f525" * 100_000  # 400 KB of UTF-8, 1.2 MB once percent-encoded in a trailer


@pytest.mark.parametrize("rpc", [r for r in CATALOG if not r.client_streaming], ids=str)
def test_a_refusal_quoting_a_huge_input_still_reaches_the_caller(
    rpc: Rpc, fuzzed: Fuzzed
) -> None:
    """Every top-level string field set to HUGE: the refusal, which quotes it, must arrive."""
    strings = [fd.name for fd in rpc.request.DESCRIPTOR.fields
               if fd.type == FD.TYPE_STRING and not fd.is_repeated]
    request = fill(rpc.request(), dict.fromkeys(strings, HUGE))
    outcome = fuzzed.send(rpc, request, BEARER)
    _assert_designed(rpc, outcome, request)
    assert len(outcome.details.encode()) < 8192, outcome.details[:200]
