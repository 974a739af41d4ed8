"""A phoenixd serving its REST routes too, and a small JSON client for them (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.daemon import PhoenixProcess, free_port

__all__ = ["Http", "http_daemon"]

# Never through a proxy, whatever the environment says: the daemon is on the loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Http:
    """Calls one daemon's HTTP port; every answer is (status, the JSON body)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = token

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             token: str | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if (token := token or self.token) is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with _OPENER.open(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            payload = error.read()
            return error.code, json.loads(payload) if payload else None

    def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return self.call("POST", path, {} if body is None else body, **kwargs)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON of a call that must succeed."""
        status, payload = self.call(method, path, body)
        assert status == 200, (status, payload)
        return payload


def http_daemon(data_dir: Path, *extra: str) -> tuple[PhoenixProcess, Http]:
    """A started phoenixd with --http-listen on a free loopback port, and a client for it."""
    port = free_port()
    proc = PhoenixProcess(data_dir, "--http-listen", f"127.0.0.1:{port}", *extra).start()
    return proc, Http(port)
