"""The physical-limit baselines the RPC benchmarks print beside phoenixd: a bare grpc.aio
server for raw-bytes handlers, with nothing of phoenixd in it."""

from __future__ import annotations

import grpc


async def serve_bare(
    port: int, service: str, handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]]
) -> None:
    """Serve ``handlers`` (method name -> handler, bytes in and out) on 127.0.0.1 until killed."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()
