"""Pagination (AIP-158): opaque page tokens bound to the query that made them.

Every list and query of every surface pages the same way, so a token from one
surface would resume on another: the token carries the position and a short
fingerprint of the filters; a token replayed with other filters is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from phoenixd.core.errors import InvalidArgument

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Page", "decode_token", "encode_token",
           "page_size"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its items, the token for the next ("" at the end), the total
    number of matches, and the revision the page was taken at."""

    items: list[T]
    next_token: str
    total: int
    revision: int


def _fingerprint(query: Mapping[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode_token(position: str | int, query: Mapping[str, Any]) -> str:
    raw = json.dumps({"p": position, "q": _fingerprint(query)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(
    token: str, query: Mapping[str, Any], kind: type[str] | type[int]
) -> str | int | None:
    """The position a token resumes from (a ``kind``); None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position, fingerprint = raw["p"], raw["q"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: nested JSON
        raise InvalidArgument(
            "page_token is not valid; pass the next_page_token you received"
        ) from None
    if fingerprint != _fingerprint(query):
        raise InvalidArgument(
            "page_token belongs to a query with other filters; repeat the same filters or "
            "start again without a page_token"
        )
    if isinstance(position, str) and kind is str:
        return position
    if type(position) is int and kind is int and position >= 0:
        return position
    raise InvalidArgument("page_token is not valid; pass the next_page_token you received")


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument(f"page_size must be >= 0, got {requested}")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
