"""PhoenixFlight for Python: a typed client of the phoenixflight.v1 API (generated in ``.v1``).

The clients load on first use, so ``phoenixflight.protocol`` (the canonical JSON
and token rules) can be imported without grpc.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phoenixflight._connect import DEFAULT_ENDPOINT, Connection, PhoenixFlightError
    from phoenixflight.aio import AsyncClient
    from phoenixflight.client import Client
    from phoenixflight.envelope import packet_from_envelope
    from phoenixflight.member import Member, Task

__all__ = [
    "DEFAULT_ENDPOINT", "AsyncClient", "Client", "Connection", "Member", "PhoenixFlightError",
    "Task", "packet_from_envelope",
]

_HOMES = {
    "DEFAULT_ENDPOINT": "phoenixflight._connect",
    "Connection": "phoenixflight._connect",
    "PhoenixFlightError": "phoenixflight._connect",
    "AsyncClient": "phoenixflight.aio",
    "Client": "phoenixflight.client",
    "packet_from_envelope": "phoenixflight.envelope",
    "Member": "phoenixflight.member",
    "Task": "phoenixflight.member",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'phoenixflight' has no attribute {name!r}")
