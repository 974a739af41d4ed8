/**
 * How the TypeScript worker stops at every stage: an invalid member id fails before any call;
 * registration logs each attempt and gives up at its deadline with one line and exit 1; SIGTERM
 * while registering stops at once; SIGTERM with no work leaves at once and retires the member.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Member, MemberStatus, RegistrationError } from "../src/index.js";
import { Agent, Daemon, freePort, waitUntil } from "./daemon.js";

let dir: string;
let closed: string;  // a loopback address nothing listens on
const agents: Agent[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "phoenix-ts-stop-"));
  closed = `127.0.0.1:${await freePort()}`;
});

after(() => {
  for (const agent of agents) agent.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test("an invalid member id is one clear error before any call", () => {
  assert.throws(() => new Member({ memberId: "Worker_1", capabilities: ["summarize"],
    endpoint: closed, handler: async () => undefined }),
  (error: unknown) => error instanceof RegistrationError &&
    /member id "Worker_1" is not valid: use 1-63 lowercase letters/.test(error.message));
});

test("registration logs every attempt and gives up at its deadline with one line", async () => {
  const agent = new Agent("ts", "ts-late", closed, dir, "--register-deadline", "1");
  agents.push(agent);
  assert.equal(await agent.exit(), 1);
  const lines = agent.text().trim().split("\n");
  assert.match(lines.at(-1) ?? "", /^agent: could not register member ts-late with phoenixd at 127\.0\.0\.1:\d+ within 1s \(last error: Unavailable/);
  assert.ok(lines.filter((l) => /registering member ts-late .*\(attempt \d+\)/.test(l)).length >= 2);
  assert.ok(lines.some((l) => /registration of member ts-late failed \(Unavailable.*\); retrying in/.test(l)));
});

test("SIGTERM while registering stops at once", async () => {
  const agent = new Agent("ts", "ts-waiting", closed, dir);
  agents.push(agent);
  await waitUntil("a second attempt", async () => agent.text().includes("(attempt 2)"));
  assert.equal(await agent.signal("SIGTERM"), 0);
  assert.doesNotMatch(agent.text(), /serving as member/);
});

test("SIGTERM with no work leaves at once and the member is retired", async () => {
  const daemon = await Daemon.start();
  try {
    const agent = new Agent("ts", "ts-idle", daemon.address, dir, "--trust", "0.7");
    agents.push(agent);
    await daemon.sessions(1);
    assert.match(agent.text(), /serving as member ts-idle at 127\.0\.0\.1:\d+ \(capabilities: summarize\)/);
    assert.equal(await agent.signal("SIGTERM"), 0);
    assert.match(agent.text(), /no work in hand, leaving now/);
    const member = await daemon.client.members.getMember({ memberId: "ts-idle" });
    assert.equal(member.member?.status, MemberStatus.RETIRED);
  } finally {
    await daemon.stop();
  }
});
