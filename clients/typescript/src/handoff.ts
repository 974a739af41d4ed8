/**
 * The check a member makes before it works on an assignment: the checkpoint is the one the
 * daemon recorded (its state_hash), and the handoff token is the daemon's, for this member
 * and epoch, signed over that checkpoint.
 */
import { type KeyObject, createPublicKey, verify } from "node:crypto";
import { type JsonValue, stateHash, tokenSignedBytes } from "./canonical.js";
import type { Assignment } from "./gen/phoenixflight/v1/packet_pb.js";

/** An Ed25519 public key from the 32 raw bytes GetHandoffKey serves. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") },
    format: "jwk",
  });
}

/**
 * Why the assignment cannot be trusted, or "" when it can.
 *
 * @param keyFor the daemon's public key of a key id, or undefined when it is not known.
 */
export function assignmentProblem(
  assignment: Assignment, memberId: string, keyFor: (keyId: string) => KeyObject | undefined,
): string {
  const token = assignment.handoffToken;
  const checkpoint = assignment.packet?.contextCheckpoint;
  if (!token || !checkpoint) return "assignment carries no handoff token or checkpoint";
  let derived: string;
  try {
    derived = stateHash((checkpoint.state ?? {}) as { [key: string]: JsonValue });
  } catch (error) {
    return `checkpoint state has no canonical form: ${(error as Error).message}`;
  }
  if (derived !== checkpoint.stateHash) return "checkpoint state does not match its state_hash";
  // The token attests the checkpoint as handed over. A checkpoint this member saved since
  // (same epoch; e.g. re-sent after a daemon restart) is its own progress.
  const ours = checkpoint.epoch === assignment.epoch && checkpoint.savedBy === memberId;
  if (!ours && derived !== token.stateHash) {
    return "checkpoint is not the one the handoff token was signed over";
  }
  if (token.epoch !== assignment.epoch || token.toMember !== memberId) {
    return "token is for another epoch or member";
  }
  const key = keyFor(token.keyId);
  if (!key) return `token signed by unknown key ${token.keyId}`;
  if (!verify(null, tokenSignedBytes(token), key, token.signature)) {
    return "token signature does not verify";
  }
  return "";
}
