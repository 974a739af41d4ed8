"""Every RPC has its REST route, enumerated from the descriptors so that none escapes: each
unary method is annotated and served by a real phoenixd (no route 404 or 405 for any of
them), each server-streaming one with a route has its Server-Sent Events feed (served in
test_http_sse.py), client-streaming ones have none; and the OpenAPI document the daemon
serves is the committed one, which matches proto/ (the generator's --check) and lists every
route."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from phoenixd.http.routes import bindings, streaming_methods
from phoenixd.http.sse import FEEDS, WATCH_PATH
from phoenixd.server.grpc_server import SERVICE_DESCRIPTORS
from tests.api.http import http_daemon

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "phoenixd" / "http" / "openapi.json"
ROUTES = bindings(SERVICE_DESCRIPTORS)


def test_every_unary_method_has_a_route_and_each_routed_stream_a_feed() -> None:
    unary = {f"/{s.full_name}/{m.name}" for s in SERVICE_DESCRIPTORS for m in s.methods
             if not (m.client_streaming or m.server_streaming)}
    routed = {b.method for b in ROUTES}
    assert unary - routed == set(), "unary methods without a google.api.http annotation"
    assert routed & set(streaming_methods(SERVICE_DESCRIPTORS)) == set()
    assert {b.method for b in ROUTES if b.streaming} == set(FEEDS)
    assert all(b.verb == "GET" and not b.body for b in ROUTES if b.streaming)
    assert len({(b.verb, b.template) for b in ROUTES}) == len(ROUTES), "a route is taken twice"


def test_the_daemon_serves_every_route_and_its_openapi_document(tmp_path: Path) -> None:
    proc, http = http_daemon(tmp_path / "data")
    try:
        for binding in ROUTES:
            if binding.streaming:
                continue  # an event stream: test_http_sse.py
            path = re.sub(r"\{[^}]+\}", "x-1", binding.template)
            status, payload = http.call(binding.verb, path, {} if binding.body else None)
            assert status not in (404, 405) or "no route" not in payload["message"], binding
            assert status != 405, (binding, payload)
            if status != 200:
                assert set(payload) == {"code", "message", "details"}, (binding, payload)
        status, served = http.get("/v1/openapi.json")
        assert status == 200 and served == json.loads(DOCUMENT.read_text())
    finally:
        proc.stop()


def test_the_openapi_document_matches_the_protos_and_lists_every_route() -> None:
    check = subprocess.run([sys.executable, "scripts/gen_openapi.py", "--check"], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    document = json.loads(DOCUMENT.read_text())
    listed = {(verb.upper(), path) for path, ops in document["paths"].items() for verb in ops}
    assert listed == {(b.verb, b.template) for b in ROUTES} | {("GET", WATCH_PATH)}
    schemas = document["components"]["schemas"]

    def refs(node: Any) -> set[str]:
        if isinstance(node, dict):
            found = {node["$ref"]} if "$ref" in node else set()
            return found.union(*(refs(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(refs(v) for v in node))
        return set()

    missing = {r for r in refs(document) if r.removeprefix("#/components/schemas/") not in schemas}
    assert missing == set()
