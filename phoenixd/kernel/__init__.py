"""The placement kernel: MurmurHash3, the consistent-hash ring, eligibility and member scoring.

The compiled twin (``_compiled.pyx``, Cython) when it is built, else the pure-Python one
(``_pure``): both give the same results and raise the same exception types, and ``KERNEL``
says which one is active.
"""

# Chosen once, at import. PHOENIX_NO_EXTENSIONS (any value but "" or "0") forces the pure twin,
# e.g. to test it or to rule out the extension; otherwise a missing extension (a pure install, an
# unbuilt checkout) falls back silently.

import contextlib
import os

from phoenixd.kernel._pure import (
    DEFAULT_VNODES,
    KERNEL,
    RULES,
    Ring,
    argmax_binpack,
    argmax_trust,
    eligibility,
    hash32,
    scores_binpack,
    scores_trust,
    top_scores,
)

__all__ = [
    "DEFAULT_VNODES",
    "KERNEL",
    "RULES",
    "Ring",
    "argmax_binpack",
    "argmax_trust",
    "eligibility",
    "hash32",
    "scores_binpack",
    "scores_trust",
    "top_scores",
]

if os.environ.get("PHOENIX_NO_EXTENSIONS", "") in ("", "0"):
    # A missing extension leaves the pure twin's names in place.
    with contextlib.suppress(ImportError):
        # mypy refuses to rebind a name by import when its type differs, and Ring is a different
        # class in each twin; tests/kernel/test_twins.py checks the two signatures match.
        from phoenixd.kernel._compiled import (  # type: ignore[assignment]
            DEFAULT_VNODES,
            KERNEL,
            RULES,
            Ring,
            argmax_binpack,
            argmax_trust,
            eligibility,
            hash32,
            scores_binpack,
            scores_trust,
            top_scores,
        )
