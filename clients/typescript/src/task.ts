/** One assignment being worked on: what a Member's handler receives. */
import type { JsonObject } from "@bufbuild/protobuf";
import type { Assignment, FlightPacket, HandoffToken } from "./gen/phoenixflight/v1/packet_pb.js";

/** Saves a checkpoint of the task's packet at its epoch (the Member supplies it, with retries). */
export type SaveCheckpoint = (state: JsonObject, step: string, signal: AbortSignal) => Promise<void>;

export class Task {
  readonly packet: FlightPacket;
  readonly epoch: bigint;
  readonly token: HandoffToken | undefined;
  /** Aborted when the packet is taken away (revoked, superseded) or the member stops. */
  readonly signal: AbortSignal;
  /** The last checkpoint's state: where this owner starts, then what it last saved. */
  state: JsonObject;
  step: string;
  private readonly save: SaveCheckpoint;

  constructor(assignment: Assignment, signal: AbortSignal, save: SaveCheckpoint) {
    if (!assignment.packet) throw new Error("assignment carries no packet");
    this.packet = assignment.packet;
    this.epoch = assignment.epoch;
    this.token = assignment.handoffToken;
    this.signal = signal;
    this.state = assignment.packet.contextCheckpoint?.state ?? {};
    this.step = assignment.packet.contextCheckpoint?.step ?? "";
    this.save = save;
  }

  get packetId(): string {
    return this.packet.packetId;
  }

  /** The previous owner when this assignment is a handoff ("" for a first one). */
  get handedOverFrom(): string {
    return this.token?.fromMember ?? "";
  }

  /**
   * Saves progress; a handoff gives the next owner exactly this. Rejects with a ConnectError
   * (FAILED_PRECONDITION) once the packet is no longer this member's, and with the signal's
   * reason once the task is stopped.
   */
  async checkpoint(state: JsonObject, step = ""): Promise<void> {
    this.signal.throwIfAborted();
    await this.save(state, step, this.signal);
    this.state = state;
    this.step = step;
  }
}

/** The work: returns the packet's result (or nothing), throws to fail the attempt. */
export type Handler = (task: Task) => Promise<JsonObject | void>;
