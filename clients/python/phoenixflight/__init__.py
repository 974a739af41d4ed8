"""PhoenixFlight for Python: the phoenixflight.v1 API (generated, in ``phoenixflight.v1``)."""

__all__: list[str] = []
