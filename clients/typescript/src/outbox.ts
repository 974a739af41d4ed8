/**
 * The member's side of its session stream: messages queued by timers and signal handlers,
 * read by the transport as an async iterable until the session ends.
 */
export class Outbox<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.wake?.();
  }

  /** How many messages wait to be sent (a stalled stream must not pile up heartbeats). */
  get pending(): number {
    return this.items.length;
  }

  /** Ends the stream once what is queued has been read. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = undefined;
    }
  }
}
