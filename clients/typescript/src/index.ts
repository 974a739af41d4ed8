/**
 * PhoenixFlight for TypeScript: the phoenixflight.v1 API (generated into ./gen by
 * scripts/gen_protos.py) over gRPC, a small typed client for the common calls, and a Member
 * worker that holds a session, verifies handoffs and survives churn.
 *
 *   const pf = new PhoenixClient({ endpoint: "127.0.0.1:7400" });
 *   await pf.submitPacket({ packetId: "fp-001", requiredCapabilities: ["ocr@2"] });
 *   for await (const event of pf.watchEvents({ afterSequence: 0n })) console.log(event.type);
 *
 *   await new Member({ memberId: "ocr-1", capabilities: ["ocr@2"], handler }).run();
 */
export * from "./gen/phoenixflight/v1/cluster_service_pb.js";
export * from "./gen/phoenixflight/v1/flight_recorder_service_pb.js";
export * from "./gen/phoenixflight/v1/member_pb.js";
// The registry's record of a member: the Member name is the worker class's.
export type { Member as MemberRecord } from "./gen/phoenixflight/v1/member_pb.js";
export * from "./gen/phoenixflight/v1/membership_service_pb.js";
export * from "./gen/phoenixflight/v1/packet_pb.js";
export * from "./gen/phoenixflight/v1/packet_service_pb.js";
export { TOKEN_DOMAIN, canonicalJson, stateHash, tokenSignedBytes } from "./canonical.js";
export type { JsonValue, SignedFacts } from "./canonical.js";
export { assignmentProblem, ed25519PublicKey } from "./handoff.js";
export { type Logger, consoleLogger } from "./logger.js";
export { Member, type MemberOptions, RegistrationError, memberIdProblem } from "./member.js";
export { type Handler, Task } from "./task.js";
export { type Envelope, PhoenixClient, type PhoenixOptions, type RegisterOptions } from "./client.js";
