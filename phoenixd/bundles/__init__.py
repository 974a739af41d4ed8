"""PhoenixFile and .pflight bundles: build, sign, verify and read them, offline and pure."""

from phoenixd.bundles.archive import ArchiveError
from phoenixd.bundles.build import (
    Built,
    build_bundle,
    resolve_dependencies,
    source_date_epoch,
    write_bundle,
)
from phoenixd.bundles.model import DEFAULT_NAMESPACE, Agent, Contract, Namespace, Packet, Policy
from phoenixd.bundles.phoenixfile import (
    PhoenixFile,
    PhoenixFileError,
    load_phoenixfile,
    parse_phoenixfile,
)
from phoenixd.bundles.reader import Bundle, BundleError, Signature, open_bundle, read_bundle
from phoenixd.bundles.report import Finding, Report
from phoenixd.bundles.signing import (
    KeyFileError,
    generate_keys,
    key_id,
    load_private_key,
    load_trusted_keys,
)

__all__ = [
    "DEFAULT_NAMESPACE", "Agent", "ArchiveError", "Built", "Bundle", "BundleError", "Contract",
    "Finding", "KeyFileError", "Namespace", "Packet", "PhoenixFile", "PhoenixFileError",
    "Policy", "Report", "Signature", "build_bundle", "generate_keys", "key_id",
    "load_phoenixfile", "load_private_key", "load_trusted_keys", "open_bundle",
    "parse_phoenixfile", "read_bundle", "resolve_dependencies", "source_date_epoch",
    "write_bundle",
]
