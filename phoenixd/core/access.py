"""Who is calling, and which namespaces they may act in.

An operator calls with a token. The cluster admin's token (``--auth-token-file``, or any call
while operator auth is off) acts in every namespace and alone manages namespaces and the
chain; a scoped token (``--auth-tokens``) reads and changes only what its namespaces hold. A
member acts with its own credential, on its own packets, which placement keeps in its own
namespace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ADMIN", "Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated operator: ``namespaces`` is None for the cluster admin."""

    name: str
    namespaces: frozenset[str] | None = None

    @classmethod
    def scoped(cls, name: str, namespaces: Iterable[str]) -> Caller:
        chosen = frozenset(namespaces)
        if not chosen:
            raise ValueError(f"token {name!r} names no namespace")
        return cls(name, chosen)

    @property
    def admin(self) -> bool:
        return self.namespaces is None

    def may(self, namespace: str) -> bool:
        return self.namespaces is None or namespace in self.namespaces

    @property
    def actor(self) -> str:
        """How the Flight Recorder names this caller."""
        return f"token:{self.name}"

    def scope(self) -> str:
        """What the caller may act in, for a refusal's message."""
        if self.namespaces is None:
            return "every namespace"
        names = ", ".join(repr(n) for n in sorted(self.namespaces))
        return f"namespace {names}" if len(self.namespaces) == 1 else f"namespaces {names}"


ADMIN = Caller("admin")
