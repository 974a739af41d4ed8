"""The gRPC face of the daemon: servicers that validate, call the core, convert, map errors."""

__all__: list[str] = []
