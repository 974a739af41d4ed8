"""Operator tokens scoped to namespaces, end to end: ``phoenix token new`` writes the tokens
file, a real phoenixd started with ``--auth-tokens`` takes the tokens it printed, and a token
acts in its own namespace only; a tokens file others can read, or one with a mistake, keeps
the daemon from starting, saying which file and entry."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import grpc
import pytest

from phoenixd.core.application.access import RECORD_BURST, RECORD_RATE
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import namespace_service_pb2 as npb
from tests.api.cli import js, phoenix
from tests.api.test_api_permissions import start_exit_code
from tests.daemon import PhoenixProcess, operator_token_args

ADMIN = "tokens-test-admin"


def test_token_new_writes_a_private_file_without_the_token(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    made = phoenix(None, "token", "new", "billing-ci", "--namespaces", "billing,search",
                   "--tokens-file", str(tokens))
    token = made.stdout.strip()
    assert token.startswith("pft_") and len(token) > 40
    assert "added token 'billing-ci' (namespace billing, search)" in made.stderr
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    text = tokens.read_text()
    assert token not in text and 'namespaces = ["billing", "search"]' in text
    again = phoenix(None, "token", "new", "billing-ci", "--namespaces", "billing",
                    "--tokens-file", str(tokens), expect=2)
    assert "already has a token named 'billing-ci'" in again.stderr
    neither = phoenix(None, "token", "new", "x", "--tokens-file", str(tokens), expect=2)
    assert "--namespaces A,B, or --all-namespaces" in neither.stderr
    bad = phoenix(None, "token", "new", "x", "--namespaces", "Not_A_Label",
                  "--tokens-file", str(tokens), expect=2)
    assert "'Not_A_Label' is not a valid id" in bad.stderr
    assert tokens.read_text() == text, "a refused token new changed the file"


def test_a_scoped_token_acts_in_its_namespace_only(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    billing = phoenix(None, "token", "new", "billing-ci", "--namespaces", "billing",
                      "--tokens-file", str(tokens)).stdout.strip()
    root = phoenix(None, "token", "new", "root", "--all-namespaces",
                   "--tokens-file", str(tokens)).stdout.strip()
    with PhoenixProcess(tmp_path / "data", *operator_token_args(tmp_path, ADMIN),
                        "--auth-tokens", str(tokens)) as d:
        for name in ("billing", "search"):
            phoenix(d, "namespace", "create", name, "--token", root)
        phoenix(d, "member", "register", "w-search", "--cap", "ocr", "--ttl", "3600",
                "--namespace", "search", "--token", ADMIN)
        phoenix(d, "member", "register", "w-billing", "--cap", "ocr", "--ttl", "3600",
                "--namespace", "billing", "--token", billing)
        refused = phoenix(d, "member", "retire", "w-search", "--token", billing, expect=1)
        assert refused.stderr.strip() == (
            "phoenix: PERMISSION_DENIED: token 'billing-ci' may not call RetireMember on "
            "member 'w-search' in namespace 'search': it may act in namespace 'billing' only; "
            "use a token of namespace 'search' or the cluster admin's")
        listed = js(d, "member", "list", "--token", billing)
        assert [m["member_id"] for m in listed] == ["w-billing"]
        denied = js(d, "audit", "query", "--type", "permission_denied", "--token", root)
        assert [(e["actor"], e["namespace"], e["data"]["call"]) for e in denied] == [
            ("token:billing-ci", "search", "RetireMember")]
        kept = js(d, "member", "get", "w-search", "--token", root)
        assert kept["status"] == "MEMBER_STATUS_ACTIVE"


@pytest.mark.parametrize(("content", "mode", "problem"), [
    ('[[token]]\nname = "a"\nsha256 = "00"\nnamespaces = ["a"]\n', 0o600,
     "token[0] (a): sha256 must be 64 lowercase hex digits"),
    ('[[token]]\nname = "a"\nsha256 = "' + "0" * 64 + '"\nnamespaces = []\n', 0o600,
     "token[0] (a): namespaces must be a non-empty list"),
    ("[token\n", 0o600, "not TOML"),
    ('[[token]]\nname = "a"\nsha256 = "' + "0" * 64 + '"\nnamespaces = ["a"]\n', 0o644,
     "has mode 644: other users can change who may act in which namespace"),
])
def test_a_tokens_file_with_a_mistake_or_open_to_others_keeps_phoenixd_from_starting(
    tmp_path: Path, content: str, mode: int, problem: str,
) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(content)
    tokens.chmod(mode)
    daemon = PhoenixProcess(tmp_path / "data", "--auth-tokens", str(tokens))
    assert start_exit_code(daemon) == 2
    assert problem in daemon.log(), daemon.log()[-2000:]


def test_an_empty_tokens_file_keeps_operator_auth_on(tmp_path: Path) -> None:
    """Revoking the last token must not open the daemon to everyone."""
    tokens = tmp_path / "tokens.toml"
    tokens.write_text("# every token revoked\n")
    tokens.chmod(0o600)
    with PhoenixProcess(tmp_path / "data", "--auth-tokens", str(tokens)) as d:
        refused = phoenix(d, "namespace", "create", "evil", expect=1)
        assert "UNAUTHENTICATED" in refused.stderr
        assert '"operator_auth": true' in d.log() or "operator_auth=True" in d.log()


@pytest.mark.parametrize(("args", "problem"), [
    (("x\"y", "--namespaces", "a"), "name 'x\"y' is not a valid id"),
    (("admin", "--namespaces", "a"), "the name 'admin' is the --auth-token-file token's"),
])
def test_token_new_refuses_a_name_it_cannot_use(tmp_path: Path, args: tuple[str, ...],
                                                 problem: str) -> None:
    tokens = tmp_path / "tokens.toml"
    refused = phoenix(None, "token", "new", *args, "--tokens-file", str(tokens), expect=2)
    assert problem in refused.stderr
    assert not tokens.exists()


def test_token_new_refuses_a_tokens_file_others_can_read_even_when_empty(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.touch(mode=0o644)
    tokens.chmod(0o644)
    refused = phoenix(None, "token", "new", "x", "--namespaces", "a",
                      "--tokens-file", str(tokens), expect=2)
    assert "has mode 644" in refused.stderr and tokens.read_text() == ""


def test_every_namespace_stands_alone_in_a_tokens_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text('[[token]]\nname = "a"\nsha256 = "' + "0" * 64
                      + '"\nnamespaces = ["*", "billing"]\n')
    tokens.chmod(0o600)
    daemon = PhoenixProcess(tmp_path / "data", "--auth-tokens", str(tokens))
    assert start_exit_code(daemon) == 2
    assert "'*' (every namespace) stands alone" in daemon.log()


def test_a_flood_of_refusals_is_counted_not_all_recorded(tmp_path: Path) -> None:
    """Each token has refusals recorded at most RECORD_BURST at once and RECORD_RATE a second
    after that; the rest are refused all the same, and the next recorded one counts them."""
    tokens = tmp_path / "tokens.toml"
    billing = phoenix(None, "token", "new", "billing-ci", "--namespaces", "billing",
                      "--tokens-file", str(tokens)).stdout.strip()
    with PhoenixProcess(tmp_path / "data", *operator_token_args(tmp_path, ADMIN),
                        "--auth-tokens", str(tokens)) as d:
        scoped = (("authorization", f"Bearer {billing}"),)
        sent = 3 * RECORD_BURST
        started = time.monotonic()
        for i in range(sent):
            with pytest.raises(grpc.RpcError) as refused:
                d.namespaces.GetNamespace(npb.GetNamespaceRequest(name=f"other-{i}"),
                                          metadata=scoped, timeout=10)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        elapsed = time.monotonic() - started
        admin = (("authorization", f"Bearer {ADMIN}"),)

        def denied() -> list[rpb.Event]:
            return list(d.recorder.QueryEvents(rpb.QueryEventsRequest(
                types=["permission_denied"], page_size=1000), metadata=admin, timeout=10).events)

        recorded = denied()
        assert RECORD_BURST <= len(recorded) <= RECORD_BURST + elapsed * RECORD_RATE + 1
        time.sleep(1.5 / RECORD_RATE)  # the bucket holds one again
        with pytest.raises(grpc.RpcError):
            d.namespaces.GetNamespace(npb.GetNamespaceRequest(name="once-more"),
                                      metadata=scoped, timeout=10)
        # Each recorded refusal counts those left unrecorded since the one before it (on a
        # slow run the bucket refills during the flood too): together, every one.
        unrecorded = 0
        for event in denied():
            if "unrecorded_before" in event.data:
                count = event.data["unrecorded_before"]
                assert isinstance(count, float)
                unrecorded += int(count)
        assert unrecorded == sent - len(recorded)
