"""Ring kernel facade: the compiled kernel when built, else its pure-Python twin."""

# Chosen once, at import. PHOENIX_NO_EXTENSIONS (any value but "" or "0") forces the pure twin,
# e.g. to test it or to rule out the extension; otherwise a missing extension (a pure install, an
# unbuilt checkout) falls back silently, and KERNEL tells callers which one is active.

import os

__all__ = [
    "DEFAULT_VNODES",
    "KERNEL",
    "RULES",
    "Ring",
    "argmax_binpack",
    "argmax_trust",
    "eligibility",
    "hash32",
    "hash32_many",
    "lookup",
    "lookup_bounded",
    "lookup_many",
    "ring_tokens",
    "scores_binpack",
    "scores_trust",
    "top_scores",
]

if os.environ.get("PHOENIX_NO_EXTENSIONS", "") not in ("", "0"):
    from phoenixd._ring_py import (
        DEFAULT_VNODES,
        KERNEL,
        RULES,
        Ring,
        argmax_binpack,
        argmax_trust,
        eligibility,
        hash32,
        hash32_many,
        lookup,
        lookup_bounded,
        lookup_many,
        ring_tokens,
        scores_binpack,
        scores_trust,
        top_scores,
    )
else:
    try:
        # mypy refuses to rebind an overloaded function by import even when both twins declare
        # identical overloads, and Ring is a different class in each twin;
        # tests/test_ring_kernel.py checks the two signatures match.
        from phoenixd._ring import (  # type: ignore[no-redef, assignment]
            DEFAULT_VNODES,
            KERNEL,
            RULES,
            Ring,
            argmax_binpack,
            argmax_trust,
            eligibility,
            hash32,
            hash32_many,
            lookup,
            lookup_bounded,
            lookup_many,
            ring_tokens,
            scores_binpack,
            scores_trust,
            top_scores,
        )
    except ImportError:
        from phoenixd._ring_py import (
            DEFAULT_VNODES,
            KERNEL,
            RULES,
            Ring,
            argmax_binpack,
            argmax_trust,
            eligibility,
            hash32,
            hash32_many,
            lookup,
            lookup_bounded,
            lookup_many,
            ring_tokens,
            scores_binpack,
            scores_trust,
            top_scores,
        )
