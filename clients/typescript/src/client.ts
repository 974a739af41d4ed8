/** The typed PhoenixFlight client: every service over one gRPC transport, and the common calls. */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { type Client, type Interceptor, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BundleService } from "./gen/phoenixflight/v1/bundle_service_pb.js";
import { ClusterService } from "./gen/phoenixflight/v1/cluster_service_pb.js";
import {
  type Event,
  FlightRecorderService,
  type VerifyChainResponse,
} from "./gen/phoenixflight/v1/flight_recorder_service_pb.js";
import { type Member, MemberKind } from "./gen/phoenixflight/v1/member_pb.js";
import { MembershipService } from "./gen/phoenixflight/v1/membership_service_pb.js";
import { NamespaceService } from "./gen/phoenixflight/v1/namespace_service_pb.js";
import {
  type FlightPacket,
  FlightPacketSchema,
  type Strategy,
} from "./gen/phoenixflight/v1/packet_pb.js";
import { PacketService } from "./gen/phoenixflight/v1/packet_service_pb.js";
import { SimulatorService } from "./gen/phoenixflight/v1/simulator_service_pb.js";
import { duration } from "./duration.js";

export interface PhoenixOptions {
  /** host:port of phoenixd (default PHOENIX_ENDPOINT or 127.0.0.1:7400). */
  endpoint?: string;
  /** Operator bearer token, when the daemon runs with --auth-token-file. */
  token?: string;
  /** Per-call deadline in milliseconds (default 30 000; streams have none). */
  timeoutMs?: number;
  /** Run around every call (e.g. to add metadata, or to observe a stream in tests). */
  interceptors?: Interceptor[];
}

export interface RegisterOptions {
  trustScore?: number;
  reliability?: number;
  labels?: Record<string, string>;
  leaseTtlSeconds?: number;
  kind?: MemberKind;
  /** The current credential of this member id, to replace its live incarnation. */
  credential?: string;
  /** Abandons the call when aborted. */
  signal?: AbortSignal;
}

export interface Envelope {
  packetId: string;
  workloadType?: string;
  requiredCapabilities?: string[];
  state?: JsonObject;
  step?: string;
  minimumTrustScore?: number;
  allowedRegions?: string[];
  piiReviewRequired?: boolean;
  handoffAllowed?: boolean;
  lineageId?: string;
  routingKey?: string;
  strategy?: Strategy;
  maxAttempts?: number;
}

/** Typed access to the PhoenixFlight services (raw clients are public too). */
export class PhoenixClient {
  readonly members: Client<typeof MembershipService>;
  readonly packets: Client<typeof PacketService>;
  readonly recorder: Client<typeof FlightRecorderService>;
  /** The daemon's version, revision and counts by status (getClusterStatus); the DMA
   * metrics over a window (getClusterHealth). */
  readonly cluster: Client<typeof ClusterService>;
  /** Namespaces with their labels and quotas (the cluster admin's). */
  readonly namespaces: Client<typeof NamespaceService>;
  /** Signed .pflight bundles applied to the daemon (the cluster admin's). */
  readonly bundles: Client<typeof BundleService>;
  /** Dry-runs against the live state, and simulated scenarios (the cluster admin's). */
  readonly simulator: Client<typeof SimulatorService>;
  /** host:port this client calls. */
  readonly endpoint: string;
  private readonly timeoutMs: number;

  constructor(options: PhoenixOptions = {}) {
    const endpoint = options.endpoint ?? process.env.PHOENIX_ENDPOINT ?? "127.0.0.1:7400";
    this.endpoint = endpoint;
    const interceptors: Interceptor[] = [...(options.interceptors ?? [])];
    if (options.token) {
      const bearer = `Bearer ${options.token}`;
      interceptors.push((next) => async (req) => {
        req.header.set("authorization", bearer);
        return next(req);
      });
    }
    const transport = createGrpcTransport({
      baseUrl: `http://${endpoint}`,
      interceptors,
      // A member notices a dead connection within seconds (phoenixd allows a ping a second).
      pingIntervalMs: 10_000,
      pingTimeoutMs: 5_000,
    });
    this.members = createClient(MembershipService, transport);
    this.packets = createClient(PacketService, transport);
    this.recorder = createClient(FlightRecorderService, transport);
    this.cluster = createClient(ClusterService, transport);
    this.namespaces = createClient(NamespaceService, transport);
    this.bundles = createClient(BundleService, transport);
    this.simulator = createClient(SimulatorService, transport);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Registers a member; the credential authenticates its member-side calls. */
  async registerMember(
    memberId: string,
    capabilities: string[],
    options: RegisterOptions = {},
  ): Promise<{ member: Member; credential: string }> {
    const response = await this.members.registerMember(
      {
        memberId,
        capabilities,
        kind: options.kind ?? MemberKind.AGENT,
        trustScore: options.trustScore,
        reliability: options.reliability,
        labels: options.labels ?? {},
        leaseTtl: options.leaseTtlSeconds === undefined ? undefined : duration(options.leaseTtlSeconds),
        credential: options.credential ?? "",
      },
      { timeoutMs: this.timeoutMs, signal: options.signal },
    );
    if (!response.member) throw new Error("RegisterMember returned no member");
    return { member: response.member, credential: response.credential };
  }

  async heartbeat(memberId: string, credential: string): Promise<void> {
    await this.members.heartbeat({ memberId, credential }, { timeoutMs: this.timeoutMs });
  }

  /** Submits a Flight Packet built from a plain envelope. */
  async submitPacket(envelope: Envelope): Promise<FlightPacket> {
    const packet = create(FlightPacketSchema, {
      packetId: envelope.packetId,
      workloadType: envelope.workloadType ?? "",
      requiredCapabilities: envelope.requiredCapabilities ?? [],
      contextCheckpoint: { state: envelope.state ?? {}, step: envelope.step ?? "" },
      policyConstraints: {
        minimumTrustScore: envelope.minimumTrustScore ?? 0,
        allowedRegions: envelope.allowedRegions ?? [],
        piiReviewRequired: envelope.piiReviewRequired ?? false,
      },
      handoff: { allowed: envelope.handoffAllowed ?? true },
      audit: { lineageId: envelope.lineageId ?? "" },
      routingKey: envelope.routingKey ?? "",
      strategy: envelope.strategy,
      maxAttempts: envelope.maxAttempts ?? 0,
    });
    const response = await this.packets.submitPacket({ packet }, { timeoutMs: this.timeoutMs });
    if (!response.packet) throw new Error("SubmitPacket returned no packet");
    return response.packet;
  }

  async getPacket(packetId: string): Promise<FlightPacket> {
    const response = await this.packets.getPacket({ packetId }, { timeoutMs: this.timeoutMs });
    if (!response.packet) throw new Error("GetPacket returned no packet");
    return response.packet;
  }

  /** Flight Recorder events after `afterSequence` (omit it for live ones only), then live. */
  async *watchEvents(
    filters: { afterSequence?: bigint; types?: string[]; packetId?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<Event> {
    const stream = this.recorder.watchEvents(
      { afterSequence: filters.afterSequence, types: filters.types ?? [], packetId: filters.packetId ?? "" },
      { signal: filters.signal },
    );
    for await (const item of stream) {
      if (item.event) yield item.event;
    }
  }

  async verifyChain(): Promise<VerifyChainResponse> {
    return this.recorder.verifyChain({}, { timeoutMs: this.timeoutMs });
  }
}
