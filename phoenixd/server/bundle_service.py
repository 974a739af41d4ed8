"""BundleService: apply a verified .pflight, and read back what was applied."""

from __future__ import annotations

from phoenixd.core.application import Application
from phoenixd.server.convert.bundles import apply_result_to_pb, bundle_to_pb
from phoenixd.server.errors import Context, unary
from phoenixflight_api.v1 import bundle_service_pb2 as pb
from phoenixflight_api.v1 import bundle_service_pb2_grpc as pb_grpc

__all__ = ["BundleServicer"]


class BundleServicer(pb_grpc.BundleServiceServicer):
    def __init__(self, app: Application) -> None:
        self._commands = app.commands
        self._queries = app.queries

    @unary
    async def ApplyBundle(
        self, request: pb.ApplyBundleRequest, context: Context
    ) -> pb.ApplyBundleResponse:
        result = await self._commands.apply_bundle(request.archive, dry_run=request.dry_run)
        return apply_result_to_pb(result)

    @unary
    async def GetBundle(
        self, request: pb.GetBundleRequest, context: Context
    ) -> pb.GetBundleResponse:
        return pb.GetBundleResponse(bundle=bundle_to_pb(await self._queries.get_bundle(
            request.name)))

    @unary
    async def ListBundles(
        self, request: pb.ListBundlesRequest, context: Context
    ) -> pb.ListBundlesResponse:
        page = await self._queries.list_bundles(page_token=request.page_token,
                                                size=request.page_size)
        return pb.ListBundlesResponse(
            bundles=[bundle_to_pb(b) for b in page.items], next_page_token=page.next_token,
            revision=page.revision, total_size=page.total)
