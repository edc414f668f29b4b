// The node detail pane, the report's extra sections, and how the page starts in each mode.
"use strict";

function messageText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => part.text !== undefined ? part.text : JSON.stringify(part, null, 2)).join("\n");
  return JSON.stringify(content, null, 2);
}

function promptBlocks(requestJson) {
  let request;
  try { request = JSON.parse(requestJson); } catch (_) { return [["request", requestJson]]; }
  const blocks = [];
  if (request && request.system !== undefined) blocks.push(["system", messageText(request.system)]);
  if (request && Array.isArray(request.messages)) {
    for (const m of request.messages) blocks.push([m.role || "message", messageText(m.content)]);
  } else if (request && request.prompt !== undefined) blocks.push(["prompt", messageText(request.prompt)]);
  return blocks.length ? blocks : [["request", JSON.stringify(request, null, 2)]];
}

function responseText(responseJson) {
  let response;
  try { response = JSON.parse(responseJson); } catch (_) { return responseJson; }
  if (response && Array.isArray(response.choices) && response.choices.length) {
    const choice = response.choices[0];
    return choice.message ? messageText(choice.message.content) : messageText(choice.text);
  }
  if (response && Array.isArray(response.content)) return messageText(response.content);
  return JSON.stringify(response, null, 2);
}

// A reasoning can run to tens of thousands of characters: the pane shows its head and tail, and the
// journal's llm_calls table keeps all of it.
const REASONING_SHOWN = 20000;

function headAndTail(text, limit) {
  if (text.length <= limit) return text;
  const half = Math.floor(limit / 2);
  return `${text.slice(0, half)}\n… ${text.length - 2 * half} characters left out (the journal's llm_calls table keeps them) …\n${text.slice(text.length - half)}`;
}

function reasoningBlock(reasoning) {
  if (!reasoning) return "";
  return `<details class="reasoning"><summary>reasoning (${reasoning.length} characters)</summary><pre class="wrap">${escapeHtml(headAndTail(reasoning, REASONING_SHOWN))}</pre></details>`;
}

function cachedPart(cached) {
  return cached ? ` (${cached} cached)` : "";
}

function renderCalls(detail) {
  if (!detail.calls.length) {
    const builtin = page.snapshot && page.snapshot.run.coder === "builtin";
    return `<p class="muted">${builtin ? "no model calls (built-in coder)" : "no model calls recorded for this node"}</p>`;
  }
  return detail.calls.map((call) => {
    const prompt = promptBlocks(call.request_json).map(([role, text]) =>
      `<div class="role">${escapeHtml(role)}</div><pre class="wrap">${escapeHtml(text)}</pre>`).join("");
    return `<div class="call"><b>${escapeHtml(call.purpose)}</b> · ${escapeHtml(call.model)} · ${call.prompt_tokens} prompt${cachedPart(call.cached_prompt_tokens)} + ${call.completion_tokens} completion tokens · ${call.latency_seconds.toFixed(1)} s · ${usd(call.cost_usd)}
      ${prompt}${reasoningBlock(call.reasoning)}<div class="role">response</div><pre class="wrap">${escapeHtml(responseText(call.response_json))}</pre>
      <details><summary class="muted">raw request and response JSON</summary><pre>${escapeHtml(call.request_json)}</pre><pre>${escapeHtml(call.response_json)}</pre></details></div>`;
  }).join("");
}

// The node's own token count, or its model calls' when the node recorded none.
function tokenLine(n, calls) {
  const sum = (field) => calls.reduce((total, call) => total + call[field], 0);
  const [prompt, cached, completion, cost] = n.prompt_tokens + n.completion_tokens > 0 || !calls.length
    ? [n.prompt_tokens, n.cached_prompt_tokens, n.completion_tokens, n.cost_usd]
    : [sum("prompt_tokens"), sum("cached_prompt_tokens"), sum("completion_tokens"), sum("cost_usd")];
  return `${prompt} prompt${cachedPart(cached)} + ${completion} completion · ${usd(cost)}`;
}

function renderDetail(detail) {
  const n = detail.node;
  const run = page.snapshot ? page.snapshot.run : null;
  const isBest = run && run.best_node === n.id;
  const verdict = `<span class="badge ${n.outcome.kind}">${n.outcome.kind}</span>`;
  const direction = n.outcome.kind === "buggy" || n.outcome.metric === null ? "" : n.outcome.metric.direction === "lower_is_better" ? " (lower is better)" : " (higher is better)";
  $("detail").innerHTML = `
    <h2>Node ${n.id} <span class="badge ${n.stage}">${n.stage}</span>${verdict}${isBest ? '<span class="badge best">best</span>' : ""}</h2>
    <dl class="kv">
      <dt>metric</dt><dd id="detail-metric">${fmt(metricOf(n))}${direction}</dd>
      <dt>test score</dt><dd>${fmt(n.test_score)}</dd>
      <dt>parent</dt><dd>${n.parent === null ? "the root (a draft)" : `<a href="#node=${n.parent}">node ${n.parent}</a>`}</dd>
      <dt>execution</dt><dd>${escapeHtml(n.execution_status)}${n.exit_code === null ? "" : ` (exit ${n.exit_code})`} in ${n.execute_seconds.toFixed(1)} s; proposed in ${n.propose_seconds.toFixed(1)} s</dd>
      <dt>worker, slot</dt><dd>${n.worker}, ${n.slot === null ? "—" : n.slot}</dd>
      <dt>coder</dt><dd>${escapeHtml(n.operator)}</dd>
      <dt>tokens</dt><dd>${tokenLine(n, detail.calls)}</dd>
      ${n.validation_message ? `<dt>submission</dt><dd>${escapeHtml(n.validation_message)}</dd>` : ""}
    </dl>
    <h3>Plan</h3><div class="plan" id="detail-plan">${escapeHtml(n.plan)}</div>
    <h3>Review</h3><div class="plan">${escapeHtml(n.review_summary)}</div>
    <h3>Code</h3><pre id="detail-code">${highlightPython(n.code)}</pre>
    <h3>Output</h3><pre class="wrap">${escapeHtml(n.output || "(no output)")}</pre>
    <h3>Model calls</h3>${renderCalls(detail)}`;
}

async function loadDetail(id) {
  if (page.details.has(id) && mode === "report") return page.details.get(id);
  const response = await fetch(`api/nodes/${id}`);
  if (!response.ok) throw new Error(`node ${id}: ${response.status}`);
  const detail = await response.json();
  page.details.set(id, detail);
  return detail;
}

async function select(id) {
  page.selected = id;
  if (location.hash !== `#node=${id}`) history.replaceState(null, "", `#node=${id}`);
  for (const g of document.querySelectorAll(".node")) g.classList.toggle("selected", Number(g.dataset.node) === id);
  try { renderDetail(await loadDetail(id)); } catch (error) { $("detail").innerHTML = `<p class="muted">${escapeHtml(String(error))}</p>`; }
}

function renderExtra() {
  const run = page.snapshot.run;
  const parts = [];
  const report = run.report;
  if (report) {
    const grading = report.grading || {};
    const rows = [["selected node", report.selected], ["validation metric", fmt(report.validation_metric)], ["test score", fmt(grading.score)],
      ["metric", grading.metric], ["valid submission", grading.valid_submission], ["any medal", grading.any_medal], ["gold / silver / bronze", [grading.gold_medal, grading.silver_medal, grading.bronze_medal].some((medal) => medal !== null && medal !== undefined)
        ? [grading.gold_medal, grading.silver_medal, grading.bronze_medal].join(" / ") : undefined],
      ["above median", grading.above_median], ["medals note", grading.medals_note], ["best on test (analysis only)", report.best_on_test ? `node ${report.best_on_test.node}: ${fmt(report.best_on_test.score)}` : "—"],
      ["stopped because", report.stop_reason], ["nodes", report.nodes], ["elapsed", seconds(report.elapsed_seconds || 0)],
      ["tokens", `${report.prompt_tokens} prompt${cachedPart(report.cached_prompt_tokens)} + ${report.completion_tokens} completion`], ["cost", usd(report.cost_usd)]];
    parts.push(`<div class="panel"><h2>Grading report</h2><table class="report">${rows.filter(([, v]) => v !== undefined && v !== null).map(([k, v]) =>
      `<tr><td class="muted">${escapeHtml(k)}</td><td>${escapeHtml(String(v))}</td></tr>`).join("")}</table></div>`);
  }
  parts.push(`<div class="panel"><h2>Cost</h2><p>${run.prompt_tokens} prompt + ${run.completion_tokens} completion tokens, ${usd(run.cost_usd)}, ${run.llm_calls ? run.llm_calls + " model calls" : "no model calls (built-in coder)"}.</p></div>`);
  parts.push(`<div class="panel"><h2>Configuration</h2><pre>${escapeHtml(run.config_toml)}</pre><p class="muted">Run directory: ${escapeHtml(run.run_dir)} · seed ${run.seed} · started ${escapeHtml(run.created_at)}</p></div>`);
  if (mode === "report" && run.best_node !== null && page.details.has(run.best_node)) {
    const best = page.details.get(run.best_node).node;
    parts.push(`<div class="panel wide" id="best-solution"><h2>Best solution: node ${best.id}, validation ${fmt(metricOf(best))}</h2><pre>${highlightPython(best.code)}</pre></div>`);
  }
  $("extra").innerHTML = parts.join("");
}

function renderAll() {
  renderHeader();
  renderTree();
  renderPlot();
  renderActivity();
  renderExtra();
}

function selectFromHash() {
  const match = /node=(\d+)/.exec(location.hash);
  if (match && node(Number(match[1]))) select(Number(match[1]));
}

$("x-time").addEventListener("click", () => { page.xAxis = "time"; $("x-time").classList.add("on"); $("x-step").classList.remove("on"); if (page.snapshot) renderPlot(); });
$("x-step").addEventListener("click", () => { page.xAxis = "step"; $("x-step").classList.add("on"); $("x-time").classList.remove("on"); if (page.snapshot) renderPlot(); });
window.addEventListener("hashchange", selectFromHash);

if (mode === "report" && embedded) {
  page.snapshot = embedded.snapshot;
  for (const detail of embedded.details) page.details.set(detail.node.id, detail);
  $("live").textContent = "report";
  renderAll();
  if (/node=/.test(location.hash)) selectFromHash(); else if (page.snapshot.run.best_node !== null) select(page.snapshot.run.best_node);
} else {
  const source = new EventSource("api/events");
  let first = true;
  source.addEventListener("snapshot", (message) => {
    page.snapshot = JSON.parse(message.data);
    $("live").textContent = page.snapshot.run.status === "running" ? "● live" : "";
    renderAll();
    if (first) { first = false; selectFromHash(); }
    else if (page.selected !== null) {
      // A node changes after it finished only when the run grades it: show its test score then.
      const summary = node(page.selected), shown = page.details.get(page.selected);
      if (summary && shown && summary.test_score !== shown.node.test_score) select(page.selected);
    }
  });
  source.addEventListener("problem", (message) => { $("live").textContent = `journal unreadable: ${message.data}`; });
  source.onerror = () => { $("live").textContent = "reconnecting…"; };
  setInterval(() => { if (page.snapshot && page.snapshot.run.status === "running") renderActivity(); }, 1000);
}
