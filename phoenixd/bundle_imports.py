"""The daemon's bundle source: verify a .pflight against the trusted keys, turn it into what
the core applies, and keep its archive under the data dir's ``imports/``.

The core (phoenixd.core.imports) knows neither the bundle format nor the disk; this is the
BundleSource the composition root gives it. Refusals, consistently:

- a damaged bundle (any byte that fails verification): InvalidArgument, naming the member;
- an unsigned bundle without ``--allow-unsigned-bundles``, or one whose signature verifies
  under no key of ``--trusted-keys``: FailedPrecondition (the bundle is whole; this daemon's
  settings do not accept it), saying which flag would.

A signed bundle always needs a trusted key, even with ``--allow-unsigned-bundles``: that flag
accepts the absence of a signature, never a signature nobody checked.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phoenixd import bundles, failpoints
from phoenixd.core.bundled import NamedPolicy, import_file
from phoenixd.core.contracts import Contract
from phoenixd.core.dispatch import PacketSpec
from phoenixd.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)
from phoenixd.core.imports import BundleImport
from phoenixd.core.namespaces import DEFAULT_NAMESPACE
from phoenixd.core.packets import Policy, Strategy
from phoenixd.store.fsio import make_private_dir, write_private

__all__ = ["BundleFiles"]

# The PhoenixFile's strategy names; "spread" is binpack's default mode.
_STRATEGIES = {"ring": Strategy.RING, "binpack": Strategy.BINPACK_SPREAD,
               "spread": Strategy.BINPACK_SPREAD, "pack": Strategy.BINPACK_PACK,
               "trust": Strategy.TRUST}


class BundleFiles:
    """Reads bundles under this daemon's trust settings and keeps them in ``data_dir``."""

    def __init__(self, data_dir: Path, trusted_keys: Sequence[Ed25519PublicKey],
                 allow_unsigned: bool,
                 write_refusal: Callable[[], str | None] = lambda: None) -> None:
        """``write_refusal``: the store's answer to "may anything be written now?" (a
        message when the data dir's disk is short of its reserve)."""
        self._data_dir = data_dir
        self._trusted = tuple(trusted_keys)
        self._allow_unsigned = allow_unsigned
        self._write_refusal = write_refusal

    def read(self, archive: bytes) -> BundleImport:
        try:
            bundle = bundles.read_bundle(archive, self._trusted, self._allow_unsigned)
        except bundles.BundleError as exc:
            raise self._refusal(archive, exc) from None
        return _as_import(bundle)

    def _refusal(self, archive: bytes, exc: bundles.BundleError) -> Exception:
        try:  # whole, by every digest, but not accepted under this daemon's keys?
            whole = bundles.read_bundle(archive, None)
        except bundles.BundleError:
            return InvalidArgument(f"bundle refused: {exc}")
        if whole.signature.status == "unsigned":
            return FailedPrecondition(
                f"bundle {whole.name} {whole.version} is unsigned: sign it (phoenix build "
                "--signing-key) with a key phoenixd trusts (--trusted-keys), or start "
                "phoenixd with --allow-unsigned-bundles")
        trusted_ids = {bundles.key_id(key) for key in self._trusted}
        if whole.signature.key_ids and set(whole.signature.key_ids) <= trusted_ids:
            # Signed by a trusted key, and yet it does not verify: the signature is damaged.
            return InvalidArgument(f"bundle refused: {exc}")
        keys = ", ".join(whole.signature.key_ids) or "none"
        trusted = (f"none of the {len(self._trusted)} key(s) of --trusted-keys" if self._trusted
                   else "no key: phoenixd was started without --trusted-keys")
        return FailedPrecondition(
            f"bundle {whole.name} {whole.version} is signed by key {keys}, which phoenixd does "
            f"not trust ({trusted}): add that public key to the --trusted-keys file and "
            "restart phoenixd")

    def keep(self, bundle_id: str, archive: bytes) -> None:
        """Write the archive to imports/ durably: temp file, fsync, rename, fsync the dir.
        A disk that refuses it, or is short of its reserve, refuses the apply (nothing is
        recorded)."""
        if refusal := self._write_refusal():
            raise ResourceExhausted(f"{refusal}; nothing was applied")
        try:
            self._write(self._data_dir / import_file(bundle_id), archive)
        except OSError as exc:
            error = ResourceExhausted if exc.errno == errno.ENOSPC else Unavailable
            raise error(f"cannot keep the bundle under {self._data_dir / 'imports'}: "
                        f"{exc.strerror or exc}; nothing was applied") from None

    @staticmethod
    def _write(final: Path, archive: bytes) -> None:
        make_private_dir(final.parent)
        write_private(final, archive)
        failpoints.hit("bundle.after_keep")


def _as_import(bundle: bundles.Bundle) -> BundleImport:
    policies = tuple(
        NamedPolicy(p.namespace, p.name, Policy(p.minimum_trust_score, p.allowed_regions,
                                                p.pii_review_required, p.label_selector))
        for p in bundle.policies)
    contracts = tuple(
        Contract(c.namespace, c.workload_type, c.state_schema, c.required_capabilities,
                 c.description)
        for c in bundle.contracts)
    return BundleImport(
        bundle.bundle_id, bundle.name, bundle.version, bundle.signature.status,
        # The default namespace always exists: every manifest lists it, nothing creates it.
        bundle.signature.key_ids,
        tuple(n.name for n in bundle.namespaces if n.name != DEFAULT_NAMESPACE), policies,
        contracts, tuple(_spec(bundle, p) for p in bundle.packets))


def _spec(bundle: bundles.Bundle, packet: bundles.Packet) -> PacketSpec:
    """A packet envelope (seed 001's form) as SubmitPacket would carry it, its policy name
    resolved within its namespace (the reader has checked that it exists)."""
    envelope: Mapping[str, Any] = packet.envelope
    named = bundle.policy(packet.namespace, packet.policy) if packet.policy else None
    policy = Policy(named.minimum_trust_score, named.allowed_regions,
                    named.pii_review_required, named.label_selector) if named else Policy()
    checkpoint = envelope.get("context_checkpoint", {})
    cpu, memory = packet.demand
    strategy = envelope.get("strategy")
    return PacketSpec(
        packet_id=packet.packet_id,
        workload_type=packet.workload_type,
        required_capabilities=packet.required_capabilities,
        state=dict(checkpoint.get("state", {})),
        step=str(checkpoint.get("step", "")),
        policy=policy,
        handoff_allowed=bool(envelope.get("handoff", {}).get("allowed", True)),
        lineage_id=str(envelope.get("audit", {}).get("lineage_id", "")),
        demand_cpu=cpu,
        demand_memory=memory,
        routing_key=str(envelope.get("routing_key", "")),
        strategy=_STRATEGIES[strategy] if strategy else None,
        max_attempts=int(envelope.get("max_attempts", 0)),
        namespace=packet.namespace,
    )
