"""Which namespaces a call is about: what a list, watch or query is limited to."""

from __future__ import annotations

__all__ = ["readable"]


def readable(namespace: str) -> list[str]:
    """The namespaces a read names: the one asked for, or every namespace (an empty list)
    when the request names none."""
    return [namespace] if namespace else []
