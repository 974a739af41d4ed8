/** Where a Member says what it does: one line per event (registration attempts, failures, handoffs). */
export interface Logger {
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

function stamped(write: (line: string) => void, level: string): (line: string) => void {
  return (line) => write(`${new Date().toISOString()} ${level} ${line}`);
}

/** The default: timestamped lines on stderr (stdout stays the program's own). */
export const consoleLogger: Logger = {
  info: stamped(console.error, "INFO"),
  warn: stamped(console.error, "WARN"),
  error: stamped(console.error, "ERROR"),
};
