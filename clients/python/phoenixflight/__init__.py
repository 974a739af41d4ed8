"""PhoenixFlight for Python: a typed client of the phoenixflight.v1 API (generated in ``.v1``)."""

from phoenixflight._connect import DEFAULT_ENDPOINT, Connection, PhoenixFlightError
from phoenixflight.aio import AsyncClient
from phoenixflight.client import Client
from phoenixflight.envelope import packet_from_envelope

__all__ = [
    "DEFAULT_ENDPOINT", "AsyncClient", "Client", "Connection", "PhoenixFlightError",
    "packet_from_envelope",
]
