// The runtime console: each tab a view of state kept from the public HTTP API. Members and
// the journal arrive live on one stream (stream.js); packets, capabilities and health are
// fetched again only when an event says they changed, never on a timer.

import * as api from "./api.js";
import { LiveStream } from "./stream.js";
import { Table } from "./table.js";

// Journal events kept in the page (the Audit tab's live list): older ones stay queryable.
const KEPT_EVENTS = 5000;
// Packets changed in one burst that are fetched one by one; more, and the list is fetched.
const REFETCH_ONE_BY_ONE = 50;
// Health samples the chart keeps, one per journal change seen while the tab is shown.
const KEPT_SAMPLES = 120;
const $ = (selector) => document.querySelector(selector);

const state = {
  members: new Map(),
  packets: new Map(),
  capabilities: [],
  events: [],
  health: null,
  samples: [],
  tab: "overview",
  stream: null,
};

const short = (name) => String(name || "").replace(/^(MEMBER_STATUS|MEMBER_KIND|PACKET_STATUS|STRATEGY)_/, "").toLowerCase();
const fixed = (x, digits = 3) => (typeof x === "number" ? Number(x.toFixed(digits)) : x ?? "");
const time = (stamp) => (stamp ? stamp.replace("T", " ").replace(/\.\d+Z$/, "Z") : "");
const labels = (m) => Object.entries(m.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
const split = (text) => String(text || "").split(",").map((s) => s.trim()).filter(Boolean);
const checkpointStep = (event) => ((event.data || {}).packet || {}).checkpoint?.step || "";

function showError(error) {
  const box = $("#error");
  box.hidden = !error;
  box.textContent = error ? String(error.message || error) : "";
}

function say(selector, text) {
  $(selector).textContent = text;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

// -- tables -------------------------------------------------------------------------

const tables = {};
function table(name, columns, options) {
  tables[name] = new Table(document.querySelector(`[data-table="${name}"]`), columns, options);
}

const memberColumns = [
  { label: "member", value: (m) => m.member_id },
  { label: "kind", value: (m) => short(m.kind) },
  { label: "status", value: (m) => short(m.status) },
  { label: "status reason", value: (m) => m.status_reason || "" },
  { label: "capabilities", value: (m) => (m.capabilities || []).join(", ") },
  { label: "labels", value: labels },
  { label: "packets", value: (m) => Number(m.load?.assigned_packets || 0) },
  { label: "cpu used / cap", value: (m) => `${fixed(m.load?.cpu || 0, 1)} / ${fixed(m.capacity?.cpu || 0, 1)}` },
  { label: "memory used / cap", value: (m) => `${fixed(m.load?.memory || 0, 1)} / ${fixed(m.capacity?.memory || 0, 1)}` },
  { label: "trust", value: (m) => fixed(m.trust_score) },
  { label: "reliability", value: (m) => fixed(m.reliability) },
];
const packetColumns = [
  { label: "packet", value: (p) => p.packet_id },
  { label: "status", value: (p) => short(p.status) },
  { label: "assignee", value: (p) => p.current_owner || "" },
  { label: "capabilities", value: (p) => (p.required_capabilities || []).join(", ") },
  { label: "demand cpu", value: (p) => fixed(p.demand?.cpu || 0, 2) },
  { label: "demand memory", value: (p) => fixed(p.demand?.memory || 0, 2) },
  { label: "strategy", value: (p) => short(p.strategy) },
  { label: "attempts", value: (p) => p.attempts || 0 },
  { label: "step", value: (p) => p.context_checkpoint?.step || "" },
  { label: "previous owners", value: (p) => (p.previous_owners || []).join(", ") },
];
const eventColumns = [
  { label: "seq", value: (e) => Number(e.sequence) },
  { label: "time", value: (e) => time(e.time) },
  { label: "type", value: (e) => e.type },
  { label: "actor", value: (e) => e.actor },
  { label: "members", value: (e) => (e.member_ids || []).join(", ") },
  { label: "packets", value: (e) => (e.packet_ids || []).join(", ") },
  { label: "reason", value: (e) => e.reason || "" },
  { label: "hash", value: (e) => (e.hash || "").slice(0, 12) },
];

function buildTables() {
  table("overview-members", [...memberColumns.slice(0, 3), ...memberColumns.slice(4, 7)], { filter: false, limit: 20, empty: "no ACTIVE member" });
  table("overview-capabilities", [
    { label: "capability", value: (c) => c.name },
    { label: "providers", value: (c) => (c.providers || []).length },
  ], { filter: false, limit: 20 });
  table("overview-workloads", packetColumns.slice(0, 4), { filter: false, limit: 20, empty: "no active workload" });
  table("overview-events", eventColumns.slice(0, 5), { filter: false, limit: 15 });
  table("members", [...memberColumns, {
    label: "actions", value: () => "", cell: (m, td) => {
      if (m.status !== "MEMBER_STATUS_ACTIVE" && m.status !== "MEMBER_STATUS_SUSPECT") return;
      td.append(button("drain", () => act(`/v1/members/${encodeURIComponent(m.member_id)}:drain`)),
        button("retire", () => act(`/v1/members/${encodeURIComponent(m.member_id)}:retire`)));
    },
  }]);
  table("capabilities", [
    { label: "capability", value: (r) => r.name },
    { label: "versions", value: (r) => r.versions },
    { label: "provider", value: (r) => r.member_id },
    { label: "provider version", value: (r) => r.version },
    { label: "provider status", value: (r) => short(r.status) },
    { label: "trust", value: (r) => fixed(r.trust_score) },
  ]);
  table("packets", [...packetColumns, {
    label: "explain", value: () => "", cell: (p, td) =>
      td.append(button("explain", () => { $("#explain-form").packet_id.value = p.packet_id; show("assignment"); explain(p.packet_id); })),
  }]);
  table("candidates", [
    { label: "member", value: (c) => c.member_id },
    { label: "eligible", value: (c) => (c.eligible ? "yes" : "no") },
    { label: "score", value: (c) => (c.eligible ? fixed(c.score, 4) : "") },
    { label: "rejected by", value: (c) => c.rejected_by || "" },
  ], { empty: "choose a packet" });
  table("migrations", [
    { label: "seq", value: (e) => Number(e.sequence) },
    { label: "time", value: (e) => time(e.time) },
    { label: "packet", value: (e) => (e.packet_ids || []).join(", ") },
    { label: "event", value: (e) => e.type },
    { label: "source", value: (e) => e.data?.from_member || "" },
    { label: "target", value: (e) => (e.type === "handoff_completed" ? e.data?.packet?.owner || "" : "") },
    { label: "reason", value: (e) => e.reason || "" },
    { label: "checkpoint step", value: checkpointStep },
  ], { empty: "no handoff in the events kept" });
  table("events", eventColumns, { limit: KEPT_EVENTS });
  table("health", [
    { label: "figure", value: (r) => r[0] },
    { label: "value", value: (r) => r[1] },
  ]);
}

// -- rendering ----------------------------------------------------------------------

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderNow();
  });
}

function renderNow() {
  const members = [...state.members.values()];
  const packets = [...state.packets.values()];
  const active = members.filter((m) => m.status === "MEMBER_STATUS_ACTIVE");
  const working = packets.filter((p) => ["PACKET_STATUS_PENDING", "PACKET_STATUS_ASSIGNED",
    "PACKET_STATUS_RUNNING"].includes(p.status));
  cards($("#overview-cards"), [
    ["active members", active.length], ["members", members.length],
    ["capabilities", state.capabilities.length], ["active workloads", working.length],
    ["events seen", state.events.length],
  ]);
  tables["overview-members"].set(active);
  tables["overview-capabilities"].set(state.capabilities);
  tables["overview-workloads"].set(working);
  tables["overview-events"].set([...state.events].reverse());
  tables.members.set(members);
  tables.capabilities.set(state.capabilities.flatMap((c) =>
    (c.providers?.length ? c.providers : [{}]).map((p) => ({
      name: c.name, versions: (c.versions || []).filter(Boolean).join(", "),
      member_id: p.member_id || "", version: p.version || "", status: p.status || "",
      trust_score: p.trust_score ?? "",
    }))));
  tables.packets.set(packets);
  tables.migrations.set(state.events.filter((e) => e.type.startsWith("handoff_")).reverse());
  if ($("#follow").checked) {
    tables.events.set([...state.events].reverse());
    say("#audit-note", `following live: ${state.events.length} events kept in this page`);
  }
  datalist("#packet-ids", packets.map((p) => p.packet_id));
  datalist("#member-ids", members.map((m) => m.member_id));
  renderHealth();
}

function cards(host, entries) {
  host.replaceChildren(...entries.map(([name, value]) => {
    const card = document.createElement("div");
    card.className = "card";
    const number = document.createElement("b");
    number.textContent = String(value);
    const caption = document.createElement("span");
    caption.textContent = name;
    card.append(number, caption);
    return card;
  }));
}

function datalist(selector, values) {
  $(selector).replaceChildren(...values.map((v) => {
    const option = document.createElement("option");
    option.value = v;
    return option;
  }));
}

function renderHealth() {
  const h = state.health;
  if (!h) return;
  cards($("#health-cards"), [
    ["churn rate (MCR, /h)", fixed(h.mcr)], ["Stability Index", fixed(h.si)],
    ["DHS", fixed(h.dhs)], ["successful migrations", Number(h.migrations || 0)],
    ["task success rate", fixed(h.success_rate)], ["active members", Number(h.active_members || 0)],
  ]);
  tables.health.set(Object.entries(h).map(([k, v]) => [k, typeof v === "number" ? fixed(v, 4) : String(v)]));
  chart($("#health-chart"), [["si", "#2b6cb0"], ["dhs", "#c05621"]]);
}

function chart(svg, series) {
  const ns = "http://www.w3.org/2000/svg";
  const w = 600, h = 160, pad = 20;
  const n = state.samples.length;
  const children = [];
  for (const [key, color] of series) {
    const points = state.samples.map((s, i) =>
      `${pad + (n > 1 ? (i * (w - 2 * pad)) / (n - 1) : 0)},${h - pad - (s[key] || 0) * (h - 2 * pad)}`);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", color);
    line.setAttribute("stroke-width", "2");
    const legend = document.createElementNS(ns, "text");
    legend.setAttribute("x", String(pad + series.indexOf(series.find((s) => s[0] === key)) * 60));
    legend.setAttribute("y", "14");
    legend.setAttribute("fill", color);
    legend.textContent = key.toUpperCase();
    children.push(line, legend);
  }
  svg.replaceChildren(...children);
}

// -- loading and live updates ------------------------------------------------------

async function load() {
  const [{ items: members, first }, { items: packets }, capabilities, head] = await Promise.all([
    api.all("/v1/members", "members"),
    api.all("/v1/packets", "packets"),
    api.all("/v1/capabilities", "capabilities"),
    api.get("/v1/events?page_size=1"),
  ]);
  state.members = new Map(members.map((m) => [m.member_id, m]));
  state.packets = new Map(packets.map((p) => [p.packet_id, p]));
  state.capabilities = capabilities.items;
  state.events = [];
  render();
  const headSequence = Number(head.head_sequence || 0);
  return { m: Number(first.revision || 0), e: Math.max(0, headSequence - KEPT_EVENTS) };
}

// Refetches asked for by events, batched: a burst of events costs one call per packet.
const stalePackets = new Set();
let refetchQueued = false;
let capabilitiesStale = false;
let healthStale = false;
function refetchSoon() {
  if (refetchQueued) return;
  refetchQueued = true;
  setTimeout(async () => {
    refetchQueued = false;
    const ids = [...stalePackets];
    stalePackets.clear();
    const wantCapabilities = capabilitiesStale;
    const wantHealth = healthStale && state.tab === "health";
    capabilitiesStale = false;
    if (wantHealth) healthStale = false;
    const wholeList = ids.length > REFETCH_ONE_BY_ONE;
    try {
      await Promise.all([
        wholeList && api.all("/v1/packets", "packets").then(({ items }) => {
          state.packets = new Map(items.map((p) => [p.packet_id, p]));
        }),
        ...(wholeList ? [] : ids).map(async (id) => {
          const { packet } = await api.get(`/v1/packets/${encodeURIComponent(id)}`);
          state.packets.set(packet.packet_id, packet);
        }),
        wantCapabilities && api.all("/v1/capabilities", "capabilities").then(({ items }) => {
          state.capabilities = items;
        }),
        wantHealth && refreshHealth(),
      ]);
    } catch (error) {
      showError(error);
    }
    render();
  }, 100);
}

function onEvent(feed, payload) {
  if (feed === "members" && payload.member) {
    state.members.set(payload.member.member_id, payload.member);
    capabilitiesStale = true;
    refetchSoon();
  } else if (feed === "events" && payload.event) {
    const event = payload.event;
    const last = state.events[state.events.length - 1];
    if (last && Number(last.sequence) >= Number(event.sequence)) return;
    state.events.push(event);
    if (state.events.length > KEPT_EVENTS) state.events.splice(0, state.events.length - KEPT_EVENTS);
    for (const id of event.packet_ids || []) stalePackets.add(id);
    healthStale = true;
    refetchSoon();
  }
  say("#cursor", state.stream.lastEventId());
  render();
}

function onState(name, detail = "") {
  const badge = $("#stream-state");
  badge.dataset.state = name;
  badge.textContent = detail ? `${name}: ${detail}` : name;
}

async function refreshHealth() {
  state.health = await api.get("/v1/cluster/health");
  state.samples.push({ si: state.health.si, dhs: state.health.dhs });
  if (state.samples.length > KEPT_SAMPLES) state.samples.shift();
}

async function boot() {
  showError(null);
  if (state.stream) state.stream.stop();
  try {
    const cursor = await load();
    $("#token-form").hidden = true;
    state.stream = new LiveStream({ cursor, onEvent, onState, onReset: boot });
    state.stream.start();
  } catch (error) {
    if (error.status !== 401) showError(error);
  }
}

// -- tabs and forms ----------------------------------------------------------------

function show(tab) {
  state.tab = tab;
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== tab; });
  if (tab === "health") {
    refreshHealth().then(render, showError);
  }
}

async function act(path, body = {}) {
  try {
    await api.post(path, body);
    showError(null);
  } catch (error) {
    showError(error);
  }
}

function form(selector, handler) {
  $(selector).addEventListener("submit", async (submit) => {
    submit.preventDefault();
    try {
      showError(null);
      await handler(submit.target);
    } catch (error) {
      showError(error);
    }
  });
}

async function explain(packetId) {
  const { decision } = await api.get(`/v1/packets/${encodeURIComponent(packetId)}:explain`);
  const host = $("#decision");
  const rows = [
    ["packet", decision.packet_id], ["epoch", decision.epoch], ["trigger", decision.trigger],
    ["strategy", short(decision.strategy)], ["winner", decision.winner || "(none)"],
    ["considered", decision.considered],
    ["rejected", Object.entries(decision.rejected_counts || {}).map(([k, v]) => `${k} x${v}`).join(", ")],
    ["explanation", decision.explanation],
  ];
  const dl = document.createElement("dl");
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = String(v ?? "");
    dl.append(dt, dd);
  }
  host.replaceChildren(dl);
  tables.candidates.set(decision.candidates || []);
}

function wireForms() {
  form("#token-form", async (f) => {
    api.setToken(f.querySelector("#token").value.trim());
    f.querySelector("#token").value = "";
    await boot();
  });
  form("#register-form", async (f) => {
    const [key, ...rest] = split(f.label.value).length ? f.label.value.split("=") : [];
    const body = {
      member_id: f.member_id.value.trim(), kind: f.kind.value,
      capabilities: split(f.capabilities.value),
      capacity: { cpu: Number(f.cpu.value), memory: Number(f.memory.value) },
      trust_score: Number(f.trust_score.value),
      labels: key ? { [key.trim()]: rest.join("=").trim() } : {},
      lease_ttl: `${Number(f.lease_ttl.value)}s`,
    };
    const { member } = await api.post("/v1/members", body);
    state.members.set(member.member_id, member);
    say("#register-result", `registered ${member.member_id}`);
    render();
  });
  form("#submit-form", async (f) => {
    const packet = {
      packet_id: f.packet_id.value.trim(),
      required_capabilities: split(f.required_capabilities.value),
      demand: { cpu: Number(f.cpu.value), memory: Number(f.memory.value) },
    };
    if (f.state.value.trim()) {
      let parsed;
      try {
        parsed = JSON.parse(f.state.value);
      } catch (error) {
        throw new Error(`State is not JSON (${error.message}); write an object, e.g. {"pages": 6}`);
      }
      packet.context_checkpoint = { state: parsed };
    }
    const response = await api.post("/v1/packets", packet);
    state.packets.set(response.packet.packet_id, response.packet);
    say("#submit-result", [`submitted ${response.packet.packet_id}`, ...(response.warnings || [])].join("; "));
    render();
  });
  form("#explain-form", (f) => explain(f.packet_id.value.trim()));
  form("#handoff-form", async (f) => {
    const id = f.packet_id.value.trim();
    const { packet } = await api.post(`/v1/packets/${encodeURIComponent(id)}:handoff`, {
      target_member_id: f.target_member_id.value.trim(), reason: f.reason.value,
    });
    say("#handoff-result", `${packet.packet_id}: ${short(packet.status)} ${packet.current_owner || ""}`);
  });
  form("#verify-form", async () => {
    const r = await api.get("/v1/events:verify");
    $("#verify-result").dataset.ok = String(Boolean(r.ok));
    say("#verify-result", r.ok
      ? `chain intact: ${r.verified_events} events verified, head #${r.head_sequence} ${r.head_hash}`
      : `chain broken at #${r.first_bad_sequence} (offset ${r.first_bad_offset}): ${r.problem}`);
  });
  form("#query-form", async (f) => {
    const body = { types: split(f.types.value), member_id: f.member_id.value.trim(),
      packet_id: f.packet_id.value.trim(), page_size: 1000 };
    const { events } = await api.post("/v1/events:query", body);
    $("#follow").checked = false;
    tables.events.set([...events].reverse());
    say("#audit-note", `query: ${events.length} events (untick nothing to keep them; tick "follow live" to go back)`);
  });
  $("#follow").addEventListener("change", render);
  form("#simulate-form", async (f) => {
    const body = { preset: f.preset.value.trim(), mode: f.mode.value,
      members: Number(f.members.value), packets: Number(f.packets.value),
      steps: Number(f.steps.value), seed: Number(f.seed.value),
      learn_reliability: f.learn_reliability.checked };
    say("#simulate-result", "running...");
    const r = await api.post("/v1/simulator:simulate", body);
    say("#simulate-result", `strategy ${r.strategy}; audit chain head #${r.head_sequence} ${r.head_hash}`);
    cards($("#sim-cards"), Object.entries(r.run?.values || {}).sort().map(([k, v]) => [k, fixed(v, 4)]));
    const keys = Object.keys(r.steps?.[0]?.values || {}).sort();
    const host = document.querySelector('[data-table="sim-steps"]');
    host.replaceChildren();
    tables["sim-steps"] = new Table(host, [{ label: "step", value: (s) => s.step },
      ...keys.map((k) => ({ label: k, value: (s) => fixed(s.values[k], 3) }))]);
    tables["sim-steps"].set((r.steps || []).map((s, i) => ({ step: i + 1, values: s.values || {} })));
  });
}

api.onUnauthorized(() => {
  if (state.stream) state.stream.stop("refused");
  $("#token-form").hidden = false;
  showError(new Error(api.token() ? "the daemon refused this token; enter another"
    : "this daemon asks for an operator token"));
});

document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => show(b.dataset.tab)));
buildTables();
wireForms();
show(location.hash.slice(1) || "overview");
boot();
