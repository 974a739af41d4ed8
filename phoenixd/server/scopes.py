"""Which namespaces a call is about: what a list, watch or query is limited to."""

from __future__ import annotations

from phoenixd.server.authz import current_caller

__all__ = ["readable"]


def readable(namespace: str) -> list[str]:
    """The namespaces a read names: the one asked for, or, when the request names none, every
    namespace the caller may read (an empty list: every namespace there is, for the admin).

    A named namespace the caller may not read never gets here: its rule refused the call.
    """
    if namespace:
        return [namespace]
    scope = current_caller().namespaces
    return [] if scope is None else sorted(scope)
