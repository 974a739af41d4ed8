"""NamespaceService: create, read, change and delete namespaces."""

from __future__ import annotations

from phoenixd.core.application import Application
from phoenixd.server.convert.namespaces import namespace_to_pb, quota_from_pb, update_paths
from phoenixd.server.errors import Context, unary
from phoenixd.server.scopes import readable
from phoenixflight_api.v1 import namespace_service_pb2 as pb
from phoenixflight_api.v1 import namespace_service_pb2_grpc as pb_grpc

__all__ = ["NamespaceServicer"]


class NamespaceServicer(pb_grpc.NamespaceServiceServicer):
    def __init__(self, app: Application) -> None:
        self._commands = app.commands
        self._queries = app.queries

    @unary
    async def CreateNamespace(
        self, request: pb.CreateNamespaceRequest, context: Context
    ) -> pb.CreateNamespaceResponse:
        given = request.namespace
        await self._commands.create_namespace(given.name, dict(given.labels),
                                              quota_from_pb(given.quota))
        view = await self._queries.get_namespace(given.name)
        return pb.CreateNamespaceResponse(namespace=namespace_to_pb(view))

    @unary
    async def GetNamespace(
        self, request: pb.GetNamespaceRequest, context: Context
    ) -> pb.GetNamespaceResponse:
        view = await self._queries.get_namespace(request.name)
        return pb.GetNamespaceResponse(namespace=namespace_to_pb(view))

    @unary
    async def ListNamespaces(
        self, request: pb.ListNamespacesRequest, context: Context
    ) -> pb.ListNamespacesResponse:
        page = await self._queries.list_namespaces(within=readable(""),
                                                   page_token=request.page_token,
                                                   size=request.page_size)
        return pb.ListNamespacesResponse(
            namespaces=[namespace_to_pb(v) for v in page.items],
            next_page_token=page.next_token, revision=page.revision, total_size=page.total)

    @unary
    async def UpdateNamespace(
        self, request: pb.UpdateNamespaceRequest, context: Context
    ) -> pb.UpdateNamespaceResponse:
        given = request.namespace
        paths = update_paths(list(request.update_mask.paths))
        await self._commands.update_namespace(
            given.name, dict(given.labels) if "labels" in paths else None,
            quota_from_pb(given.quota) if "quota" in paths else None)
        view = await self._queries.get_namespace(given.name)
        return pb.UpdateNamespaceResponse(namespace=namespace_to_pb(view))

    @unary
    async def DeleteNamespace(
        self, request: pb.DeleteNamespaceRequest, context: Context
    ) -> pb.DeleteNamespaceResponse:
        record = await self._commands.delete_namespace(request.name)
        return pb.DeleteNamespaceResponse(namespace=namespace_to_pb(record))
