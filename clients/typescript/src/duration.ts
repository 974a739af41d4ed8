/** google.protobuf.Duration from seconds, for leases and drain deadlines. */
import { create } from "@bufbuild/protobuf";
import { type Duration, DurationSchema } from "@bufbuild/protobuf/wkt";

export function duration(seconds: number): Duration {
  const whole = Math.floor(seconds);
  return create(DurationSchema, { seconds: BigInt(whole), nanos: Math.round((seconds - whole) * 1e9) });
}

/** Seconds in a Duration (0 when unset). */
export function secondsOf(value: Duration | undefined): number {
  return value ? Number(value.seconds) + value.nanos / 1e9 : 0;
}
