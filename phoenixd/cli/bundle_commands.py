"""``phoenix keygen``, ``phoenix build`` and ``phoenix bundle inspect|verify``: PhoenixFiles
and .pflight bundles, offline (these commands never open a connection).

Exit codes as elsewhere: 0 done; 1 the input was refused (a PhoenixFile with errors, a
bundle that fails verification: one line per problem on stderr, naming the file, line and
field or the member); 2 the command line is wrong or a file cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phoenixd import bundles
from phoenixd.cli.output import Printer

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]
EXIT_REFUSED = 1


def _refused(lines: str) -> int:
    for line in lines.splitlines():
        print(f"phoenix: {line}", file=sys.stderr)
    return EXIT_REFUSED


def keygen(_client: None, a: argparse.Namespace) -> int:
    private, public = Path(f"{a.name}.key"), Path(f"{a.name}.pub")
    if private.parent != Path("."):
        private.parent.mkdir(parents=True, exist_ok=True)
    try:
        key = bundles.generate_keys(private, public)
    except bundles.KeyFileError as exc:
        return _refused(str(exc))
    print(f"wrote {private} (private, mode 0600) and {public}")
    print(f"key id {bundles.key_id(key.public_key())}")
    return 0


def _pairs(printer: Printer, pairs: list[tuple[str, str]]) -> None:
    """``key: value`` lines, values aligned (Printer.details without its leading blank)."""
    width = max(len(key) for key, _ in pairs) + 2
    for key, value in pairs:
        printer.write(f"{key + ':':<{width}}{value}")


def _plural(count: int, word: str, many: str = "") -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def build(_client: None, a: argparse.Namespace) -> int:
    epoch = bundles.source_date_epoch(os.environ)
    try:
        key = bundles.load_private_key(Path(a.signing_key)) if a.signing_key else None
        source = bundles.load_phoenixfile(Path(a.file))
        built = bundles.build_bundle(source, epoch=epoch, key=key,
                                     dependencies=bundles.resolve_dependencies(source))
    except (bundles.PhoenixFileError, bundles.KeyFileError) as exc:
        return _refused(str(exc))
    path = bundles.write_bundle(built, Path(a.out_dir))
    for finding in built.report.warnings:
        print(f"warning: {source.where(finding.file, finding.field)}: {finding.message}",
              file=sys.stderr)
    counts = [_plural(len(source.agents), "agent"), _plural(len(source.policies), "policy",
              "policies"), _plural(len(source.contracts), "contract"),
              _plural(len(source.packets), "packet")]
    namespaces = sum(1 for ns in built.manifest["namespaces"]
                     if any(ns[k] for k in ("agents", "policies", "packets", "contracts")))
    validation = built.manifest["validation"]
    a.printer.write(f"built {path}")
    _pairs(a.printer, [
        ("bundle id", built.bundle_id),
        ("sha256", hashlib.sha256(built.data).hexdigest()),
        ("holds", f"{', '.join(counts)} in {_plural(namespaces, 'namespace')}"),
        ("report", f"{_plural(validation['errors'], 'error')}, "
                   f"{_plural(validation['warnings'], 'warning')}"),
        ("signed", f"by key {built.key_id}" if built.key_id
         else "no (phoenix build --signing-key KEY signs it)"),
    ])
    return 0


def _trusted(a: argparse.Namespace) -> list[Any] | None:
    return bundles.load_trusted_keys(Path(a.trusted_keys)) if a.trusted_keys else None


def _signature_line(bundle: bundles.Bundle) -> str:
    sig = bundle.signature
    keys = ", ".join(sig.key_ids)
    if sig.status == "verified":
        return f"verified: signed by trusted key {keys}"
    if sig.status == "unchecked":
        return f"signed by key {keys} (not checked: give --trusted-keys FILE)"
    return "unsigned"


def inspect(_client: None, a: argparse.Namespace) -> int:
    try:
        bundle = bundles.open_bundle(Path(a.bundle), _trusted(a), allow_unsigned=True)
    except bundles.BundleError as exc:
        return _refused(f"{a.bundle}: {exc}")
    printer: Printer = a.printer
    if not printer.human:
        printer.data({"bundle_id": bundle.bundle_id, "sha256": bundle.archive_sha256,
                      "signature": {"status": bundle.signature.status,
                                    "key_ids": list(bundle.signature.key_ids)},
                      "manifest": bundle.manifest, "report": bundle.report})
        return 0
    m = bundle.manifest
    source = m["source"]["phoenixfile"]
    _pairs(printer, [
        ("bundle", f"{bundle.name} {bundle.version}"),
        ("bundle id", bundle.bundle_id),
        ("sha256", bundle.archive_sha256),
        ("created", f"{m['created']} by {m['builder']['tool']} {m['builder']['version']}"),
        ("source", f"{source['path']} sha256:{source['sha256']}"),
        ("signature", _signature_line(bundle)),
        ("dependencies", ", ".join(f"{d['ref']} sha256:{d['sha256']}"
                                   for d in m["dependencies"]) or "none"),
        *((key.removeprefix("org.opencontainers.image."), value)
          for key, value in m["annotations"].items()),
    ])
    printer.write("")
    printer.table(["NAMESPACE", "AGENTS", "POLICIES", "CONTRACTS", "PACKETS"], [
        [ns["name"], len(ns["agents"]), len(ns["policies"]), len(ns["contracts"]),
         len(ns["packets"])] for ns in m["namespaces"]])
    printer.write("")
    printer.table(["FILE", "KIND", "SIZE", "SHA256"], [
        [f["path"], f["kind"], f["size"], f["sha256"][:16]] for f in m["files"]])
    printer.write(f"(every digest verified: {len(m['files'])} files, the report"
                  f"{', the attestation' if bundle.signature.status != 'unsigned' else ''})")
    report = bundle.report
    printer.write("")
    printer.write(f"validation: {_plural(report['errors'], 'error')}, "
                  f"{_plural(report['warnings'], 'warning')} (rules version "
                  f"{report['rules_version']})")
    for placement in report["packets"]:
        eligible = ", ".join(placement.get("eligible_agents", [])) or "none"
        printer.write(f"  packet {placement['namespace']}/{placement['packet_id']}: "
                      f"policy {placement['policy'] or '-'}, contract "
                      f"{placement['contract'] or '-'}, eligible: {eligible}")
    for finding in report["findings"]:
        printer.write(f"  {finding['severity']}: {finding['file']}: {finding['field']}: "
                      f"{finding['message']}")
    return 0


def verify(_client: None, a: argparse.Namespace) -> int:
    trusted = _trusted(a)
    assert trusted is not None  # --trusted-keys is required
    try:
        bundle = bundles.open_bundle(Path(a.bundle), trusted, allow_unsigned=a.allow_unsigned)
    except bundles.BundleError as exc:
        return _refused(f"{a.bundle}: {exc}")
    files = len(bundle.manifest["files"])
    a.printer.write(f"{a.bundle}: verified {bundle.name} {bundle.version} "
                    f"({bundle.bundle_id}, {_plural(files, 'file')})")
    a.printer.write(f"signature: {_signature_line(bundle)}")
    return 0


def add_commands(commands: argparse._SubParsersAction, leaf: Adder  # type: ignore[type-arg]
                 ) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """Add ``keygen``, ``build`` and ``bundle`` to the phoenix command; returns ``bundle``'s
    commands (the daemon's bundle commands join them: apply_commands.py)."""
    p = leaf(commands, "keygen", keygen, "make an Ed25519 key pair to sign bundles with",
             description="Write NAME.key (the private key, PKCS#8 PEM, mode 0600) and "
             "NAME.pub (the public key, PEM: give it to `bundle verify --trusted-keys`), "
             "and print the key id (sha256 of the raw public key). Refuses to overwrite "
             "either file.",
             examples=["phoenix keygen", "phoenix keygen keys/release"], local=True)
    p.add_argument("name", nargs="?", default="signing",
                   help="path of the key files, without .key/.pub (default: signing)")
    p = leaf(commands, "build", build, "build a .pflight bundle from a PhoenixFile",
             description="Check a PhoenixFile (schema, references within each namespace, "
             "each packet's state against its contract, which agents could own each "
             "packet) and write OUT_DIR/NAME-VERSION.pflight: a reproducible archive whose "
             "manifest lists every file by sha256, with the validation report and, with "
             "--signing-key, a DSSE-signed in-toto provenance attestation. Times come from "
             "SOURCE_DATE_EPOCH (default 0), so building again gives the same bytes. "
             "Errors name the file, line and field, and write nothing.",
             examples=["phoenix build -f examples/customer-validation/PhoenixFile",
                       "phoenix build -f PhoenixFile --signing-key signing.key",
                       "SOURCE_DATE_EPOCH=1767225600 phoenix build --out-dir out"],
             local=True)
    p.add_argument("-f", "--file", default="PhoenixFile", metavar="FILE",
                   help="the PhoenixFile (default: ./PhoenixFile)")
    p.add_argument("--out-dir", default="dist", metavar="DIR",
                   help="where the bundle is written (default: dist)")
    p.add_argument("--signing-key", metavar="FILE",
                   help="sign with this Ed25519 private key (phoenix keygen makes one)")
    bundle = commands.add_parser(
        "bundle", help="inspect and verify .pflight bundles (offline); list applied ones",
        description="Inspect and verify .pflight bundles built by `phoenix build` "
        "(offline), and list those applied to phoenixd (phoenix apply).")
    sub: argparse._SubParsersAction = bundle.add_subparsers(  # type: ignore[type-arg]
        dest="bundle_command", required=True, metavar="COMMAND")
    p = leaf(sub, "inspect", inspect, "show a bundle's manifest, report and signature",
             description="Verify every digest of a bundle and print its manifest, its "
             "namespace validation report and its signature status (checked against "
             "--trusted-keys when given). -o json or yaml prints the manifest and the "
             "report whole. Exits 1, naming the member, when any byte was changed.",
             examples=["phoenix bundle inspect dist/acme.customer-validation-app-0.1.0.pflight",
                       "phoenix bundle inspect app.pflight -o json",
                       "phoenix bundle inspect app.pflight --trusted-keys signing.pub"],
             local=True)
    _bundle_arguments(p, required=False)
    p = leaf(sub, "verify", verify, "verify a bundle against trusted keys",
             description="Exit 0 only when the bundle is whole (every member listed, every "
             "digest right, the report recomputed the same) and signed by a trusted key. "
             "Otherwise exit 1 with the member or field at fault: a changed byte, a missing "
             "or extra file, a bad signature, an untrusted key, or no signature (unless "
             "--allow-unsigned). Trusted keys: a file of one or more PEM public keys, or a "
             "directory of *.pub / *.pem files.",
             examples=["phoenix bundle verify app.pflight --trusted-keys signing.pub",
                       "phoenix bundle verify app.pflight --trusted-keys keys/",
                       "phoenix bundle verify app.pflight --trusted-keys k.pub --allow-unsigned"],
             local=True)
    _bundle_arguments(p, required=True)
    p.add_argument("--allow-unsigned", action="store_true",
                   help="accept a bundle that carries no signature")
    return sub


def _bundle_arguments(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("bundle", metavar="FILE", help="a .pflight file")
    p.add_argument("--trusted-keys", required=required, metavar="PATH",
                   help="PEM public key(s): a file, or a directory of *.pub / *.pem")
