"""SimulatorService: dry-runs against a fork of the live state, and scenario runs (admin only)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.namespaces import DEFAULT_NAMESPACE
from phoenixd.server.errors import Context, unary
from phoenixd.sim.dryrun import Change, Waiting
from phoenixd.sim.observer import StepFigures
from phoenixd.sim.service import Simulator
from phoenixflight_api.v1 import simulator_service_pb2 as pb
from phoenixflight_api.v1 import simulator_service_pb2_grpc as pb_grpc

__all__ = ["SimulatorServicer"]


class SimulatorServicer(pb_grpc.SimulatorServiceServicer):
    def __init__(self, simulator: Simulator) -> None:
        self._simulator = simulator

    @unary
    async def DryRun(self, request: pb.DryRunRequest, context: Context) -> pb.DryRunResponse:
        result = await self._simulator.dry_run(_change(request))
        return pb.DryRunResponse(
            revision=result.revision, member_ids=list(result.members),
            moves=[pb.PacketMove(packet_id=m.packet_id, from_member_id=m.from_member,
                                 to_member_id=m.to_member) for m in result.moves],
            waiting=[_waiting(w) for w in result.waiting],
            waiting_total=result.waiting_total, held=[_waiting(w) for w in result.held],
            before=_figures(_fields(result.before)), after=_figures(_fields(result.after)),
            events=result.events, virtual_seconds=result.virtual_seconds,
        )

    @unary
    async def Simulate(self, request: pb.SimulateRequest,
                       context: Context) -> pb.SimulateResponse:
        fields: dict[str, Any] = {}
        for name in ("mode", "preset", "strategy", "steps", "seed", "members", "packets",
                     "learn_reliability"):
            if value := getattr(request, name):
                fields[name] = value
        result = await self._simulator.simulate(fields)
        return pb.SimulateResponse(
            strategy=result.strategy, head_hash=result.head_hash,
            head_sequence=result.head_sequence, run=_figures(result.run),
            steps=[_figures(_fields(s)) for s in result.steps],
        )


def _change(request: pb.DryRunRequest) -> Change:
    kind = request.WhichOneof("change")
    if kind == "drain":
        return Change("drain", member_id=request.drain.member_id)
    if kind == "fail":
        return Change("fail", member_id=request.fail.member_id,
                      selector=request.fail.label_selector)
    if kind == "join":
        join = request.join
        return Change("join", count=join.count, capabilities=tuple(join.capabilities),
                      labels=dict(join.labels), cpu=join.cpu or None,
                      memory=join.memory or None, trust_score=join.trust_score or None,
                      namespace=join.namespace or DEFAULT_NAMESPACE)
    raise InvalidArgument("change: set one of drain, fail or join")


def _waiting(w: Waiting) -> pb.WaitingPacket:
    return pb.WaitingPacket(packet_id=w.packet_id, previous_owner=w.was_owner,
                            explanation=w.explanation, rejected_counts=w.rejected_counts)


def _fields(figures: StepFigures) -> dict[str, Any]:
    return dataclasses.asdict(figures)


def _figures(values: Mapping[str, Any]) -> pb.Figures:
    return pb.Figures(values={k: float(v) for k, v in values.items()
                              if isinstance(v, int | float) and not isinstance(v, bool)})
