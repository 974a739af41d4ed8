// The console's one live connection: GET /v1/watch?feeds=members,events read with fetch()
// and a stream reader (EventSource cannot send the Authorization header, and a token must
// never go into a URL). The cursor is every feed's last id ("m:12,e:340"); a dropped stream
// (a network blip, a daemon restart, the daemon ending a slow reader) is reopened with it as
// Last-Event-ID, so nothing is missed or repeated. While the page is hidden the stream is
// closed, costing the daemon nothing, and reopened from the cursor when it is shown again.

import { headers, refused } from "./api.js";

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;
const OUT_OF_RANGE = 11; // gRPC's code in the error body

export class LiveStream {
  constructor({ cursor, onEvent, onState, onReset }) {
    this.cursor = cursor; // { m: revision, e: sequence }
    this.onEvent = onEvent;
    this.onState = onState;
    this.onReset = onReset; // the cursor is past the daemon's head: another data dir
    this.retryMs = RETRY_MIN_MS;
    this.controller = null;
    this.timer = null;
    this.stopped = false;
    document.addEventListener("visibilitychange", () => this.visibility());
  }

  lastEventId() {
    return `m:${this.cursor.m},e:${this.cursor.e}`;
  }

  start() {
    this.stopped = false;
    if (document.visibilityState === "hidden") {
      this.onState("paused");
      return;
    }
    this.open();
  }

  stop(state = "stopped") {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.onState(state);
  }

  visibility() {
    if (document.visibilityState === "hidden") {
      this.stop("paused");
    } else if (this.stopped) {
      this.start();
    }
  }

  async open() {
    if (this.controller || this.stopped) return;
    const controller = (this.controller = new AbortController());
    this.onState("connecting");
    try {
      const response = await fetch("/v1/watch?feeds=members,events", {
        headers: headers({ "Last-Event-ID": this.lastEventId(), accept: "text/event-stream" }),
        signal: controller.signal,
        cache: "no-store",
      });
      if (!response.ok) {
        refused(response.status);
        const body = await response.json().catch(() => ({}));
        this.onState("refused", body.message || `HTTP ${response.status}`);
        if (body.code === OUT_OF_RANGE) {
          this.controller = null;
          this.stopped = true;
          this.onReset();
          return;
        }
        if (response.status === 401 || response.status === 403 || response.status === 400) {
          this.controller = null;
          this.stopped = true;
          return;
        }
      } else {
        this.onState("live");
        this.retryMs = RETRY_MIN_MS;
        await this.read(response.body.getReader());
      }
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    if (this.controller === controller) this.controller = null;
    if (!this.stopped) this.retry();
  }

  retry() {
    this.onState("reconnecting");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.frame(frame);
      }
    }
  }

  frame(text) {
    let id = null;
    let event = "message";
    const data = [];
    for (const line of text.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    const payload = JSON.parse(data.join("\n"));
    if (event === "closed") {
      this.onState("reconnecting", payload.message || "");
      return; // the daemon ends the stream next; reopened from the cursor
    }
    if (id) {
      for (const part of id.split(",")) {
        const [tag, revision] = part.split(":");
        if (tag in this.cursor) this.cursor[tag] = Number(revision);
      }
    }
    this.onEvent(event, payload);
  }
}
