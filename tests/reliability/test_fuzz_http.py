"""Fuzzing every REST route through one real phoenixd: only designed answers come back.

The routes are enumerated from the ``google.api.http`` annotations, so none escapes. For each
unary route Hypothesis draws the path's variables (odd unicode, very long, encoded slashes and
colons, the ids of live records), query parameters (the request's field names, in proto and
JSON spelling, and unknown ones, with values of any shape) and a body: a JSON object of the
request's fields with values of every JSON type (and unknown keys), or mangled bytes that are
not JSON at all. Most calls carry the operator token, some none or a wrong one.

Allowed answers: 200, or a designed refusal (400, 401, 403, 404, 409, 413, 429), always with
a JSON body; an operator route called without the token answers 401, whatever the request
holds (a path that is no route at all, from an empty variable, is a 404 first). A refusal's
body is ``{code, message, details}`` whose code is a designed gRPC code, never UNKNOWN or
INTERNAL (an exception the daemon did not handle). After each route the daemon still serves,
its chain verifies, and its log holds no traceback. CI runs a bounded number of examples per
route; ``make soak`` runs many more.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phoenixd.http.routes import Binding, bindings
from phoenixd.server.grpc_server import SERVICE_DESCRIPTORS
from phoenixd.server.interceptors import MEMBER_METHODS, OPEN_METHODS
from tests.api.http import Http
from tests.daemon import PhoenixProcess, free_port, operator_token_args
from tests.reliability.soak import figure, scaled

TOKEN = "fuzz-http-operator-token"
ROUTES = [b for b in bindings(SERVICE_DESCRIPTORS) if not b.streaming]
ALLOWED = frozenset({200, 400, 401, 403, 404, 409, 413, 429})
# gRPC codes a refusal may carry: the designed ones (grpc.StatusCode values).
DESIGNED_CODES = frozenset({3, 5, 6, 7, 8, 9, 10, 11, 16})
EXAMPLES = scaled(40, 1000)
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
ANSWERS: Counter[int] = Counter()  # HTTP status -> how many, over the module
# Ids of the records the fixture makes, so that some requests get past "not found".
LIVE_IDS = ("fz-member", "fz-packet", "default", "fz-space")

_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
            | st.sampled_from(LIVE_IDS) | st.just("x" * 5000))
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
path_values = (st.sampled_from(LIVE_IDS) | st.text(max_size=30)
               | st.sampled_from(["", "..", "a/b", "x:y", "%", "\u00fc\u00f1\u00ef", "a" * 400]))


def _names(message: Descriptor) -> list[str]:
    return [n for f in message.fields for n in (f.name, f.json_name)] + ["no_such_field"]


@st.composite
def requests(draw: st.DrawFn, binding: Binding) -> tuple[str, bytes | None, str | None]:
    """(path with query, body, token) for one call of ``binding``."""
    path = binding.template
    for name in binding.path_fields:
        value = urllib.parse.quote(draw(path_values), safe="")
        path = path.replace("{" + name + "}", value, 1)
    fields = _names(binding.input)
    query = draw(st.dictionaries(st.sampled_from(fields), st.lists(
        st.text(max_size=20) | st.sampled_from(["true", "-1", "1e309", "NaN", *LIVE_IDS]),
        min_size=1, max_size=2), max_size=3))
    if query:
        path += "?" + urllib.parse.urlencode(query, doseq=True)
    body: bytes | None = None
    if binding.verb != "GET" or draw(st.booleans()):
        if draw(st.integers(0, 9)) == 0:  # not JSON, or not an object
            body = draw(st.binary(max_size=200) | st.sampled_from(
                [b"{", b"[1,2]", b'"text"', b"null", b'{"a": NaN}', b"\xff\xfe"]))
        else:
            obj = draw(st.dictionaries(st.sampled_from(fields), json_values, max_size=5))
            body = json.dumps(obj, allow_nan=True).encode()
    token = draw(st.sampled_from([TOKEN, TOKEN, TOKEN, None, "wrong-token"]))
    return path, body, token


def _send(port: int, verb: str, path: str, body: bytes | None, token: str | None
          ) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(verb, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PhoenixProcess, Http]]:
    tmp = Path(tmp_path_factory.mktemp("fuzz-http"))
    port = free_port()
    proc = PhoenixProcess(tmp / "data", "--http-listen", f"127.0.0.1:{port}",
                          *operator_token_args(tmp, TOKEN)).start()
    client = Http(port, TOKEN)
    client.ok("POST", "/v1/namespaces", {"name": "fz-space"})
    client.ok("POST", "/v1/members", {"member_id": "fz-member", "capabilities": ["ocr"],
                                      "lease_ttl": "3600s"})
    client.ok("POST", "/v1/packets", {"packet_id": "fz-packet",
                                      "required_capabilities": ["ocr"]})
    try:
        yield proc, client
    finally:
        proc.stop()
        figure("HTTP fuzz answers", ", ".join(f"{status}: {n}" for status, n in
                                                sorted(ANSWERS.items())))


@pytest.mark.parametrize("binding", ROUTES, ids=lambda b: f"{b.verb} {b.template}")
def test_fuzzed_http_requests_get_designed_answers(
        daemon: tuple[PhoenixProcess, Http], binding: Binding) -> None:
    proc, client = daemon
    port = int(client.base.rsplit(":", 1)[1])

    @FUZZ_SETTINGS
    @given(request=requests(binding))
    def call(request: tuple[str, bytes | None, str | None]) -> None:
        path, body, token = request
        status, payload = _send(port, binding.verb, path, body, token)
        ANSWERS[status] += 1
        assert status in ALLOWED, (status, path, body, payload[:300])
        if token != TOKEN and binding.method not in MEMBER_METHODS | OPEN_METHODS:
            # Refused before any check of the request; unless the path is no route at all
            # (an empty variable).
            routed = not (status == 404 and b"no route for" in payload)
            assert status == 401 or not routed, (status, path, body, payload[:300])
        answer: Any = json.loads(payload)  # every answer is JSON
        if status != 200:
            assert answer["code"] in DESIGNED_CODES, (status, path, body, answer)
            assert isinstance(answer["message"], str) and answer["message"]
            assert answer["details"] == []

    call()
    assert client.ok("GET", "/v1/cluster/status")["daemon_version"]
    assert client.ok("GET", "/v1/events:verify")["ok"] is True
    assert "Traceback" not in proc.log()
