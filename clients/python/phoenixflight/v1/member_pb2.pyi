import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MemberKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_KIND_UNSPECIFIED: _ClassVar[MemberKind]
    MEMBER_KIND_AGENT: _ClassVar[MemberKind]
    MEMBER_KIND_TOOL: _ClassVar[MemberKind]
    MEMBER_KIND_SERVICE: _ClassVar[MemberKind]
    MEMBER_KIND_NODE: _ClassVar[MemberKind]

class MemberStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATUS_UNSPECIFIED: _ClassVar[MemberStatus]
    MEMBER_STATUS_ACTIVE: _ClassVar[MemberStatus]
    MEMBER_STATUS_SUSPECT: _ClassVar[MemberStatus]
    MEMBER_STATUS_FAILED: _ClassVar[MemberStatus]
    MEMBER_STATUS_DRAINING: _ClassVar[MemberStatus]
    MEMBER_STATUS_RETIRED: _ClassVar[MemberStatus]
MEMBER_KIND_UNSPECIFIED: MemberKind
MEMBER_KIND_AGENT: MemberKind
MEMBER_KIND_TOOL: MemberKind
MEMBER_KIND_SERVICE: MemberKind
MEMBER_KIND_NODE: MemberKind
MEMBER_STATUS_UNSPECIFIED: MemberStatus
MEMBER_STATUS_ACTIVE: MemberStatus
MEMBER_STATUS_SUSPECT: MemberStatus
MEMBER_STATUS_FAILED: MemberStatus
MEMBER_STATUS_DRAINING: MemberStatus
MEMBER_STATUS_RETIRED: MemberStatus

class Member(_message.Message):
    __slots__ = ("member_id", "kind", "capabilities", "capacity", "trust_score", "reliability", "labels", "status", "lease_ttl", "incarnation", "load", "reported_load", "create_time", "update_time", "last_heartbeat_time", "status_reason", "revision", "session_open")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    TRUST_SCORE_FIELD_NUMBER: _ClassVar[int]
    RELIABILITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LEASE_TTL_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    REPORTED_LOAD_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SESSION_OPEN_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    kind: MemberKind
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    capacity: Capacity
    trust_score: float
    reliability: float
    labels: _containers.ScalarMap[str, str]
    status: MemberStatus
    lease_ttl: _duration_pb2.Duration
    incarnation: int
    load: Load
    reported_load: Load
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    last_heartbeat_time: _timestamp_pb2.Timestamp
    status_reason: str
    revision: int
    session_open: bool
    def __init__(self, member_id: _Optional[str] = ..., kind: _Optional[_Union[MemberKind, str]] = ..., capabilities: _Optional[_Iterable[str]] = ..., capacity: _Optional[_Union[Capacity, _Mapping]] = ..., trust_score: _Optional[float] = ..., reliability: _Optional[float] = ..., labels: _Optional[_Mapping[str, str]] = ..., status: _Optional[_Union[MemberStatus, str]] = ..., lease_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., incarnation: _Optional[int] = ..., load: _Optional[_Union[Load, _Mapping]] = ..., reported_load: _Optional[_Union[Load, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status_reason: _Optional[str] = ..., revision: _Optional[int] = ..., session_open: _Optional[bool] = ...) -> None: ...

class Capacity(_message.Message):
    __slots__ = ("cpu", "memory")
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    memory: float
    def __init__(self, cpu: _Optional[float] = ..., memory: _Optional[float] = ...) -> None: ...

class Load(_message.Message):
    __slots__ = ("assigned_packets", "cpu", "memory")
    ASSIGNED_PACKETS_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    assigned_packets: int
    cpu: float
    memory: float
    def __init__(self, assigned_packets: _Optional[int] = ..., cpu: _Optional[float] = ..., memory: _Optional[float] = ...) -> None: ...
