"""The runtime console at ``/console``: a page and its ES modules, served from package data.

The files are read once, when the server is built, from ``phoenixd/http/console/`` (in the
wheel as package data, like openapi.json); only those names are served, so no request path
ever reaches the file system. The console is a client of the public HTTP API like any other:
it holds no secret and calls the same routes, with the operator's token when one is needed.
Every response carries a Content-Security-Policy that allows scripts, styles and connections
from this origin only and no inline script, so a member label holding markup stays text even
if some code slipped and put it in as HTML.
"""

from __future__ import annotations

import mimetypes
from importlib import resources

from aiohttp import web

__all__ = ["CONSOLE_PATH", "CSP", "Console"]

CONSOLE_PATH = "/console"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


class Console:
    """The console's files by name, and the routes that serve them."""

    def __init__(self) -> None:
        folder = resources.files("phoenixd.http") / "console"
        self._files = {entry.name: entry.read_bytes() for entry in folder.iterdir()
                       if entry.is_file() and entry.name.endswith(tuple(_TYPES))}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(CONSOLE_PATH, self._index)
        app.router.add_get(CONSOLE_PATH + "/", self._index)
        app.router.add_get(CONSOLE_PATH + "/{name}", self._file)

    async def _index(self, request: web.Request) -> web.Response:
        return self._respond("index.html")

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._files:
            raise web.HTTPNotFound()
        return self._respond(name)

    def _respond(self, name: str) -> web.Response:
        kind = _TYPES.get(name[name.rfind("."):]) or mimetypes.guess_type(name)[0]
        return web.Response(body=self._files[name], content_type=kind, charset="utf-8",
                            headers={"Content-Security-Policy": CSP,
                                     "X-Content-Type-Options": "nosniff",
                                     # a new daemon's files win over the browser's copy
                                     "Cache-Control": "no-cache"})
