// Switchboard's development console: state from api/state, live events from api/events (SSE), actions
// posted to api/connections/{id}/{send|post|disconnect}. Frames, routes, integration calls (what each
// backend received and answered) and closes are listed per connection.
"use strict";
const $ = (id) => document.getElementById(id);
const conns = new Map(); // connectionId → {info, frames: [], closed}
let selected = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function renderStages(stages) {
  const box = $("stages");
  box.replaceChildren();
  for (const s of stages) {
    const d = el("div", { class: "stage" }, el("b", {}, `${s.apiName} (${s.apiId}) / ${s.stage}`));
    for (const r of s.routes) {
      const target = r.integrationType ? `${r.integrationType} ${r.integrationUri || ""}` : "no integration";
      const flags = [r.authorizationType && r.authorizationType !== "NONE" ? r.authorizationType : "", r.apiKeyRequired ? "API key" : "", r.twoWay ? "two-way" : ""].filter(Boolean).join(", ");
      d.append(el("div", { class: "route" }, `${r.routeKey} → ${target}${flags ? " [" + flags + "]" : ""}`));
    }
    box.append(d);
  }
}

function renderConnections() {
  const ul = $("connections");
  ul.replaceChildren();
  for (const [id, c] of conns) {
    const li = el("li", { "data-id": id }, `${id} ${c.info ? c.info.apiId + "/" + c.info.stage : ""}`);
    if (id === selected) li.classList.add("selected");
    if (c.closed) li.classList.add("closed");
    li.addEventListener("click", () => select(id));
    ul.append(li);
  }
}

function select(id) {
  selected = id;
  $("selected").textContent = id;
  renderConnections();
  renderDetail();
}

// renderDetail shows the selected connection's identity and frames.
function renderDetail() {
  const c = conns.get(selected);
  $("identity").textContent = c && c.info ? JSON.stringify({ sourceIp: c.info.sourceIp, userAgent: c.info.userAgent, connectedAt: new Date(c.info.connectedAt).toISOString(), authorizer: c.info.authorizer || null }, null, 2) : "";
  renderFrames();
}

// pretty prints JSON text for the integration view; other text is shown as it is.
function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

// traceCell shows what an integration or function received and answered, folded under a summary.
function traceCell(f) {
  const t = f.integration;
  const what = t.function ? `${t.authorizer ? "authorizer" : "function"} ${t.function}` : `${t.integrationType} ${t.integrationUri || ""}`;
  const d = el("details", { class: "trace", "data-seq": String(f.seq) },
    el("summary", {}, `${what}${t.integrationId ? " (integration " + t.integrationId + ")" : ""}${t.functionError ? " · " + t.functionError : ""}${t.error ? " · " + t.error : ""}`),
    el("div", { class: "label" }, "received" + (t.requestTruncated ? " (cut)" : "")),
    el("pre", { class: "request" }, pretty(t.request)),
    el("div", { class: "label" }, "answered" + (t.responseTruncated ? " (cut)" : "")),
    el("pre", { class: "response" }, pretty(t.response)));
  if (openTraces.has(f.seq)) d.open = true;
  d.addEventListener("toggle", () => { if (d.open) openTraces.add(f.seq); else openTraces.delete(f.seq); });
  return el("td", { class: "data" }, d);
}

const openTraces = new Set(); // seq of the traces unfolded, kept across re-renders
let seq = 0;

function renderFrames() {
  const body = $("frames").tBodies[0];
  body.replaceChildren();
  const c = conns.get(selected);
  if (!c) return;
  for (const f of c.frames) {
    const dir = f.type === "in" ? "in →" : f.type === "out" ? "← out" : f.type === "integration" ? "⇄ backend" : f.type;
    let status = f.status ? String(f.status) + (f.error ? " " + f.error : "") : "";
    if (f.type === "disconnect") status = `${f.closeCode || ""} ${f.closeReason || ""}`.trim();
    let latency = f.integrationLatencyMs != null ? f.integrationLatencyMs.toFixed(1) + " ms" : "";
    if (f.type === "integration") latency = f.integration.latencyMs.toFixed(1) + " ms";
    body.append(el("tr", { class: f.type },
      el("td", {}, new Date(f.time).toISOString().slice(11, 23)),
      el("td", { class: "dir" }, dir),
      el("td", {}, f.routeKey || ""),
      el("td", { class: "status" }, status),
      el("td", {}, latency),
      f.type === "integration" ? traceCell(f) : el("td", { class: "data" }, (f.data || "") + (f.truncated ? " …" : ""))));
  }
}

function entry(id) {
  if (!conns.has(id)) conns.set(id, { info: null, frames: [], closed: false });
  return conns.get(id);
}

function onEvent(ev) {
  ev.seq = ++seq;
  const c = entry(ev.connectionId);
  switch (ev.type) {
    case "connect": c.info = ev.connection; break;
    case "disconnect": c.closed = true; c.frames.push(ev); break;
    default: c.frames.push(ev); if (c.frames.length > 500) c.frames.shift();
  }
  renderConnections();
  if (ev.connectionId === selected) renderDetail();
}

async function act(action) {
  const result = $("result");
  if (!selected) { result.className = "error"; result.textContent = "select a connection first"; return; }
  const res = await fetch(`api/connections/${encodeURIComponent(selected)}/${action}`, {
    method: "POST", headers: { "X-Switchboard-Console": "1" }, body: action === "disconnect" ? "" : $("message").value,
  });
  const body = await res.json().catch(() => ({}));
  result.className = res.ok ? "ok" : "error";
  result.textContent = `${res.status}: ${body.message || ""}`;
}

async function start() {
  const state = await (await fetch("api/state")).json();
  renderStages(state.stages);
  for (const c of state.connections) entry(c.connectionId).info = c;
  renderConnections();
  const es = new EventSource("api/events");
  es.onopen = () => { $("status").textContent = `live · snapshot v${state.snapshotVersion}`; document.body.dataset.live = "1"; };
  es.onerror = () => { $("status").textContent = "reconnecting…"; };
  es.onmessage = (m) => onEvent(JSON.parse(m.data));
  $("send").addEventListener("click", () => act("send"));
  $("post").addEventListener("click", () => act("post"));
  $("disconnect").addEventListener("click", () => act("disconnect"));
}
start();
