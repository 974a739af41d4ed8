"""The domain core: members, leases, the Flight Recorder's events. No grpc, no generated code."""

__all__: list[str] = []
