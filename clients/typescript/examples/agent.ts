/**
 * An example PhoenixFlight agent: summarizes documents page by page, checkpointing after each
 * page, so that when it dies (or drains) another agent (in any language) picks up at the page
 * it reached. The state is the Python example's: {"pages": N, "done": k, "summary": [...]}.
 *
 *   npm run example -- --member-id summarizer-ts-1 --endpoint 127.0.0.1:7400
 *
 * Submit work for it:  phoenix packet submit doc-42 --cap summarize --state '{"pages": 6}'
 * Stop it with Ctrl-C or SIGTERM: with work in hand it is drained (the packet moves on with
 * its last checkpoint) and exits 0 once retired; otherwise it leaves at once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { JsonObject } from "@bufbuild/protobuf";
import { Member, RegistrationError, type Task, consoleLogger } from "../src/index.js";

function summarizer(secondsPerPage: number): (task: Task) => Promise<JsonObject> {
  return async (task) => {
    const pages = Number(task.state.pages ?? 3);
    const done = Number(task.state.done ?? 0);
    const summary = Array.isArray(task.state.summary) ? [...task.state.summary] : [];
    if (task.handedOverFrom) {
      consoleLogger.info(`${task.packetId}: taking over from ${task.handedOverFrom} at page ${done}`);
    }
    for (let page = done; page < pages; page++) {
      await sleep(secondsPerPage * 1000, undefined, { signal: task.signal });  // the "work"
      summary.push(`page ${page + 1}: ok`);
      await task.checkpoint({ ...task.state, done: page + 1, summary }, `page-${page + 1}`);
    }
    return { pages, summary };
  };
}

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`agent: --${flag} must be a positive number of seconds, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const { values } = parseArgs({
  options: {
    "member-id": { type: "string" },
    endpoint: { type: "string" },
    "seconds-per-page": { type: "string", default: "0.5" },
    "lease-ttl": { type: "string", default: "5" },
    trust: { type: "string", default: "0.9" },
    "credential-file": { type: "string" },
    "register-deadline": { type: "string", default: "60" },
  },
});
if (!values["member-id"]) {
  console.error("agent: --member-id is required (e.g. --member-id summarizer-ts-1)");
  process.exit(2);
}
try {
  const member = new Member({
    memberId: values["member-id"],
    capabilities: ["summarize"],
    handler: summarizer(positive("seconds-per-page", values["seconds-per-page"])),
    endpoint: values.endpoint,
    credentialFile: values["credential-file"],
    drainDeadlineSeconds: 10,
    registerDeadlineSeconds: positive("register-deadline", values["register-deadline"]),
    registration: {
      leaseTtlSeconds: positive("lease-ttl", values["lease-ttl"]),
      trustScore: Number(values.trust),
    },
  });
  await member.run();
  consoleLogger.info(`${member.memberId}: stopped, ${member.completed.length} packet(s) completed`);
  process.exit(0);
} catch (error) {
  if (!(error instanceof RegistrationError)) throw error;
  console.error(`agent: ${error.message}`);
  process.exit(1);
}
