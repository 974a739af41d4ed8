"""Authentication and authorization over HTTP are the gRPC ones (the same Guard): with
operator tokens on, every operator route (enumerated from the annotations, so that none
escapes) refuses a call without a token (401) or with a wrong one; member routes take the
member's credential in the body instead; a namespace-scoped token is refused (403) outside
its namespace; GetHandoffKey stays open."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from phoenixd.http.routes import Binding, bindings
from phoenixd.server.grpc_server import SERVICE_DESCRIPTORS
from phoenixd.server.interceptors import MEMBER_METHODS, OPEN_METHODS
from tests.api.http import Http, http_daemon
from tests.daemon import operator_token_args

ADMIN = "http-auth-admin-token"
SCOPED = "pft_http-auth-billing-token"
ROUTES = bindings(SERVICE_DESCRIPTORS)
OPERATOR_ROUTES = [b for b in ROUTES if b.method not in MEMBER_METHODS | OPEN_METHODS]


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Http]:
    tmp = Path(tmp_path_factory.mktemp("http-auth"))
    tokens = tmp / "tokens.toml"
    tokens.write_text('[[token]]\nname = "billing-ci"\n'
                      f'sha256 = "{hashlib.sha256(SCOPED.encode()).hexdigest()}"\n'
                      'namespaces = ["billing"]\n')
    tokens.chmod(0o600)
    proc, client = http_daemon(tmp / "data", *operator_token_args(tmp, ADMIN),
                               "--auth-tokens", str(tokens))
    yield client
    proc.stop()


def _url(binding: Binding) -> str:
    return re.sub(r"\{[^}]+\}", "x-1", binding.template)


@pytest.mark.parametrize("binding", OPERATOR_ROUTES, ids=lambda b: f"{b.verb} {b.template}")
def test_every_operator_route_refuses_a_call_without_a_token(http: Http,
                                                             binding: Binding) -> None:
    body: dict[str, object] | None = {} if binding.body else None
    status, error = http.call(binding.verb, _url(binding), body)
    assert (status, error["code"]) == (401, 16), error
    assert "operator token" in error["message"]
    status, error = http.call(binding.verb, _url(binding), body, token="not-the-token")
    assert (status, error["code"]) == (401, 16), error
    # Refused before the request is read, as over gRPC: a bad body or query teaches nothing.
    status, error = http.call(binding.verb, _url(binding) + "?no_such_field=1", raw=b"{nope")
    assert (status, error["code"]) == (401, 16), error


def test_the_admin_token_passes_and_member_routes_take_the_credential(http: Http) -> None:
    made = http.call("POST", "/v1/members", {"member_id": "worker-1"}, token=ADMIN)
    assert made[0] == 200, made
    credential = made[1]["credential"]
    status, beat = http.post("/v1/members/worker-1:heartbeat", {"credential": credential})
    assert status == 200 and beat["status"] == "MEMBER_STATUS_ACTIVE"
    status, error = http.post("/v1/members/worker-1:heartbeat", {"credential": "forged"})
    assert (status, error["code"]) == (401, 16)
    status, key = http.get("/v1/handoffKey")
    assert status == 200 and key["algorithm"]
    for feed in ("/v1/members:watch?bad=1", "/v1/events:watch?bad=1", "/v1/watch?feeds=nope"):
        status, error = http.get(feed)
        assert (status, error["code"]) == (401, 16), (feed, error)


def test_a_scoped_token_is_refused_outside_its_namespace(http: Http) -> None:
    for name in ("billing", "search"):
        status, _ = http.call("POST", "/v1/namespaces", {"name": name}, token=ADMIN)
        assert status == 200
    for member, namespace in (("w-search", "search"), ("w-billing", "billing")):
        status, _ = http.call("POST", "/v1/members",
                              {"member_id": member, "namespace": namespace}, token=ADMIN)
        assert status == 200
    status, error = http.post("/v1/members/w-search:retire", {}, token=SCOPED)
    assert (status, error["code"]) == (403, 7)
    assert "may act in namespace 'billing' only" in error["message"]
    status, listed = http.get("/v1/members", token=SCOPED)
    assert status == 200 and [m["member_id"] for m in listed["members"]] == ["w-billing"]
    status, _ = http.post("/v1/members/w-billing:retire", {}, token=SCOPED)
    assert status == 200
