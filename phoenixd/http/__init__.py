"""The HTTP/JSON surface: REST routes from the API's google.api.http annotations (the watches
as Server-Sent Events) and the seed's compatibility routes, served by calling the gRPC
servicers in process, through the same Guard."""

from phoenixd.http.server import HttpServer

__all__ = ["HttpServer"]
