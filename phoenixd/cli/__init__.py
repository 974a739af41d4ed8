"""The ``phoenix`` command: a client of the PhoenixFlight API, plus offline tools."""

__all__: list[str] = []
