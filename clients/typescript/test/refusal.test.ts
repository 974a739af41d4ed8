/**
 * A Member refuses an assignment it cannot trust with FailPacket, naming why: a state tampered
 * with on the way, a token checked against another key, a token for another member. Each is
 * forged in flight (an interceptor on the member's own calls) over a real daemon.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, test } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import { type Assignment, Member, PacketStatus } from "../src/index.js";
import { Daemon, waitUntil } from "./daemon.js";

let daemon: Daemon;

before(async () => {
  daemon = await Daemon.start();
});

after(async () => {
  await daemon.stop();
});

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Rewrites what the daemon sends: each assignment on the session, and the handoff key. */
function forging(assignment: (a: Assignment) => void, publicKey?: Uint8Array): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    if (!res.stream) {
      if (publicKey && req.method.name === "GetHandoffKey") {
        (res.message as unknown as { publicKey: Uint8Array }).publicKey = publicKey;
      }
      return res;
    }
    const messages = res.message as AsyncIterable<{ kind: { case?: string; value?: unknown } }>;
    async function* forged() {
      for await (const message of messages) {
        if (message.kind.case === "assignment") assignment(message.kind.value as Assignment);
        yield message;
      }
    }
    return { ...res, message: forged() } as typeof res;
  };
}

async function refused(memberId: string, interceptor: Interceptor): Promise<string> {
  const member = new Member({ memberId, capabilities: [`check-${memberId}`], endpoint: daemon.address,
    interceptors: [interceptor], logger: quiet, handleSignals: false,
    handler: async () => { throw new Error("a refused assignment must not be worked on"); } });
  const running = member.run();
  try {
    await daemon.sessions(1);
    await daemon.client.submitPacket({ packetId: `fp-${memberId}`, requiredCapabilities: [`check-${memberId}`],
      state: { pages: 3 }, maxAttempts: 1 });
    const failed = await waitUntil("the refusal", async () => {
      const packet = await daemon.packet(`fp-${memberId}`);
      return packet.status === PacketStatus.FAILED && packet;
    });
    assert.deepEqual(member.completed, []);
    return failed.failureReason;
  } finally {
    member.stop();
    await running;
  }
}

test("a tampered state is refused", async () => {
  const reason = await refused("tampered", forging((a) => { a.packet!.contextCheckpoint!.state = { pages: 99 }; }));
  assert.match(reason, /handoff check failed: checkpoint state does not match its state_hash/);
});

test("a token that does not verify with the key is refused", async () => {
  const other = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x as string;
  const reason = await refused("wrong-key", forging(() => undefined, Buffer.from(other, "base64url")));
  assert.match(reason, /handoff check failed: token signature does not verify/);
});

test("a token for another member is refused", async () => {
  const reason = await refused("elsewhere", forging((a) => { a.handoffToken!.toMember = "someone-else"; }));
  assert.match(reason, /handoff check failed: token is for another epoch or member/);
});
