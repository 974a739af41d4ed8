/**
 * A handoff across languages: the owner (TypeScript, then Python) is killed with SIGKILL after
 * its first checkpoint; the daemon fails it and hands the packet, with that checkpoint and a
 * signed token, to a worker in the other language, which resumes from it and completes.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { stateHash } from "../src/index.js";
import { Agent, Daemon, waitUntil } from "./daemon.js";

let daemon: Daemon;
const agents: Agent[] = [];

before(async () => {
  daemon = await Daemon.start("--suspect-grace", "0.5");
});

after(async () => {
  for (const agent of agents) agent.cleanup();
  await daemon.stop();
});

function agent(language: "ts" | "python", memberId: string, ...flags: string[]): Agent {
  const started = new Agent(language, memberId, daemon.address, daemon.dir, "--lease-ttl", "1", ...flags);
  agents.push(started);
  return started;
}

async function handover(from: "ts" | "python", to: "ts" | "python", packetId: string): Promise<void> {
  const owner = agent(from, `${from}-owner-${packetId}`, "--trust", "0.9", "--seconds-per-page", "0.4");
  const taker = agent(to, `${to}-taker-${packetId}`, "--trust", "0.5", "--seconds-per-page", "0.05");
  await daemon.sessions(2);
  await daemon.client.submitPacket({ packetId, requiredCapabilities: ["summarize"], state: { pages: 6 } });
  await waitUntil("the first checkpoint", async () =>
    (await daemon.packet(packetId)).contextCheckpoint?.step === "page-1");
  await owner.signal("SIGKILL");
  const ownerId = `${from}-owner-${packetId}`;
  const takerId = `${to}-taker-${packetId}`;

  const done = await daemon.completed(packetId);
  assert.equal(done.currentOwner, takerId);
  assert.deepEqual(done.previousOwners, [ownerId]);
  assert.equal(done.contextCheckpoint?.step, "page-6");
  assert.deepEqual(done.result?.summary, [1, 2, 3, 4, 5, 6].map((p) => `page ${p}: ok`));
  // The taker resumed from the checkpoint the daemon signed over when it handed the packet on.
  const resumed = Number(/taking over from \S+ at page (\d+)/.exec(await waitUntil("the taker's log",
    async () => taker.text().includes("taking over") && taker.text()))?.[1]);
  assert.ok(resumed >= 1, `resumed at page ${resumed}`);
  assert.equal(done.handoffToken?.fromMember, ownerId);
  const handed = { pages: 6, done: resumed, summary: Array.from({ length: resumed }, (_, i) => `page ${i + 1}: ok`) };
  assert.equal(done.handoffToken?.stateHash, stateHash(handed));
  const events = (await daemon.client.recorder.queryEvents({ packetId })).events.map((e) => e.type);
  assert.ok(events.includes("handoff_completed"), events.join(", "));
  assert.equal(await taker.signal("SIGTERM"), 0);
}

test("a TypeScript owner killed after its first checkpoint: a Python worker finishes", async () => {
  await handover("ts", "python", "doc-ts-py");
});

test("a Python owner killed after its first checkpoint: a TypeScript worker finishes", async () => {
  await handover("python", "ts", "doc-py-ts");
});
