/**
 * The TypeScript client against a live phoenixd (started here from the project's .venv on a
 * free loopback port): registers a member, submits a packet, and reads the audit feed.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { MemberStatus, PacketStatus, PhoenixClient } from "../src/index.js";

const root = resolve(import.meta.dirname, "..", "..", "..", "..");
const phoenixd = process.env.PHOENIXD ?? join(root, ".venv", "bin", "phoenixd");
let daemon: ChildProcess;
let dataDir: string;
let pf: PhoenixClient;

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });
}

before(async () => {
  const port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), "phoenix-ts-"));
  daemon = spawn(phoenixd, ["--listen", `127.0.0.1:${port}`, "--data-dir", join(dataDir, "data"),
    "--log-format", "json"], { stdio: "ignore" });
  pf = new PhoenixClient({ endpoint: `127.0.0.1:${port}`, timeoutMs: 5_000 });
  for (let i = 0; i < 200; i++) {  // up to 10 s for the daemon to serve
    try {
      await pf.verifyChain();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("phoenixd did not start");
});

after(() => {
  daemon.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

test("registers a member and submits a packet it then owns", async () => {
  const { member, credential } = await pf.registerMember("ts-agent", ["ocr@2"], {
    trustScore: 0.9, labels: { region: "us-east" }, leaseTtlSeconds: 30,
  });
  assert.equal(member.status, MemberStatus.ACTIVE);
  assert.ok(credential.length > 20);
  await pf.heartbeat("ts-agent", credential);
  const packet = await pf.submitPacket({
    packetId: "ts-fp-1", requiredCapabilities: ["ocr@2"], state: { case_id: "C-1" }, step: "start",
  });
  assert.equal(packet.status, PacketStatus.ASSIGNED);
  assert.equal(packet.currentOwner, "ts-agent");
  assert.equal(packet.epoch, 1n);
  assert.match(packet.contextCheckpoint?.stateHash ?? "", /^sha256:[0-9a-f]{64}$/);
  const acked = await pf.packets.ackPacket({ memberId: "ts-agent", credential, packetId: "ts-fp-1", epoch: 1n });
  assert.equal(acked.packet?.status, PacketStatus.RUNNING);
});

test("reads the audit feed from the beginning and verifies the chain", async () => {
  const controller = new AbortController();
  const types: string[] = [];
  for await (const event of pf.watchEvents({ afterSequence: 0n, signal: controller.signal })) {
    types.push(event.type);
    if (event.type === "packet_acked") break;
  }
  controller.abort();
  assert.deepEqual(types.slice(0, 2), ["daemon_started", "member_registered"]);
  assert.ok(types.includes("assignment_decision"));
  assert.equal((await pf.verifyChain()).ok, true);
});

test("refusals carry the gRPC status code", async () => {
  await assert.rejects(pf.getPacket("no-such-packet"), (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.NotFound);
    return true;
  });
});

test("reaches the namespace, bundle, simulator and health services", async () => {
  const created = await pf.namespaces.createNamespace({ namespace: { name: "ts-team", labels: { owner: "ts" } } });
  assert.equal(created.namespace?.name, "ts-team");
  const listed = await pf.namespaces.listNamespaces({});
  assert.ok(listed.namespaces.some((ns) => ns.name === "ts-team"));
  assert.deepEqual((await pf.bundles.listBundles({})).bundles, []);
  const run = await pf.simulator.simulate({ mode: "agentic", preset: "unreliable-agents", steps: 4,
    members: 6, packets: 20, learnReliability: true });
  assert.equal(run.strategy, "trust+learned");
  assert.equal(run.steps.length, 4);
  assert.match(run.headHash, /^[0-9a-f]{64}$/);
  const health = await pf.cluster.getClusterHealth({});
  assert.equal(health.si, 1 / (1 + health.mcr));
});
