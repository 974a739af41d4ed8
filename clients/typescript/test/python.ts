/** The project's Python (beside PHOENIXD in the venv), for tests that compare against it. */
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "..", "..", "..", "..");
export const phoenixd = process.env.PHOENIXD ?? join(root, ".venv", "bin", "phoenixd");
export const python = join(dirname(phoenixd), "python");

/** Runs a Python snippet with `input` on stdin and returns its stdout. */
export function runPython(code: string, input: string): string {
  return execFileSync(python, ["-c", code], { input, encoding: "utf8", timeout: 30_000 });
}
