"""The real `phoenix keygen`, `build` and `bundle inspect|verify` commands, offline: a build
is the same bytes from any working directory and file mtime, and verify refuses a changed
member, an untrusted key and an unsigned bundle, naming what is wrong."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from phoenixd.bundles.archive import pack, unpack
from tests.api.cli import CLI, CLOSED
from tests.bundles.conftest import EXAMPLE

BUNDLE = "acme.customer-validation-app-0.1.0.pflight"
EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}


def run(cwd: Path, *args: str, expect: int = 0, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PHOENIX_ENDPOINT": CLOSED, **(env or {})})
    assert result.returncode == expect, result.stdout + result.stderr
    return result


def test_keygen_writes_a_private_key_0600_and_never_overwrites(tmp_path: Path) -> None:
    out = run(tmp_path, "keygen", "keys/release").stdout
    private, public = tmp_path / "keys/release.key", tmp_path / "keys/release.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    before = private.read_bytes()
    err = run(tmp_path, "keygen", "keys/release", expect=1).stderr
    assert err == ("phoenix: keys/release.key exists: move it away, or choose another name "
                   "(a key is never overwritten)\n")
    assert private.read_bytes() == before
    assert out.splitlines()[1].startswith("key id ") and len(out.splitlines()[1]) == 7 + 64


def test_two_builds_from_other_directories_and_mtimes_are_the_same_bytes(tmp_path: Path
                                                                          ) -> None:
    run(tmp_path, "keygen", "signing")
    digests, ids = [], []
    for n, mtime in ((1, 1_000_000_000), (2, 1_700_000_000)):
        source = tmp_path / f"checkout-{n}" / "app"
        source.mkdir(parents=True)
        shutil.copy(EXAMPLE, source / "PhoenixFile")
        os.utime(source / "PhoenixFile", (mtime, mtime))
        workdir = tmp_path / f"checkout-{n}"
        out = run(workdir, "build", "-f", "app/PhoenixFile", "--signing-key",
                  str(tmp_path / "signing.key"), env=EPOCH).stdout
        data = (workdir / "dist" / BUNDLE).read_bytes()
        digests.append(hashlib.sha256(data).hexdigest())
        ids.append(next(line for line in out.splitlines() if line.startswith("bundle id")))
    assert digests[0] == digests[1] and ids[0] == ids[1]


def test_build_inspect_verify(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(EXAMPLE.parent.parent)
    run(tmp_path, "keygen")
    built = run(tmp_path, "build", "-f", "examples/customer-validation/PhoenixFile",
                "--signing-key", "signing.key")
    assert built.stdout.startswith(f"built dist/{BUNDLE}\n")
    assert built.stderr.startswith("warning: examples/customer-validation/PhoenixFile:")
    bundle = f"dist/{BUNDLE}"
    shown = json.loads(run(tmp_path, "bundle", "inspect", bundle, "-o", "json").stdout)
    assert shown["signature"]["status"] == "unchecked"
    assert shown["manifest"]["name"] == "acme.customer-validation-app"
    assert shown["report"]["warnings"] == 1
    assert "verified: signed by trusted key" in run(
        tmp_path, "bundle", "inspect", bundle, "--trusted-keys", "signing.pub").stdout
    out = run(tmp_path, "bundle", "verify", bundle, "--trusted-keys", "signing.pub").stdout
    assert out.startswith(f"{bundle}: verified acme.customer-validation-app 0.1.0 (sha256:")

    run(tmp_path, "keygen", "other")
    err = run(tmp_path, "bundle", "verify", bundle, "--trusted-keys", "other.pub",
              expect=1).stderr
    assert "attestations/provenance.dsse.json: signed by key" in err
    assert "not among the 1 trusted key(s)" in err

    keys = tmp_path / "keys"
    keys.mkdir()
    shutil.copy(tmp_path / "signing.pub", keys / "a.pub")
    shutil.copy(tmp_path / "other.pub", keys / "b.pub")
    run(tmp_path, "bundle", "verify", bundle, "--trusted-keys", "keys")


def test_verify_names_a_changed_member_and_refuses_unsigned(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(EXAMPLE.parent.parent)
    run(tmp_path, "keygen")
    run(tmp_path, "build", "-f", "examples/customer-validation/PhoenixFile", "--signing-key",
        "signing.key")
    path = tmp_path / "dist" / BUNDLE
    members, mtime = unpack(path.read_bytes())
    name = "files/policies/customer-care/pii-us-east.json"
    members[name] = members[name].replace(b'"minimum_trust_score":0.9',
                                          b'"minimum_trust_score":0.1')
    (tmp_path / "changed.pflight").write_bytes(pack(members, mtime))
    err = run(tmp_path, "bundle", "verify", "changed.pflight", "--trusted-keys", "signing.pub",
              expect=1).stderr
    assert err.startswith(f"phoenix: changed.pflight: {name}: sha256 ")
    run(tmp_path, "bundle", "inspect", "changed.pflight", expect=1)

    run(tmp_path, "build", "-f", "examples/customer-validation/PhoenixFile", "--out-dir", "u")
    unsigned = f"u/{BUNDLE}"
    assert "missing: the bundle is unsigned" in run(
        tmp_path, "bundle", "verify", unsigned, "--trusted-keys", "signing.pub",
        expect=1).stderr
    out = run(tmp_path, "bundle", "verify", unsigned, "--trusted-keys", "signing.pub",
              "--allow-unsigned").stdout
    assert out.splitlines()[1] == "signature: unsigned"
    assert "signature:    unsigned" in run(tmp_path, "bundle", "inspect", unsigned).stdout


def test_a_phoenixfile_with_errors_builds_nothing(tmp_path: Path) -> None:
    (tmp_path / "PhoenixFile").write_text(
        "apiVersion: phoenixflight/v1\nbundle: {name: acme.x, version: 1.0.0}\n"
        "namespaces: [{name: billing}]\n"
        "packets:\n  - {packet_id: fp-1, namespace: billing, policy: strict}\n")
    err = run(tmp_path, "build", expect=1).stderr
    assert err == ('phoenix: PhoenixFile:5: packets[0].policy: no policy "strict" in '
                   'namespace "billing" (it has no policies)\n')
    assert not (tmp_path / "dist").exists()
    err = run(tmp_path, "build", env={"SOURCE_DATE_EPOCH": "yesterday"}, expect=2).stderr
    assert "SOURCE_DATE_EPOCH='yesterday' is not a number" in err
