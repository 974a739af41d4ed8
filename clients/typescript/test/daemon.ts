/**
 * What the integration tests share: a real phoenixd on a free loopback port (from the
 * project's venv), agent processes in either language, and bounded polling.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type FlightPacket, PacketStatus, PhoenixClient } from "../src/index.js";
import { phoenixd, python, root } from "./python.js";

const TS_AGENT = resolve(import.meta.dirname, "..", "examples", "agent.js");
const PY_AGENT = join(root, "examples", "summarizer_agent.py");

/** A loopback port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });
}

/** Polls `check` every `everyMs` until it returns a value; fails after `withinMs`. */
export async function waitUntil<T>(
  what: string, check: () => Promise<T | undefined | false>, withinMs = 30_000, everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${withinMs / 1000}s`);
}

export class Daemon {
  readonly client: PhoenixClient;
  private proc: ChildProcess | undefined;
  private constructor(readonly address: string, readonly dir: string, private readonly flags: string[]) {
    this.client = new PhoenixClient({ endpoint: address, timeoutMs: 5_000 });
  }

  /** Starts phoenixd with `flags` and waits until it serves. */
  static async start(...flags: string[]): Promise<Daemon> {
    const daemon = new Daemon(`127.0.0.1:${await freePort()}`, mkdtempSync(join(tmpdir(), "phoenix-ts-")), flags);
    await daemon.serve();
    return daemon;
  }

  /** Starts the process over the same data dir and port; waits (up to 20 s) until it serves. */
  private async serve(): Promise<void> {
    const log = openSync(join(this.dir, "phoenixd.log"), "a");
    this.proc = spawn(phoenixd, ["--listen", this.address, "--data-dir", join(this.dir, "data"),
      "--log-format", "json", ...this.flags], { stdio: ["ignore", log, log] });
    await waitUntil("phoenixd serving", () => this.client.verifyChain().then(() => true, () => false), 20_000);
  }

  /** Stops phoenixd (SIGTERM, by its PID) and starts it again over the same journal. */
  async restart(): Promise<void> {
    await this.terminate();
    await this.serve();
  }

  private async terminate(): Promise<void> {
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }
  }

  async packet(packetId: string): Promise<FlightPacket> {
    return this.client.getPacket(packetId);
  }

  async completed(packetId: string): Promise<FlightPacket> {
    return waitUntil(`${packetId} completed`, async () => {
      const packet = await this.packet(packetId);
      return packet.status === PacketStatus.COMPLETED && packet;
    });
  }

  /** Waits until `count` members hold an open session. */
  async sessions(count: number): Promise<void> {
    await waitUntil(`${count} open session(s)`, async () =>
      (await this.client.members.listMembers({})).members.filter((m) => m.sessionOpen).length === count);
  }

  async stop(): Promise<void> {
    await this.terminate();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A summarizer agent process: the TypeScript example or the Python one, same flags. */
export class Agent {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly logPath: string;

  constructor(language: "ts" | "python", memberId: string, endpoint: string, dir: string, ...flags: string[]) {
    this.logPath = join(dir, `${memberId}.log`);
    const log = openSync(this.logPath, "w");
    const [command, script] = language === "ts" ? [process.execPath, TS_AGENT] : [python, PY_AGENT];
    this.proc = spawn(command, [script, "--member-id", memberId, "--endpoint", endpoint, ...flags],
      { stdio: ["ignore", log, log] });
    this.exited = new Promise((r) => this.proc.once("exit", (code) => r(code)));
  }

  text(): string {
    return readFileSync(this.logPath, "utf8");
  }

  /** Waits (up to `withinMs`) for the process to exit by itself; its exit code. */
  async exit(withinMs = 30_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`agent still running after ${withinMs / 1000}s`)), withinMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` to this agent's process (by its PID) and waits for it to exit. */
  async signal(signal: NodeJS.Signals): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exit();
  }

  /** Ends the process if a failed test left it running. */
  cleanup(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }
}
