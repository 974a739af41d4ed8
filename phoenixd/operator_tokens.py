"""Operator tokens scoped to namespaces: the ``--auth-tokens`` file and how a token is made.

The file is TOML, one ``[[token]]`` table per token; it holds no token, only its SHA-256, so it
can be read by whoever deploys the daemon without handing out what it guards::

    [[token]]
    name = "billing-ci"
    sha256 = "9f86d08..."
    namespaces = ["billing"]        # or ["*"]: every namespace, as the cluster admin

``phoenix token new`` appends a table and prints the token once. The daemon reads the file at
start; a token is found by the SHA-256 of what the caller sends.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from phoenixd.core.access import ADMIN, Caller
from phoenixd.store.fsio import shared_mode
from phoenixflight_api import protocol

__all__ = ["EVERY_NAMESPACE", "TokenFileError", "add", "digest", "load", "new_token", "parse",
           "stanza"]

EVERY_NAMESPACE = "*"


class TokenFileError(ValueError):
    """A tokens file that cannot be used; the message names the file and the entry."""


def digest(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


def new_token() -> str:
    """A fresh bearer token: 256 random bits, URL-safe."""
    return "pft_" + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    sha256: str
    namespaces: tuple[str, ...]

    def caller(self) -> Caller:
        if EVERY_NAMESPACE in self.namespaces:
            return Caller(self.name)
        return Caller.scoped(self.name, self.namespaces)


def parse(text: str, source: str) -> dict[str, Caller]:
    """The callers of a tokens file, by the SHA-256 (hex) of their token."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TokenFileError(f"{source}: not TOML: {exc}") from exc
    unknown = sorted(set(raw) - {"token"})
    if unknown:
        raise TokenFileError(f"{source}: unknown key {unknown[0]!r}; the file holds "
                             "[[token]] tables only")
    tables = raw.get("token", [])
    if not isinstance(tables, list):
        raise TokenFileError(f"{source}: 'token' must be an array of tables ([[token]])")
    found: dict[str, Caller] = {}
    names: set[str] = set()
    for index, table in enumerate(tables):
        entry = _entry(table, f"{source}: token[{index}]")
        if entry.name in names:
            raise TokenFileError(f"{source}: token[{index}]: name {entry.name!r} is used twice")
        if entry.sha256 in found:
            raise TokenFileError(f"{source}: token[{index}] ({entry.name}): the same token as "
                                 f"{found[entry.sha256].name!r}")
        names.add(entry.name)
        found[entry.sha256] = entry.caller()
    return found


def _entry(table: object, where: str) -> _Entry:
    if not isinstance(table, Mapping):
        raise TokenFileError(f"{where}: must be a table")
    unknown = sorted(set(table) - {"name", "sha256", "namespaces"})
    if unknown:
        raise TokenFileError(f"{where}: unknown key {unknown[0]!r} (name, sha256, namespaces)")
    name, sha256, namespaces = table.get("name"), table.get("sha256"), table.get("namespaces")
    if not isinstance(name, str):
        raise TokenFileError(f"{where}: name is missing")
    _check_name(name, where)
    if (not isinstance(sha256, str) or len(sha256) != 64
            or any(c not in "0123456789abcdef" for c in sha256)):
        raise TokenFileError(f"{where} ({name}): sha256 must be 64 lowercase hex digits, the "
                             "SHA-256 of the token")
    if (not isinstance(namespaces, list) or not namespaces
            or not all(isinstance(n, str) for n in namespaces)):
        raise TokenFileError(f"{where} ({name}): namespaces must be a non-empty list of "
                             f"namespace names, or [{EVERY_NAMESPACE!r}] for every namespace")
    if EVERY_NAMESPACE in namespaces and len(namespaces) > 1:
        raise TokenFileError(f"{where} ({name}): {EVERY_NAMESPACE!r} (every namespace) stands "
                             "alone: give it, or namespace names, not both")
    for namespace in namespaces:
        if namespace != EVERY_NAMESPACE and (problem := protocol.id_problem(namespace,
                                                                            "namespace")):
            raise TokenFileError(f"{where} ({name}): {problem}")
    return _Entry(name, sha256, tuple(namespaces))


# The name refusals and the Flight Recorder give the --auth-token-file token.
RESERVED_NAMES = frozenset({ADMIN.name})


def _check_name(name: str, where: str) -> None:
    if problem := protocol.id_problem(name, "name"):
        raise TokenFileError(f"{where}: {problem}")
    if name in RESERVED_NAMES:
        raise TokenFileError(f"{where}: the name {name!r} is the --auth-token-file token's; "
                             "choose another")


def stanza(name: str, token: str, namespaces: list[str]) -> str:
    """The ``[[token]]`` table for ``token`` (checked the way the daemon reads it)."""
    _check_name(name, "the token's name")  # before it is quoted into TOML
    quoted = ", ".join(f'"{n}"' for n in namespaces)
    text = (f'[[token]]\nname = "{name}"\nsha256 = "{digest(token.encode())}"\n'
            f"namespaces = [{quoted}]\n")
    parse(text, "the new token")  # names and namespaces are plain DNS labels: nothing to escape
    return text


def _private(path: Path, flag: str) -> None:
    if (mode := shared_mode(path)) is not None:
        raise TokenFileError(
            f"{flag}{path} has mode {mode:o}: other users can change who may act in which "
            f"namespace. Make it private (chmod 600 {path}) and start again")


def load(path: Path) -> dict[str, Caller]:
    """The callers of the tokens file at ``path``, which only its owner may read or change."""
    _private(path, "--auth-tokens ")
    return parse(path.read_text(), str(path))


def add(path: Path, name: str, namespaces: list[str]) -> str:
    """Make a token named ``name`` for ``namespaces``, append it to the tokens file at
    ``path`` (made with mode 0600), and return it: the file keeps only its digest."""
    existing = path.read_text() if path.exists() else ""
    if path.exists():
        _private(path, "")
    known = parse(existing, str(path))
    if any(caller.name == name for caller in known.values()):
        raise TokenFileError(f"{path} already has a token named {name!r}: choose another name "
                             "(or remove that entry first)")
    token = new_token()
    text = stanza(name, token, namespaces)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        f.write(("\n" if existing and not existing.endswith("\n\n") else "") + text)
        f.flush()
        os.fsync(f.fileno())
    return token
