/**
 * SIGTERM drains the TypeScript worker mid-packet: the packet moves to another member with its
 * last checkpoint, the worker exits 0 once the daemon has retired it, and the other finishes.
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

test("SIGTERM mid-packet hands the packet off with its checkpoint, then exits 0", async () => {
  const first = new Agent("ts", "ts-1", daemon.address, daemon.dir, "--trust", "0.9", "--seconds-per-page", "0.3");
  const second = new Agent("ts", "ts-2", daemon.address, daemon.dir, "--trust", "0.5", "--seconds-per-page", "0.05");
  agents.push(first, second);
  await daemon.sessions(2);
  await daemon.client.submitPacket({ packetId: "doc-1", requiredCapabilities: ["summarize"], state: { pages: 8 } });
  await waitUntil("page-2", async () => (await daemon.packet("doc-1")).contextCheckpoint?.step === "page-2");

  assert.equal(await first.signal("SIGTERM"), 0);
  const done = await daemon.completed("doc-1");
  assert.equal(done.currentOwner, "ts-2");
  assert.deepEqual(done.previousOwners, ["ts-1"]);
  assert.equal(done.handoffToken?.fromMember, "ts-1");
  const events = (await daemon.client.recorder.queryEvents({ packetId: "doc-1" })).events;
  assert.ok(events.some((e) => e.type === "handoff_started" && e.data?.trigger === "drain"));
  const retired = await daemon.client.members.getMember({ memberId: "ts-1" });
  assert.match(retired.member?.statusReason ?? "", /^drain complete/);
  assert.match(first.text(), /asking to be drained of 1 packet/);
  assert.match(second.text(), /doc-1: taking over from ts-1 at page [2-8]/);
  assert.equal(await second.signal("SIGTERM"), 0);
});
