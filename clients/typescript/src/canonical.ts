/**
 * The wire rules both sides compute, as phoenixflight_api.protocol defines them: RFC 8785
 * canonical JSON behind a checkpoint's state_hash, and the bytes a handoff token signs.
 * A member rebuilds both byte for byte to check what the daemon handed it.
 */
import { createHash } from "node:crypto";

/** The first line of every handoff token's signed bytes. */
export const TOKEN_DOMAIN = "phoenixflight-handoff-v1";

/** A JSON value as google.protobuf.Struct carries it (numbers are doubles). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

// A lone surrogate has no UTF-8 form: the daemon refuses such text, so the hash must too.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function text(value: string): string {
  if (LONE_SURROGATE.test(value)) throw new Error("text that is not valid Unicode has no JSON form");
  return JSON.stringify(value);  // escapes exactly what RFC 8785 escapes, as Python's json does
}

function number(value: number): string {
  if (!Number.isFinite(value)) throw new Error("a NaN or infinite number has no JSON form");
  return String(value);  // ECMAScript Number::toString is RFC 8785's number form; -0 prints "0"
}

/**
 * RFC 8785 canonical JSON: object keys sorted by UTF-16 code units (what JavaScript's string
 * comparison does), no whitespace, numbers as ECMAScript prints them.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "number") return number(value);
  if (typeof value === "string") return text(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${text(k)}:${canonicalJson(value[k] as JsonValue)}`).join(",")}}`;
  }
  throw new Error(`a ${typeof value} is not JSON data`);
}

/** "sha256:" + hex SHA-256 of the state's canonical UTF-8 bytes. */
export function stateHash(state: { [key: string]: JsonValue }): string {
  return `sha256:${createHash("sha256").update(canonicalJson(state), "utf8").digest("hex")}`;
}

/** The facts a handoff token's Ed25519 signature covers. */
export interface SignedFacts {
  packetId: string;
  epoch: bigint;
  fromMember: string;
  toMember: string;
  stateHash: string;
  issuedAt: string;
}

/** What a handoff token's signature covers: these lines joined by "\n", as UTF-8. */
export function tokenSignedBytes(facts: SignedFacts): Buffer {
  return Buffer.from([TOKEN_DOMAIN, facts.packetId, facts.epoch.toString(), facts.fromMember,
    facts.toMember, facts.stateHash, facts.issuedAt].join("\n"), "utf8");
}
