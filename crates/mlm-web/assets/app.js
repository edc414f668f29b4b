// The page shared by the live dashboard and the report. Live mode gets snapshots from /api/events and
// node details from /api/nodes/{id}; report mode reads both from the JSON embedded in the page.
"use strict";

const mode = document.body.dataset.mode;
const embedded = JSON.parse(document.getElementById("mlm-data").textContent || "null");
const page = { snapshot: null, details: new Map(), selected: null, xAxis: "time" };

const $ = (id) => document.getElementById(id);
// A node's (or a node_finished event's) outcome: valid, invalid or buggy, with the metric a valid node
// scored or an invalid one reported.
const isValid = (n) => n.outcome.kind === "valid";
const metricOf = (n) => (n.outcome.kind === "buggy" || n.outcome.metric === null ? null : n.outcome.metric.value);
const validMetric = (n) => (isValid(n) && isFinite(metricOf(n)) ? metricOf(n) : null);
const fmt = (value, digits = 5) => (value === null || value === undefined || !isFinite(value)) ? "—" : Number(value).toFixed(digits);
const short = (value) => (value === null || value === undefined) ? "" : Number(value).toPrecision(4);
const seconds = (s) => s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
const usd = (cost) => `$${Number(cost || 0).toFixed(cost >= 1 ? 2 : 4)}`;
const node = (id) => page.snapshot && page.snapshot.nodes.find((n) => n.id === id);

function el(tag, attributes = {}, children = []) {
  const element = document.createElementNS(tag === "svg" || attributes.svg ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "svg") continue;
    if (key === "text") element.textContent = value;
    else if (key === "html") element.innerHTML = value;
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value);
  }
  for (const child of children) element.append(child);
  return element;
}
const svg = (tag, attributes = {}, children = []) => el(tag, { ...attributes, svg: true }, children);

function better(a, b, lower) { return lower ? a < b : a > b; }

// ---------- header ----------
function renderHeader() {
  const run = page.snapshot.run;
  $("task").textContent = run.task_id;
  const status = $("status");
  status.textContent = run.status;
  status.className = `pill ${run.status}`;
  const best = run.best_node === null ? "none yet" : `${fmt(run.best_metric)} (node ${run.best_node})`;
  const test = run.report && run.report.grading && run.report.grading.score !== null && run.report.grading.score !== undefined
    ? `<span>test</span> <b>${fmt(run.report.grading.score)}</b>` : "";
  // The run's ensemble (report.json): its out-of-fold score, its members with their weights, whether it won.
  const blend = run.report && run.report.ensemble;
  const ensemble = blend
    ? `<span>ensemble</span> <b>${fmt(blend.validation_metric)}</b> <span>(${blend.members
        .map((member) => `node ${member.node} × ${member.weight.toFixed(2)}`).join(", ")}${blend.selected ? ", selected" : ""})</span>`
    : "";
  $("stats").innerHTML = [
    `<span>elapsed</span> <b>${seconds(run.elapsed_seconds)}</b>`,
    `<span>nodes</span> <b>${run.nodes}</b> <span>(${run.valid_nodes} valid, ${run.buggy_nodes} buggy)</span>`,
    `<span>best validation</span> <b>${best}</b>`, ensemble, test,
    `<span>tokens</span> <b>${run.prompt_tokens + run.completion_tokens}</b>`,
    `<span>cost</span> <b>${usd(run.cost_usd)}</b>`,
    `<span>coder</span> <b>${escapeHtml(run.coder)}</b>`,
  ].filter(Boolean).join("");
  document.title = `ml-master · ${run.task_id} · ${run.status}`;
}

// ---------- tree ----------
function layoutTree(nodes) {
  const children = new Map();
  for (const n of nodes) {
    const key = n.parent === null ? "root" : n.parent;
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(n);
  }
  const place = new Map();
  let slot = 0;
  let depthMax = 0;
  const visit = (n, depth) => {
    depthMax = Math.max(depthMax, depth);
    const kids = children.get(n.id) || [];
    kids.sort((a, b) => a.id - b.id);
    for (const kid of kids) visit(kid, depth + 1);
    const x = kids.length ? (place.get(kids[0].id).x + place.get(kids[kids.length - 1].id).x) / 2 : slot++;
    place.set(n.id, { x, depth });
  };
  const roots = (children.get("root") || []).sort((a, b) => a.id - b.id);
  for (const r of roots) visit(r, 1);
  // Nodes whose parent is missing (a partial journal) hang from the root too.
  for (const n of nodes) if (!place.has(n.id)) visit(n, 1);
  return { place, slots: Math.max(slot, 1), depthMax, roots };
}

function radius(n, range, lower) {
  if (validMetric(n) === null || !range) return 8;
  const [lo, hi] = range;
  const t = hi > lo ? (validMetric(n) - lo) / (hi - lo) : 1;
  return 8 + 8 * (lower ? 1 - t : t);
}

function renderTree() {
  const { nodes, run } = page.snapshot;
  const host = $("tree");
  if (!nodes.length) { host.innerHTML = `<p class="muted">No node has finished yet.</p>`; return; }
  const lower = run.lower_is_better === true;
  const metrics = nodes.map(validMetric).filter((metric) => metric !== null);
  const range = metrics.length ? [Math.min(...metrics), Math.max(...metrics)] : null;
  const { place, slots, depthMax } = layoutTree(nodes);
  const gapX = 48, gapY = 64, pad = 30;
  const width = Math.max(slots * gapX + 2 * pad, host.clientWidth - 4 || 400);
  const offset = (width - slots * gapX) / 2 + gapX / 2;
  const height = depthMax * gapY + 2 * pad + 10;
  const at = (id) => { const p = place.get(id); return [offset + p.x * gapX, pad + p.depth * gapY - 30]; };
  const rootXY = [width / 2, pad - 14];
  const picture = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "search tree" });
  for (const n of nodes) {
    const [x, y] = at(n.id);
    const [px, py] = n.parent === null || !place.has(n.parent) ? rootXY : at(n.parent);
    picture.append(svg("path", { class: "edge", d: `M${px},${py} C${px},${(py + y) / 2} ${x},${(py + y) / 2} ${x},${y}` }));
  }
  picture.append(svg("circle", { cx: rootXY[0], cy: rootXY[1], r: 4, fill: "#52606d" }));
  for (const n of nodes) {
    const [x, y] = at(n.id);
    const r = radius(n, range, lower);
    const classes = ["node", n.stage, n.outcome.kind];
    if (n.id === page.selected) classes.push("selected");
    const title = `node ${n.id} · ${n.stage} · ${isValid(n) ? "metric " + fmt(metricOf(n)) : n.outcome.kind + " (" + n.execution_status + ")"}\n${n.summary}`;
    const group = svg("g", { class: classes.join(" "), "data-node": n.id, tabindex: 0, role: "button", onclick: () => select(n.id),
      onkeydown: (event) => { if (event.key === "Enter") select(n.id); } }, [svg("title", { text: title })]);
    if (n.id === run.best_node) group.append(svg("circle", { class: "ring", cx: x, cy: y, r: r + 4 }));
    group.append(svg("circle", { class: "body", cx: x, cy: y, r, fill: `var(--${n.stage})` }));
    group.append(svg("text", { class: "id", x, y: y + 3.5, text: String(n.id) }));
    group.append(svg("text", { class: "metric", x, y: y + r + (n.id === run.best_node ? 16 : 12), text: validMetric(n) !== null ? short(validMetric(n)) : "✗" }));
    picture.append(group);
  }
  host.replaceChildren(picture);
}

// ---------- plot ----------
function series() {
  const { nodes, run } = page.snapshot;
  const lower = run.lower_is_better === true;
  const start = Math.min(Date.parse(run.created_at), ...nodes.map((n) => Date.parse(n.proposed_at)));
  const ordered = [...nodes].sort((a, b) => Date.parse(a.finished_at) - Date.parse(b.finished_at) || a.id - b.id);
  let best = null;
  return ordered.map((n, index) => {
    if (validMetric(n) !== null && (best === null || better(validMetric(n), validMetric(best), lower))) best = n;
    return { step: index + 1, time: (Date.parse(n.finished_at) - start) / 1000, node: n,
      best: best ? validMetric(best) : null, test: best && best.test_score !== null ? best.test_score : null };
  });
}

function renderPlot() {
  const host = $("plot");
  const points = series();
  const shown = points.filter((p) => p.best !== null);
  if (!shown.length) { host.innerHTML = `<p class="muted">The plot starts with the first valid node.</p>`; return; }
  const key = page.xAxis;
  const W = Math.max(host.clientWidth || 600, 320), H = 240, L = 58, R = 16, T = 12, B = 34;
  const xs = points.map((p) => p[key]);
  const values = shown.flatMap((p) => [p.best, p.test]).concat(points.map((p) => validMetric(p.node)).filter((metric) => metric !== null)).filter((v) => v !== null && isFinite(v));
  let [x0, x1] = [Math.min(0, ...xs), Math.max(...xs, 1)];
  let [y0, y1] = [Math.min(...values), Math.max(...values)];
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const padY = (y1 - y0) * 0.08; y0 -= padY; y1 += padY;
  const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const picture = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "best score" });
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4, x = x0 + (x1 - x0) * i / 4;
    picture.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: sy(y), y2: sy(y) }));
    picture.append(svg("text", { class: "tick", x: L - 6, y: sy(y) + 3, "text-anchor": "end", text: short(y) }));
    picture.append(svg("text", { class: "tick", x: sx(x), y: H - B + 14, "text-anchor": "middle", text: key === "time" ? seconds(x) : String(Math.round(x)) }));
  }
  picture.append(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
  picture.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  picture.append(svg("text", { class: "tick", x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", text: key === "time" ? "time since the run started" : "step (nodes finished)" }));
  for (const p of points) {
    if (validMetric(p.node) !== null) {
      picture.append(svg("circle", { class: "dot", cx: sx(p[key]), cy: sy(validMetric(p.node)), r: 3 }, [svg("title", { text: `node ${p.node.id}: ${fmt(validMetric(p.node))}` })]));
    }
  }
  const stepLine = (field) => {
    let d = "", previous = null;
    for (const p of points) {
      if (p[field] === null) { previous = null; continue; }
      d += previous === null ? `M${sx(p[key])},${sy(p[field])}` : `H${sx(p[key])}V${sy(p[field])}`;
      previous = p;
    }
    return d;
  };
  picture.append(svg("path", { class: "line-valid", d: stepLine("best") }));
  if (points.some((p) => p.test !== null)) picture.append(svg("path", { class: "line-test", d: stepLine("test") }));
  const legend = svg("g", {}, [
    svg("line", { class: "line-valid", x1: L + 10, x2: L + 34, y1: T + 8, y2: T + 8 }),
    svg("text", { class: "tick", x: L + 38, y: T + 11, text: "best validation score" }),
  ]);
  if (points.some((p) => p.test !== null)) {
    legend.append(svg("line", { class: "line-test", x1: L + 160, x2: L + 184, y1: T + 8, y2: T + 8 }));
    legend.append(svg("text", { class: "tick", x: L + 188, y: T + 11, text: "its test score" }));
  }
  picture.append(legend);
  host.replaceChildren(picture);
}

// ---------- workers and activity (from the recent events) ----------
function renderActivity() {
  const events = page.snapshot.events || [];
  const workers = new Map();
  for (const e of events) {
    const p = e.payload || {};
    if (p.worker === undefined) continue;
    const since = Date.parse(e.at);
    if (e.kind === "proposing") workers.set(p.worker, { what: `thinking (${p.stage}${p.parent !== null && p.parent !== undefined ? " of node " + p.parent : ""})`, since });
    else if (e.kind === "executing") workers.set(p.worker, { what: `running a ${p.stage} in slot ${p.slot}`, since });
    else if (e.kind === "reviewing") workers.set(p.worker, { what: "reviewing", since });
    else if (e.kind === "node_finished" || e.kind === "proposal_failed") workers.set(p.worker, { what: "idle", since });
  }
  const running = page.snapshot.run.status === "running";
  const items = [...workers.entries()].sort((a, b) => a[0] - b[0]).map(([worker, state]) =>
    `<span>worker ${worker}: <b>${running ? escapeHtml(state.what) : "idle"}</b>${running && state.what !== "idle" ? ` for ${seconds((Date.now() - state.since) / 1000)}` : ""}</span>`);
  if (mode === "report") $("workers").innerHTML = "";
  else $("workers").innerHTML = `<h2>Workers</h2><div class="workers">${items.join("") || '<span class="muted">no worker activity recorded</span>'}</div>`;
  const lines = events.slice(-40).reverse().map((e) => `${e.at.slice(11, 19)} ${escapeHtml(describe(e))}`);
  $("activity").innerHTML = `<h2>Recent events</h2><div class="activity">${lines.join("<br>") || '<span class="muted">none</span>'}</div>`;
}

function describe(e) {
  const p = e.payload || {};
  switch (e.kind) {
    case "node_finished": return `node ${p.node} (${p.stage}) ${isValid(p) ? "metric " + fmt(metricOf(p)) : p.outcome.kind + " (" + p.execution_status + ")"}`;
    case "best_improved": return `new best: node ${p.node}, ${fmt(p.metric)}`;
    case "proposing": return `worker ${p.worker} asks for a ${p.stage}`;
    case "executing": return `worker ${p.worker} runs a ${p.stage} in slot ${p.slot}`;
    case "reviewing": return `worker ${p.worker} reviews`;
    case "run_finished": return `run finished: ${p.reason}`;
    case "warning": return `warning: ${p.message}`;
    default: return `${e.kind} ${JSON.stringify(p)}`;
  }
}
