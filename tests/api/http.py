"""A phoenixd serving its REST routes too, a small JSON client for them and a Server-Sent
Events reader (stdlib only)."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.daemon import PhoenixProcess, free_port

__all__ = ["EventStream", "Http", "SseEvent", "http_daemon"]

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


@dataclass(frozen=True)
class SseEvent:
    id: str | None
    event: str
    data: Any


class _Connection(http.client.HTTPConnection):
    """A loopback connection, its receive buffer made small if asked (a reader that stops
    reading then stops the sender soon, instead of the kernel buffering megabytes)."""

    def __init__(self, port: int, timeout: float, receive_buffer: int | None) -> None:
        super().__init__("127.0.0.1", port, timeout=timeout)
        self._receive_buffer = receive_buffer

    def connect(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self._receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
        sock.settimeout(self.timeout)
        sock.connect((self.host, self.port))
        self.sock = sock


class EventStream:
    """One event stream of a daemon's HTTP port, read an event at a time. A refused stream
    has its ``status`` and the JSON ``error`` instead."""

    def __init__(self, port: int, path: str, *, last_event_id: str | None = None,
                 token: str | None = None, receive_buffer: int | None = None,
                 timeout: float = 20.0) -> None:
        self._connection = _Connection(port, timeout, receive_buffer)
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self._connection.request("GET", path, headers=headers)
        self.response = self._connection.getresponse()
        self.status = self.response.status
        self.error: Any = None
        if self.status != 200:
            self.error = json.loads(self.response.read())
        self.comments: list[str] = []
        self.last_id: str | None = None

    def next(self) -> SseEvent | None:
        """The next event (comments kept in ``comments``), None once the stream ended."""
        ident: str | None = None
        kind, data = "message", list[str]()
        while True:
            raw = self.response.readline()
            if not raw:
                return None
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    if ident is not None:
                        self.last_id = ident
                    return SseEvent(ident, kind, json.loads("\n".join(data)))
                ident, kind = None, "message"
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if not field:
                self.comments.append(value)
            elif field == "id":
                ident = value
            elif field == "event":
                kind = value
            elif field == "data":
                data.append(value)

    def next_comment(self) -> str:
        """Read on until a comment line (``: ping``); events before it are dropped."""
        seen = len(self.comments)
        while len(self.comments) == seen:
            raw = self.response.readline()
            assert raw, "the stream ended"
            line = raw.decode().rstrip("\r\n")
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
        return self.comments[-1]

    def take(self, count: int) -> list[SseEvent]:
        events: list[SseEvent] = []
        while len(events) < count:
            event = self.next()
            assert event is not None, f"the stream ended after {len(events)} of {count} events"
            events.append(event)
        return events

    def close(self) -> None:
        self._connection.close()
