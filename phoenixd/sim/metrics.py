"""The DMA metrics as the simulator uses them: the formulas of phoenixd.core.dma (one
implementation, shared with the daemon's GetClusterHealth) plus the handoff costs the
virtual clock cannot see."""

from __future__ import annotations

from phoenixd.core.dma import (
    JOIN_WEIGHT,
    LEAVE_WEIGHT,
    WRITE_EVENTS,
    attempt_success_rate,
    compliance,
    dhs,
    jain,
    load_stats,
    mcr,
    percentile,
    si,
    success_rate,
    wmcr,
)

__all__ = [
    "JOIN_WEIGHT",
    "LEAVE_WEIGHT",
    "PERSIST_MS",
    "SIGN_MS",
    "WRITE_EVENTS",
    "attempt_success_rate",
    "compliance",
    "dhs",
    "jain",
    "load_stats",
    "mcr",
    "percentile",
    "si",
    "success_rate",
    "wmcr",
]

# Handoff costs the virtual clock cannot see, measured on the real daemon (BENCHMARKS.md,
# "Failover and handoff", bench/test_handoff.py medians): Ed25519 signing of the token, and
# write + fdatasync of the record that carries the grant.
SIGN_MS = 0.036
PERSIST_MS = 0.204
