"""Conversions between the core's records and phoenixflight.v1 messages, by concept:
``wire`` (timestamps, durations, Structs), ``members``, ``packets``, ``events``."""
