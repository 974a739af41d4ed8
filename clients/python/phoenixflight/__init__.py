"""PhoenixFlight for Python: a typed client of the phoenixflight.v1 API.

The messages and stubs are the API contract's (``phoenixflight_api.v1``), as are the
canonical JSON and handoff-token rules (``phoenixflight_api.protocol``).
"""

from __future__ import annotations

from phoenixflight._connect import DEFAULT_ENDPOINT, Connection, PhoenixFlightError
from phoenixflight.aio import AsyncClient
from phoenixflight.client import Client
from phoenixflight.envelope import packet_from_envelope
from phoenixflight.member import Member, RegistrationError, Stage, Task
from phoenixflight.names import enum_name, status

__all__ = [
    "DEFAULT_ENDPOINT", "AsyncClient", "Client", "Connection", "Member", "PhoenixFlightError",
    "RegistrationError", "Stage", "Task", "enum_name", "packet_from_envelope", "status",
]
