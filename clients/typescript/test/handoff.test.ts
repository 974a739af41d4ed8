/**
 * The assignment check: a genuine assignment passes; a tampered state, a token signed by
 * another key, a token for another member or epoch, or a checkpoint other than the signed one
 * are refused with a reason.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { stateHash, tokenSignedBytes } from "../src/canonical.js";
import { type Assignment, AssignmentSchema } from "../src/gen/phoenixflight/v1/packet_pb.js";
import { assignmentProblem, ed25519PublicKey } from "../src/handoff.js";

const daemonKey = generateKeyPairSync("ed25519");
const otherKey = generateKeyPairSync("ed25519");
const STATE = { pages: 6, done: 2, summary: ["page 1: ok", "page 2: ok"] };

/** An assignment of doc-1 at epoch 2 to sum-ts, handed over from sum-1, signed by `key`. */
function handoff(key = daemonKey.privateKey): Assignment {
  const hash = stateHash(STATE);
  const facts = { packetId: "doc-1", epoch: 2n, fromMember: "sum-1", toMember: "sum-ts",
    stateHash: hash, issuedAt: "2026-11-21T13:15:00.507312Z" };
  return create(AssignmentSchema, {
    epoch: 2n,
    packet: { packetId: "doc-1", epoch: 2n, contextCheckpoint: {
      state: STATE, step: "page-2", stateHash: hash, epoch: 1n, savedBy: "sum-1" } },
    handoffToken: { ...facts, keyId: "k1", signature: sign(null, tokenSignedBytes(facts), key) },
  });
}

const rawPublic = (pair: typeof daemonKey): Uint8Array =>
  Buffer.from(pair.publicKey.export({ format: "jwk" }).x as string, "base64url");
const daemonPublic = ed25519PublicKey(rawPublic(daemonKey));
const keys = (id: string) => (id === "k1" ? daemonPublic : undefined);

test("a genuine handoff passes", () => {
  assert.equal(assignmentProblem(handoff(), "sum-ts", keys), "");
});

test("a tampered state is refused", () => {
  const assignment = handoff();
  assignment.packet!.contextCheckpoint!.state = { ...STATE, done: 5 };
  assert.match(assignmentProblem(assignment, "sum-ts", keys), /does not match its state_hash/);
});

test("a checkpoint rehashed but not the signed one is refused", () => {
  const assignment = handoff();
  const checkpoint = assignment.packet!.contextCheckpoint!;
  checkpoint.state = { ...STATE, done: 5 };
  checkpoint.stateHash = stateHash(checkpoint.state);
  assert.match(assignmentProblem(assignment, "sum-ts", keys), /not the one the handoff token/);
});

test("a token signed by another key is refused", () => {
  assert.match(assignmentProblem(handoff(otherKey.privateKey), "sum-ts", keys), /signature does not verify/);
  assert.match(assignmentProblem(handoff(), "sum-ts", () => ed25519PublicKey(rawPublic(otherKey))),
    /signature does not verify/);
  assert.match(assignmentProblem(handoff(), "sum-ts", () => undefined), /unknown key k1/);
});

test("a token for another member or epoch is refused", () => {
  assert.match(assignmentProblem(handoff(), "sum-other", keys), /another epoch or member/);
  const stale = handoff();
  stale.epoch = 3n;
  assert.match(assignmentProblem(stale, "sum-ts", keys), /another epoch or member/);
});

test("a key that is not 32 bytes is refused", () => {
  assert.throws(() => ed25519PublicKey(new Uint8Array(31)), /32 bytes, got 31/);
});
