"""PhoenixFlight daemon: the control plane for work whose workers come and go."""

__all__: list[str] = []
