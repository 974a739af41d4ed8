"""Kubernetes-style label selectors: ``region=us-east,tier!=batch,gpu,!spot,env in (a,b)``.

A selector arrives in requests (ListMembers, a packet's policy), so it is read in one
forward pass: a tokenizer looks at each character once, and the terms are read from
the tokens without going back. Work grows linearly with the text, and the text is
capped (MAX_SELECTOR_LENGTH) before any of it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from phoenixd.core.errors import InvalidArgument

__all__ = ["MAX_SELECTOR_LENGTH", "Selector", "Token", "TokenKind", "parse_selector", "tokenize"]

# Every selector a request carries is refused past this many characters, before it is
# parsed. A selector names a few labels of at most 63-character keys and values; 1,024
# characters hold a dozen terms. SubmitPacket's policy journals it, so it stays small.
MAX_SELECTOR_LENGTH = 1024

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_KEY_CHARS = _ALNUM | frozenset("_./-")
_VALUE_CHARS = _ALNUM | frozenset("_.-")
_PUNCTUATION = frozenset("=!(),")

Requirement = Callable[[Mapping[str, str]], bool]


class TokenKind(Enum):
    SPACE = "space"  # a run of whitespace
    WORD = "word"  # a run of key characters: letters, digits, '_', '.', '/', '-'
    OP = "op"  # '==', '!=', '=', '!', '(', ')', ','
    OTHER = "other"  # any other single character (only set values may hold it)


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, in order; together they cover it exactly, each character once."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch, j = text[i], i + 1
        if ch.isspace():
            kind = TokenKind.SPACE
            while j < n and text[j].isspace():
                j += 1
        elif ch in _KEY_CHARS:
            kind = TokenKind.WORD
            while j < n and text[j] in _KEY_CHARS:
                j += 1
        elif ch in _PUNCTUATION:
            kind = TokenKind.OP
            if ch in "=!" and j < n and text[j] == "=":
                j += 1
        else:
            kind = TokenKind.OTHER
        tokens.append(Token(kind, text[i:j], i, j))
        i = j
    return tokens


@dataclass(frozen=True)
class Selector:
    """A parsed selector: every requirement must hold (a logical AND)."""

    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(req(labels) for req in self.requirements)


def _terms(tokens: list[Token]) -> list[tuple[int, int]]:
    """Token ranges of the terms: split on commas outside parentheses, spaces trimmed.

    Parentheses are counted over the whole selector (a stray ')' goes below zero), as
    the comma rule has always been: a comma splits only where the count is zero.
    """
    ranges, depth, start = [], 0, 0
    for i, token in enumerate(tokens):
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif token.text == "," and depth == 0:
            ranges.append((start, i))
            start = i + 1
    ranges.append((start, len(tokens)))
    trimmed = []
    for lo, hi in ranges:
        while lo < hi and tokens[lo].kind is TokenKind.SPACE:
            lo += 1
        while hi > lo and tokens[hi - 1].kind is TokenKind.SPACE:
            hi -= 1
        trimmed.append((lo, hi))
    return trimmed


def _is_key(token: Token) -> bool:
    return token.kind is TokenKind.WORD and token.text[0] in _ALNUM


def _is_value(token: Token) -> bool:
    return token.kind is TokenKind.WORD and all(ch in _VALUE_CHARS for ch in token.text)


def _not_understood(term: str) -> InvalidArgument:
    return InvalidArgument(
        f"label selector term {term!r} is not understood; use key=value, key!=value, key, "
        "!key, 'key in (a,b)' or 'key notin (a,b)', separated by commas"
    )


def _set_requirement(key: str, op: str, inner: str, term: str) -> Requirement:
    values = frozenset(v.strip() for v in inner.split(",") if v.strip())
    if not values:
        raise InvalidArgument(f"label selector term {term!r} needs at least one value")
    if op == "in":
        return lambda labels: labels.get(key) in values
    return lambda labels: labels.get(key) not in values


def _requirement(text: str, t: list[Token]) -> Requirement:
    """One term, from its tokens ``t`` (no leading or trailing space, at least one token)."""
    term = text[t[0].start:t[-1].end]
    at = 0 if t[0].text != "!" else 1  # '!key' and '! key'
    if at and at < len(t) and t[at].kind is TokenKind.SPACE:
        at += 1
    if at >= len(t) or not _is_key(t[at]):
        raise _not_understood(term)
    key = t[at].text
    rest = t[at + 1:]
    if not rest:
        if at:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    if at:
        raise _not_understood(term)
    spaced = rest[0].kind is TokenKind.SPACE
    if spaced:
        rest = rest[1:]
    op = rest[0].text
    if op in ("=", "==", "!="):  # key=value: spaces around the operator, the value may be empty
        tail = rest[1:]
        if tail and tail[0].kind is TokenKind.SPACE:
            tail = tail[1:]
        if len(tail) > 1 or (tail and not _is_value(tail[0])):
            raise _not_understood(term)
        value = tail[0].text if tail else ""
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    # key in (a,b): at least one space each side of 'in', then '(' ... ')' closing the term,
    # the first ')' after '(' being the last character.
    if (
        spaced and op in ("in", "notin") and len(rest) >= 4 and rest[1].kind is TokenKind.SPACE
        and rest[2].text == "(" and rest[-1].text == ")"
    ):
        inner = rest[3:-1]
        if all(tok.text != ")" for tok in inner):
            return _set_requirement(key, op, text[rest[2].end:rest[-1].start], term)
    raise _not_understood(term)


def parse_selector(
    text: str, what: str = "label_selector", *, limit: int | None = MAX_SELECTOR_LENGTH
) -> Selector:
    """Parse a selector; the empty string selects everything.

    Args:
        text: the selector as the request carried it.
        what: the request field, named in the error for a selector over the limit.
        limit: the longest selector accepted, checked before anything is parsed; None
            parses any length (the work stays linear in it).
    """
    if limit is not None and len(text) > limit:
        raise InvalidArgument(
            f"{what} is {len(text)} characters long; at most {limit} are accepted "
            "(a selector names a few labels: shorten it or split the query)"
        )
    text = text.strip()
    if not text:
        return Selector("", ())
    tokens = tokenize(text)
    ranges = _terms(tokens)
    if any(lo == hi for lo, hi in ranges):
        raise InvalidArgument(f"label selector {text!r} has an empty term")
    return Selector(text, tuple(_requirement(text, tokens[lo:hi]) for lo, hi in ranges))
