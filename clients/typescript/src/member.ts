/**
 * The Member worker: a process that does Flight Packets' work and survives churn.
 *
 *   const member = new Member({ memberId: "ocr-worker-1", capabilities: ["ocr@2"],
 *     handler: async (task) => { ...; await task.checkpoint({ page: 1 }, "page-1"); } });
 *   await member.run();
 *
 * It registers (re-using a saved credential to replace its own earlier incarnation), holds a
 * session (heartbeats, reconnects with backoff when the daemon restarts), verifies each
 * assignment's checkpoint hash and handoff token, acks it, runs the handler, and completes or
 * fails the packet. A revocation aborts the handler's signal. SIGTERM/SIGINT stop it: at once
 * while it registers or reconnects or holds no work; with work it asks to be drained (movable
 * packets are handed off with their last checkpoint) and `run()` returns once retired.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { KeyObject } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { duration, secondsOf } from "./duration.js";
import type { OpenSessionRequestSchema, OpenSessionResponse } from "./gen/phoenixflight/v1/membership_service_pb.js";
import type { Assignment } from "./gen/phoenixflight/v1/packet_pb.js";
import { assignmentProblem, ed25519PublicKey } from "./handoff.js";
import { PhoenixClient, type PhoenixOptions, type RegisterOptions } from "./client.js";
import { type Logger, consoleLogger } from "./logger.js";
import { Outbox } from "./outbox.js";
import { type Handler, Task } from "./task.js";

type SessionMessage = MessageInitShape<typeof OpenSessionRequestSchema>;

// The daemon's id rule (phoenixd.core.validation): checked here so a typo fails before any call.
const MEMBER_ID = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// Heartbeats until `opened` names the interval; the daemon's default lease is 10 s.
const FIRST_HEARTBEAT_MS = 1_000;

export interface MemberOptions extends PhoenixOptions {
  memberId: string;
  capabilities: string[];
  handler: Handler;
  /** Registration fields: kind, trust score, reliability, labels, lease TTL. */
  registration?: RegisterOptions;
  /** Packets worked on at once (default 4). */
  concurrency?: number;
  /** Keeps the credential here, so a restarted process replaces its live incarnation. */
  credentialFile?: string;
  /** How long the daemon lets a drain run before evicting what is left (default 30 s). */
  drainDeadlineSeconds?: number;
  /** Registration gives up after this long without success (default 60 s). */
  registerDeadlineSeconds?: number;
  /** Retry delays: first and largest, doubling in between (default 200 ms and 5 s). */
  backoffMs?: [number, number];
  logger?: Logger;
  /** Stop on SIGTERM/SIGINT (default true). */
  handleSignals?: boolean;
}

/** The member could not register: refused, or not done by the registration deadline. */
export class RegistrationError extends Error {
  override name = "RegistrationError";
}

/** Why a member id is not one the daemon accepts, or "" when it is. */
export function memberIdProblem(memberId: string): string {
  if (MEMBER_ID.test(memberId)) return "";
  return `member id ${JSON.stringify(memberId)} is not valid: use 1-63 lowercase letters, digits ` +
    "and '-', starting and ending with a letter or digit";
}

function retryable(error: unknown): error is ConnectError {
  return error instanceof ConnectError &&
    (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded);
}

function describe(error: unknown): string {
  if (error instanceof ConnectError) return `${Code[error.code]}: ${error.rawMessage}`;
  return error instanceof Error ? error.message : String(error);
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

/** A counting semaphore: at most `concurrency` handlers run at once. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(count: number) { this.free = count; }
  async acquire(): Promise<void> {
    if (this.free > 0) { this.free--; return; }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next(); else this.free++;
  }
}

interface Running {
  epoch: bigint;
  controller: AbortController;
  done: Promise<void>;
}

/** A worker member. `run()` until stopped (SIGTERM, SIGINT or `stop()`). */
export class Member {
  readonly memberId: string;
  readonly capabilities: string[];
  /** Packets this process completed, for callers and tests. */
  readonly completed: string[] = [];
  credential = "";
  private readonly client: PhoenixClient;
  private readonly options: MemberOptions;
  private readonly log: Logger;
  private readonly slots: Slots;
  private readonly backoff: [number, number];
  private readonly tasks = new Map<string, Running>();
  private readonly keys = new Map<string, KeyObject>();
  private readonly stopping = new AbortController();
  private outbox: Outbox<SessionMessage> | undefined;
  private leaveSent = false;
  private opened = false;  // the current session got its `opened`
  private serving = false;  // announced once, at the first session
  private finished = false;

  constructor(options: MemberOptions) {
    const problem = memberIdProblem(options.memberId);
    if (problem) throw new RegistrationError(problem);
    this.memberId = options.memberId;
    this.capabilities = options.capabilities;
    this.options = options;
    this.client = new PhoenixClient(options);
    this.log = options.logger ?? consoleLogger;
    this.slots = new Slots(options.concurrency ?? 4);
    this.backoff = options.backoffMs ?? [200, 5_000];
  }

  /**
   * Stop (what SIGTERM and SIGINT do): at once while registering, reconnecting or idle;
   * with work in hand, drain it first.
   */
  stop(): void {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    this.leave();
  }

  async run(): Promise<void> {
    const onSignal = (): void => this.stop();
    if (this.options.handleSignals ?? true) {
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    }
    try {
      await this.register(false);
      await this.serve();
    } finally {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      const running = [...this.tasks.values()].map((t) => t.done);
      this.abortAll("member stopping");
      await Promise.allSettled(running);
    }
  }

  /** Sessions until retired or stopped, reconnecting with backoff. */
  private async serve(): Promise<void> {
    let delay = this.backoff[0];
    while (!this.finished && !this.stopping.signal.aborted) {
      try {
        await this.session();
        delay = this.backoff[0];
      } catch (error) {
        if (error instanceof ConnectError &&
            (error.code === Code.Unauthenticated || error.code === Code.FailedPrecondition)) {
          if (this.stopping.signal.aborted) return;  // retired (or failed) while leaving
          this.log.warn(`member ${this.memberId} lost its registration (${describe(error)}); ` +
            "registering again");
          this.abortAll("registration lost");
          await this.register(true);
          continue;
        }
        if (!retryable(error)) throw error;
        if (this.opened) delay = this.backoff[0];  // it was up: a new outage starts over
        if (this.finished || this.stopping.signal.aborted) return;
        this.log.info(`session to phoenixd at ${this.client.endpoint} interrupted ` +
          `(${describe(error)}); retrying in ${(delay / 1000).toFixed(1)}s`);
      }
      await pause(delay, this.stopping.signal);
      delay = Math.min(delay * 2, this.backoff[1]);
    }
  }

  // -- registration -------------------------------------------------------------------

  /** Registers, retrying while the daemon is down or an older incarnation lives, until the deadline. */
  private async register(fresh: boolean): Promise<void> {
    const limitMs = (this.options.registerDeadlineSeconds ?? 60) * 1000;
    const giveUpAt = Date.now() + limitMs;
    const saved = fresh ? "" : this.savedCredential();
    let delay = this.backoff[0];
    for (let attempt = 1; !this.stopping.signal.aborted; attempt++) {
      this.log.info(`registering member ${this.memberId} with phoenixd at ${this.client.endpoint} ` +
        `(attempt ${attempt})`);
      try {
        const { credential } = await this.client.registerMember(this.memberId, this.capabilities,
          { ...this.options.registration, credential: saved, signal: this.stopping.signal });
        this.credential = credential;
        if (this.options.credentialFile) {
          writeFileSync(this.options.credentialFile, credential, { mode: 0o600 });
        }
        return;
      } catch (error) {
        if (this.stopping.signal.aborted) return;  // stopped while the call was in flight
        const waiting = error instanceof ConnectError && error.code === Code.AlreadyExists;
        if (!waiting && !retryable(error)) {
          throw new RegistrationError(`phoenixd refused to register member ${this.memberId}: ` +
            describe(error));
        }
        const left = giveUpAt - Date.now();
        if (left <= delay) {
          throw new RegistrationError(`could not register member ${this.memberId} with phoenixd at ` +
            `${this.client.endpoint} within ${limitMs / 1000}s (last error: ${describe(error)})`);
        }
        this.log.warn(`registration of member ${this.memberId} failed (${describe(error)}); ` +
          `retrying in ${(delay / 1000).toFixed(1)}s, giving up in ${(left / 1000).toFixed(0)}s`);
        await pause(delay, this.stopping.signal);
        delay = Math.min(delay * 2, this.backoff[1]);
      }
    }
  }

  private savedCredential(): string {
    const file = this.options.credentialFile;
    if (!file) return "";
    try {
      return readFileSync(file, "utf8").trim();
    } catch {
      return "";  // no saved credential yet: a first registration
    }
  }

  // -- the session --------------------------------------------------------------------

  private async session(): Promise<void> {
    const outbox = new Outbox<SessionMessage>();
    outbox.push({ kind: { case: "open", value: { memberId: this.memberId, credential: this.credential } } });
    this.outbox = outbox;
    this.leaveSent = false;
    this.opened = false;
    let beats = this.heartbeats(outbox, FIRST_HEARTBEAT_MS);
    const held = new Set<string>();
    try {
      for await (const message of this.client.members.openSession(outbox)) {
        if (message.kind.case === "opened") {
          clearInterval(beats);
          const intervalMs = secondsOf(message.kind.value.heartbeatInterval) * 1000;
          beats = this.heartbeats(outbox, intervalMs || FIRST_HEARTBEAT_MS);
          this.onOpened();
        } else if (message.kind.case === "closing") {
          this.log.info(`phoenixd closed the session: ${message.kind.value.reason}`);
          // A retirement (drain complete) or the goodbye this member sent when it left.
          if (/retired|^goodbye/.test(message.kind.value.reason)) this.finished = true;
          return;
        } else {
          await this.onMessage(message, held);
        }
      }
    } finally {
      clearInterval(beats);
      outbox.close();
      this.outbox = undefined;
    }
  }

  private onOpened(): void {
    this.opened = true;
    if (!this.serving) {
      this.serving = true;
      this.log.info(`serving as member ${this.memberId} at ${this.client.endpoint} ` +
        `(capabilities: ${this.capabilities.join(", ")})`);
    }
    if (this.stopping.signal.aborted) this.leave();
  }

  private async onMessage(message: OpenSessionResponse, held: Set<string>): Promise<void> {
    const kind = message.kind;
    if (kind.case === "assignment") {
      held.add(kind.value.packet?.packetId ?? "");
      await this.assigned(kind.value);
    } else if (kind.case === "assignmentsSynced") {
      for (const packetId of this.tasks.keys()) {
        if (!held.has(packetId)) this.abort(packetId, "not among this member's assignments");
      }
    } else if (kind.case === "revocation") {
      const current = this.tasks.get(kind.value.packetId);
      if (current && current.epoch <= kind.value.epoch) {  // an older revocation is stale
        this.abort(kind.value.packetId, kind.value.reason);
      }
    }
  }

  private heartbeats(outbox: Outbox<SessionMessage>, intervalMs: number): NodeJS.Timeout {
    return setInterval(() => {
      if (outbox.pending === 0) outbox.push({ kind: { case: "heartbeat", value: {} } });
    }, intervalMs);
  }

  /** Tells the daemon this member leaves: a drain with work in hand, else a retiring goodbye. */
  private leave(): void {
    if (!this.outbox || !this.opened || this.leaveSent) return;
    this.leaveSent = true;
    if (this.tasks.size > 0) {
      this.log.info(`member ${this.memberId} stopping: asking to be drained of ${this.tasks.size} packet(s)`);
      this.outbox.push({ kind: { case: "drain", value: {
        reason: "member shutting down", deadline: duration(this.options.drainDeadlineSeconds ?? 30),
      } } });
    } else {
      this.log.info(`member ${this.memberId} stopping: no work in hand, leaving now`);
      this.outbox.push({ kind: { case: "goodbye", value: { reason: "member shutting down", retire: true } } });
    }
  }

  // -- work ---------------------------------------------------------------------------

  private async assigned(assignment: Assignment): Promise<void> {
    const packetId = assignment.packet?.packetId ?? "";
    const epoch = assignment.epoch;
    const current = this.tasks.get(packetId);
    if (current && current.epoch >= epoch) return;  // already working on this (or a newer) epoch
    if (current) this.abort(packetId, "superseded by a newer epoch");
    const problem = await this.verify(assignment);
    if (problem) {
      this.log.error(`refusing ${packetId} at epoch ${epoch}: ${problem}`);
      await this.client.packets.failPacket({ memberId: this.memberId, credential: this.credential,
        packetId, epoch, reason: `handoff check failed: ${problem}` }).catch((error: unknown) =>
        this.log.warn(`could not refuse ${packetId}: ${describe(error)}`));
      return;
    }
    const controller = new AbortController();
    const task = new Task(assignment, controller.signal, (state, step, signal) =>
      this.retrying(() => this.client.packets.saveCheckpoint({ memberId: this.memberId,
        credential: this.credential, packetId, epoch, state, step }), signal).then(() => undefined));
    this.tasks.set(packetId, { epoch, controller, done: this.work(task) });
  }

  /** "" if the token is the daemon's and the checkpoint is the one it signed. */
  private async verify(assignment: Assignment): Promise<string> {
    const keyId = assignment.handoffToken?.keyId ?? "";
    if (!this.keys.has(keyId)) {
      const served = await this.retrying(() => this.client.packets.getHandoffKey({}), this.stopping.signal);
      this.keys.set(served.keyId, ed25519PublicKey(served.publicKey));
    }
    return assignmentProblem(assignment, this.memberId, (id) => this.keys.get(id));
  }

  private async work(task: Task): Promise<void> {
    const ids = { memberId: this.memberId, packetId: task.packetId, epoch: task.epoch };
    await this.slots.acquire();
    try {
      await this.retrying(() => this.client.packets.ackPacket({ ...ids, credential: this.credential }), task.signal);
      const result = await this.options.handler(task);
      task.signal.throwIfAborted();
      await this.retrying(() => this.client.packets.completePacket({ ...ids, credential: this.credential,
        result: result ?? {} }), task.signal);
      this.completed.push(task.packetId);
    } catch (error) {
      if (task.signal.aborted) return;  // stopped: the packet is no longer ours to report on
      if (error instanceof ConnectError) {  // fenced: the packet moved on without us
        this.log.info(`packet ${task.packetId} epoch ${task.epoch}: ${describe(error)}`);
        return;
      }
      this.log.error(`packet ${task.packetId} failed: ${describe(error)}`);
      await this.client.packets.failPacket({ ...ids, credential: this.credential,
        reason: describe(error).slice(0, 1000) }).catch(() => undefined);  // fenced meanwhile
    } finally {
      this.slots.release();
      if (this.tasks.get(task.packetId)?.epoch === task.epoch) this.tasks.delete(task.packetId);
    }
  }

  /**
   * Runs a member-side call, waiting out a daemon restart (UNAVAILABLE) with backoff until
   * `signal` aborts; any other refusal (e.g. fencing) is thrown.
   */
  async retrying<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    let delay = this.backoff[0];
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (!retryable(error) || signal.aborted) throw error;
        await pause(delay, signal);
        delay = Math.min(delay * 2, this.backoff[1]);
      }
    }
  }

  private abort(packetId: string, reason: string): void {
    const running = this.tasks.get(packetId);
    if (!running) return;
    this.tasks.delete(packetId);
    this.log.info(`stopping ${packetId}: ${reason}`);
    running.controller.abort(new Error(reason));
  }

  private abortAll(reason: string): void {
    for (const packetId of [...this.tasks.keys()]) this.abort(packetId, reason);
  }
}
