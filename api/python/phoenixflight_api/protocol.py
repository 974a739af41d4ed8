"""The wire-level rules of PhoenixFlight that both sides compute: the canonical JSON
behind ``state_hash``, the bytes a handoff token signs, and what a valid id is.

Pure Python with no grpc, so the daemon's core can use this one implementation
and a member can rebuild both byte for byte (in any language: the rules are
RFC 8785 and a few plain lines).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = [
    "TOKEN_DOMAIN", "canonical_bytes", "canonical_json", "id_problem", "state_hash",
    "token_signed_bytes",
]

TOKEN_DOMAIN = "phoenixflight-handoff-v1"
# Member and packet ids are DNS labels (RFC 1123), so that they fit in URLs, file names and
# label values unchanged.
_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def id_problem(value: str, what: str = "id") -> str:
    """What is wrong with ``value`` as a member or packet id ("" when it is valid): a client
    can refuse a bad id before any call with the very message the daemon would give."""
    if not value:
        return f"{what} is required"
    if not _ID.fullmatch(value):
        return (f"{what} {value!r} is not a valid id: use 1-63 lowercase letters, digits "
                "and '-', starting and ending with a letter or digit")
    return ""


def _number(value: float) -> str:
    """A double as ECMAScript's Number::toString prints it (RFC 8785, section 3.2.2.3).

    Python's repr finds the same shortest round-tripping digits; only the layout
    differs, so the digits and exponent are taken from it and laid out the
    ECMAScript way (plain up to 21 integer digits and down to 1e-6, else exponent).
    """
    if not math.isfinite(value):
        raise ValueError("a NaN or infinite number has no JSON form")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(value))).as_tuple()[1:]
    digits = "".join(map(str, digits_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    exponent += len("".join(map(str, digits_tuple))) - len(digits)  # trailing zeros removed
    k = len(digits)
    n = exponent + k  # value = 0.digits x 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def canonical_json(value: Any) -> str:
    """RFC 8785 canonical JSON: keys sorted by UTF-16 code units, no spaces,
    ECMAScript numbers. Raises ValueError for what JSON cannot hold.
    """
    if isinstance(value, Mapping):
        # RFC 8785 orders keys by UTF-16 code units, which UTF-16-BE bytes compare as.
        items = sorted(value.items(), key=lambda kv: _utf16(str(kv[0])))
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{canonical_json(v)}"
                              for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        try:
            return _number(float(value))
        except OverflowError:
            raise ValueError("a number too large for JSON") from None
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise ValueError(f"a {type(value).__name__} is not JSON data")


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise ValueError("text that is not valid Unicode") from None


def canonical_bytes(state: Mapping[str, Any]) -> bytes:
    return _utf8(canonical_json(state))


def state_hash(state: Mapping[str, Any]) -> str:
    """The seed's ``sha256:...`` over the state's canonical bytes."""
    return "sha256:" + hashlib.sha256(_utf8(canonical_json(state))).hexdigest()


def token_signed_bytes(
    packet_id: str, epoch: int, from_member: str, to_member: str, state_hash: str,
    issued_at: str,
) -> bytes:
    """What a handoff token's Ed25519 signature covers: these lines, joined by newlines."""
    return "\n".join(
        (TOKEN_DOMAIN, packet_id, str(epoch), from_member, to_member, state_hash, issued_at)
    ).encode()
