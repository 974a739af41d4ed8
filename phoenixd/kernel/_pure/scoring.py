"""The member scorers of the pure twin: trust-weighted and bin-packing scores, their argmax,
and the k best scores."""

from __future__ import annotations

import heapq
from array import array
from operator import index

from phoenixd.kernel._pure.checks import Flags, Floats, check_lengths, f64, u8


def _trust(
    reliability: Floats, trust: Floats, load: Floats, eligible: Flags
) -> tuple[int, array[float]]:
    r = f64(reliability, "reliability")
    t = f64(trust, "trust")
    ld = f64(load, "load")
    e = u8(eligible, "eligible")
    check_lengths(
        "member", ("reliability", "trust", "load", "eligible"), (len(r), len(t), len(ld), len(e))
    )
    scores = array("d", [float("nan")]) * len(e)
    best = -1
    best_score = 0.0
    for i in range(len(e)):
        if not e[i]:
            continue
        if ld[i] < 0.0:
            raise ValueError(f"load[{i}] is {ld[i]!r}; loads must be >= 0")
        score = (r[i] * t[i]) / (1.0 + ld[i])
        if score != score:
            raise ValueError(
                f"score of member {i} is NaN (reliability={r[i]!r}, trust={t[i]!r}, load={ld[i]!r})"
            )
        scores[i] = score
        if best < 0 or score > best_score:
            best = i
            best_score = score
    return best, scores


def _binpack(
    free_cpu_fraction: Floats, free_memory_fraction: Floats, eligible: Flags, pack: bool
) -> tuple[int, array[float]]:
    c = f64(free_cpu_fraction, "free_cpu_fraction")
    mem = f64(free_memory_fraction, "free_memory_fraction")
    e = u8(eligible, "eligible")
    check_lengths(
        "member",
        ("free_cpu_fraction", "free_memory_fraction", "eligible"),
        (len(c), len(mem), len(e)),
    )
    scores = array("d", [float("nan")]) * len(e)
    best = -1
    best_score = 0.0
    for i in range(len(e)):
        if not e[i]:
            continue
        score = c[i] + mem[i]
        if score != score:
            raise ValueError(
                f"score of member {i} is NaN "
                f"(free_cpu_fraction={c[i]!r}, free_memory_fraction={mem[i]!r})"
            )
        scores[i] = score
        if best < 0 or (score < best_score if pack else score > best_score):
            best = i
            best_score = score
    return best, scores


def argmax_trust(reliability: Floats, trust: Floats, load: Floats, eligible: Flags) -> int:
    """Return the eligible member with the highest ``reliability * trust / (1 + load)``.

    Args:
        reliability, trust, load: float64 buffers (typecode 'd'), one item per member; loads of
            eligible members must be >= 0.
        eligible: one byte per member, nonzero if the member may be picked.

    Returns:
        The member index (ties to the lowest), or -1 if none is eligible.
    """
    return _trust(reliability, trust, load, eligible)[0]


def scores_trust(
    reliability: Floats, trust: Floats, load: Floats, eligible: Flags
) -> array[float]:
    """Return every member's ``argmax_trust`` score as ``array('d')``, NaN where ineligible."""
    return _trust(reliability, trust, load, eligible)[1]


def argmax_binpack(
    free_cpu_fraction: Floats, free_memory_fraction: Floats, eligible: Flags, pack: bool
) -> int:
    """Return the eligible member whose ``free_cpu_fraction + free_memory_fraction`` is best.

    Args:
        free_cpu_fraction, free_memory_fraction: float64 buffers (typecode 'd'), one per member.
        eligible: one byte per member, nonzero if the member fits the work (the caller filters).
        pack: True picks the lowest score (the fullest member that fits, packing work tightly),
            False the highest (spreading it).

    Returns:
        The member index (ties to the lowest), or -1 if none is eligible.
    """
    return _binpack(free_cpu_fraction, free_memory_fraction, eligible, pack)[0]


def scores_binpack(
    free_cpu_fraction: Floats, free_memory_fraction: Floats, eligible: Flags
) -> array[float]:
    """Return every member's ``argmax_binpack`` score as ``array('d')``, NaN where ineligible."""
    return _binpack(free_cpu_fraction, free_memory_fraction, eligible, False)[1]


def top_scores(scores: Floats, eligible: Flags, k: int) -> array[int]:
    """Return the indices of the ``k`` best-scoring eligible members as ``array('i')``.

    Best first; equal scores keep index order. Scores of eligible members must not be NaN.
    """
    s = f64(scores, "scores")
    e = u8(eligible, "eligible")
    check_lengths("member", ("scores", "eligible"), (len(s), len(e)))
    k = index(k)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    k = min(k, len(e))
    ranked = []
    for i in range(len(e)):
        if e[i]:
            if s[i] != s[i]:
                raise ValueError(f"scores[{i}] is NaN for an eligible member")
            ranked.append((-s[i], i))
    return array("i", [i for _, i in heapq.nsmallest(k, ranked)])
