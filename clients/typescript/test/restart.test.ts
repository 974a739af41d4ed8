/**
 * The TypeScript worker rides out a daemon restart mid-packet: its session reconnects with
 * backoff, its checkpoint and complete calls wait the outage out, and it finishes the packet
 * as the same owner at the same epoch.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Agent, Daemon, waitUntil } from "./daemon.js";

let daemon: Daemon;
const agents: Agent[] = [];

before(async () => {
  daemon = await Daemon.start();
});

after(async () => {
  for (const agent of agents) agent.cleanup();
  await daemon.stop();
});

test("a daemon restart mid-packet: same owner, same epoch, completed", async () => {
  const agent = new Agent("ts", "ts-1", daemon.address, daemon.dir, "--seconds-per-page", "0.3");
  agents.push(agent);
  await daemon.sessions(1);
  await daemon.client.submitPacket({ packetId: "doc-1", requiredCapabilities: ["summarize"], state: { pages: 8 } });
  await waitUntil("page-2", async () => (await daemon.packet("doc-1")).contextCheckpoint?.step === "page-2");
  await daemon.restart();
  const done = await daemon.completed("doc-1");
  assert.equal(done.currentOwner, "ts-1");
  assert.equal(done.epoch, 1n);
  assert.deepEqual(done.previousOwners, []);
  assert.equal(done.contextCheckpoint?.step, "page-8");
  assert.match(agent.text(), /session to phoenixd at 127\.0\.0\.1:\d+ interrupted \(Unavailable/);
  assert.equal(await agent.signal("SIGTERM"), 0);
});
