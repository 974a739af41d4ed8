"""Member credentials: issued at registration, checked on every member-side call.

A credential is a random secret given to one incarnation of a member; the registry keeps only
its SHA-256. Registry issues them; the member-side packet writes and the session streams
check them here, over the registry, so that neither needs the other to know who is calling.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from phoenixd.core.errors import FailedPrecondition, Unauthenticated
from phoenixd.core.members import Member, MemberStatus
from phoenixd.core.state import ClusterState
from phoenixd.core.validation import MAX_CREDENTIAL, validate_member_id, validate_text

__all__ = ["Credentials"]


def _random_secret() -> str:
    return secrets.token_urlsafe(32)


def _hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


class Credentials:
    """Issues credentials and says whose a presented one is."""

    def __init__(self, state: ClusterState, *,
                 new_secret: Callable[[], str] = _random_secret) -> None:
        """``new_secret`` makes each credential: random in the daemon; the simulator gives
        one drawn from its seed, so that a run's journal (which holds the hashes) repeats."""
        self._state = state
        self._new_secret = new_secret

    def issue(self) -> tuple[str, str]:
        """A new credential and the hash the member record keeps of it."""
        credential = self._new_secret()
        return credential, _hash(credential)

    @staticmethod
    def matches(member: Member, credential: str) -> bool:
        return hmac.compare_digest(member.credential_hash, _hash(credential))

    def authenticate(self, member_id: str, credential: str, *, failed_ok: bool = False) -> Member:
        """The member whose current credential this is, or an error saying why not.

        ``failed_ok`` lets a FAILED member through, for calls that must then be
        fenced and recorded (a late write from a member declared dead).
        """
        validate_member_id(member_id)
        validate_text(credential, "credential", MAX_CREDENTIAL)
        if not credential:
            raise Unauthenticated(
                "credential is required for member-side calls (RegisterMember returned it)"
            )
        member = self._state.members.get(member_id)
        if member is None or not self.matches(member, credential):
            raise Unauthenticated(
                f"credential does not match the current incarnation of member {member_id!r}"
            )
        if member.status is MemberStatus.RETIRED:
            raise Unauthenticated(f"credential revoked: member {member_id!r} is RETIRED")
        if member.status is MemberStatus.FAILED and not failed_ok:
            raise FailedPrecondition(
                f"member {member_id!r} is FAILED ({member.status_reason}); "
                "register again to rejoin with a new incarnation"
            )
        return member
