// The run viewer: one static page over the service's own JSON API.
// No framework, no build step, no third-party code. Everything a run produced (output,
// logs, errors, trace) is shown with textContent, never parsed as HTML. The function key
// stays in this tab's sessionStorage and goes only to this origin, as x-functions-key.
"use strict";

(() => {
  const API = document.body.dataset.api || "/api";
  const KEY_STORE = "aro.functionKey";
  const ACTIVE = new Set(["Pending", "Running", "ContinuedAsNew", "Suspended"]);
  const RUN_ID = /^[A-Za-z0-9_-]{1,100}$/;
  const $ = (id) => document.getElementById(id);
  const state = { tokens: [null], page: 0, status: "", timer: null, run: null };

  // --- the API ---------------------------------------------------------------------------

  const functionKey = () => sessionStorage.getItem(KEY_STORE) || "";

  async function api(path, { method = "GET", json } = {}) {
    const headers = { Accept: "application/json" };
    if (functionKey()) headers["x-functions-key"] = functionKey();
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    const response = await fetch(API + path, {
      method, headers, body, credentials: "omit", cache: "no-store",
    });
    const text = await response.text();
    let document_ = null;
    try { document_ = text ? JSON.parse(text) : null; } catch { document_ = text; }
    if (!response.ok) {
      const error = new Error(problemText(response.status, document_));
      error.status = response.status;
      throw error;
    }
    return document_;
  }

  function problemText(status, body) {
    if (status === 401) return "The server wants a function key: enter one above.";
    if (body && typeof body === "object") {
      let text = body.detail || body.title || `HTTP ${status}`;
      if (Array.isArray(body.errors) && body.errors.length) {
        text += " " + body.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
      }
      return text;
    }
    return `HTTP ${status}`;
  }

  // --- small DOM helpers (text only) ----------------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  function setText(id, text) { $(id).textContent = text == null ? "" : String(text); }

  function notice(text) {
    const node = $("notice");
    node.textContent = text || "";
    node.hidden = !text;
  }

  function badge(node, status) {
    node.textContent = status || "-";
    node.className = `badge s-${status || "unknown"}`;
  }

  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "-");

  function seconds(ms) {
    if (ms == null) return "-";
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  }

  function duration(item) {
    const start = Date.parse(item.createdTime);
    if (Number.isNaN(start)) return "-";
    const end = ACTIVE.has(item.runtimeStatus) ? Date.now() : Date.parse(item.lastUpdatedTime);
    return Number.isNaN(end) ? "-" : seconds(Math.max(0, end - start));
  }

  function later(fn, ms) {
    clearTimeout(state.timer);
    state.timer = setTimeout(fn, ms);
  }

  // --- views -------------------------------------------------------------------------------

  function show(view, title) {
    for (const name of ["runs", "run", "new"]) $(`view-${name}`).hidden = name !== view;
    for (const [id, name] of [["nav-runs", "runs"], ["nav-new", "new"]]) {
      if (name === view) $(id).setAttribute("aria-current", "page");
      else $(id).removeAttribute("aria-current");
    }
    document.title = `${title} · Agent Runtime Orchestrator`;
  }

  function route() {
    clearTimeout(state.timer);
    notice("");
    if (!functionKey()) {
      // every route but the page itself needs the key: ask before calling anything
      show(location.hash === "#/new" ? "new" : "runs", "Runs");
      notice("Enter your function key above to see and start runs.");
      $("key-input").focus();
      return;
    }
    const hash = location.hash || "#/runs";
    const match = hash.match(/^#\/runs\/(.+)$/);
    if (match && RUN_ID.test(match[1])) {
      show("run", `Run ${match[1]}`);
      state.run = match[1];
      loadRun(match[1]);
    } else if (hash === "#/new") {
      show("new", "New run");
    } else {
      show("runs", "Runs");
      loadRuns();
    }
  }

  // --- the list ----------------------------------------------------------------------------

  async function loadRuns() {
    const params = new URLSearchParams({ top: "20" });
    if (state.status) params.set("status", state.status);
    const token = state.tokens[state.page];
    if (token) params.set("continuationToken", token);
    let page;
    try {
      page = await api(`/workflows?${params}`);
    } catch (error) {
      notice(error.message);
      return;
    }
    if ($("view-runs").hidden) return;
    notice("");
    const items = page.items || [];
    state.tokens[state.page + 1] = page.continuationToken || null;
    $("runs-body").replaceChildren(...items.map(runRow));
    $("runs-empty").hidden = items.length > 0;
    $("page-prev").disabled = state.page === 0;
    $("page-next").disabled = !page.continuationToken;
    setText("page-number", `Page ${state.page + 1}`);
    const active = items.some((item) => ACTIVE.has(item.runtimeStatus));
    setText("runs-live", active ? "Refreshing while runs are active" : "");
    if (active) later(loadRuns, 2000);
  }

  function runRow(item) {
    const link = el("a", { href: `#/runs/${item.instanceId}` }, item.instanceId);
    const status = el("span");
    badge(status, item.runtimeStatus);
    return el(
      "tr", {},
      el("td", { class: "id mono" }, link),
      el("td", {}, status),
      el("td", { text: item.phase || "-" }),
      el("td", { text: when(item.createdTime) }),
      el("td", { text: duration(item) }),
    );
  }

  // --- one run -----------------------------------------------------------------------------

  async function loadRun(id) {
    let status;
    try {
      status = await api(`/workflowStatus/${encodeURIComponent(id)}`);
    } catch (error) {
      notice(error.status === 404 ? `No run ${id} (or it is not yours).` : error.message);
      return;
    }
    if (state.run !== id || $("view-run").hidden) return;
    renderRun(status);
    if (ACTIVE.has(status.runtimeStatus)) later(() => loadRun(id), 1000);
    else if (status.trace && status.trace.spans) loadTrace(id);
    else $("run-trace-box").hidden = true;
  }

  function renderRun(s) {
    setText("run-id", s.instanceId);
    badge($("run-status"), s.runtimeStatus);
    setText("run-phase", s.phase);
    setText("run-created", when(s.createdTime));
    setText("run-updated", when(s.lastUpdatedTime));
    setText("run-request", describeRequest(s.request));
    setText("run-callback", describeCallback(s.callback));
    $("run-cancel").disabled = !ACTIVE.has(s.runtimeStatus);

    const progress = s.progress;
    $("run-progress").hidden = !progress;
    if (progress) setText("run-progress", describeProgress(progress));

    renderTimings(s.timings);

    const error = s.error;
    $("run-error-box").hidden = !error;
    if (error) {
      setText("run-error-type", error.type);
      setText("run-error-message", error.message);
      setText("run-error-limit", error.limit
        ? `Ended by the limit ${error.limit.name} (${error.limit.seconds} s).` : "");
      setText("run-error-hint", error.hint || "");
      setText("run-error-traceback", error.traceback || "(none)");
    }
    const done = s.runtimeStatus === "Completed";
    $("run-output-box").hidden = !done;
    if (done) setText("run-output", JSON.stringify(s.output, null, 2));
    const logs = s.logs || {};
    setText("run-stdout", logs.stdoutTail || "");
    setText("run-stderr", logs.stderrTail || "");
  }

  function describeRequest(request) {
    if (!request) return "-";
    const parts = [`${request.sessionStrategy || "ephemeral"} session`];
    if (request.timeoutSeconds) parts.push(`timeout ${request.timeoutSeconds} s`);
    if (request.environmentVariables && request.environmentVariables.length) {
      parts.push(`env ${request.environmentVariables.join(", ")}`);
    }
    if (request.secretEnvironmentVariables && request.secretEnvironmentVariables.length) {
      parts.push(`secrets ${request.secretEnvironmentVariables.join(", ")}`);
    }
    if (request.command) parts.push(`command: ${request.command}`);
    return parts.join(" · ");
  }

  function describeCallback(callback) {
    if (!callback) return "-";
    const bits = [callback.state, `${callback.attempts} attempt(s)`];
    if (callback.lastStatus) bits.push(`HTTP ${callback.lastStatus}`);
    if (callback.lastError && !callback.lastStatus) bits.push(callback.lastError);
    return bits.join(", ");
  }

  function describeProgress(p) {
    const last = p.last && p.last.type
      ? ` → ${p.last.type === "function" ? "tool" : p.last.type} ${p.last.name || ""}` : "";
    const tokens = p.tokens && (p.tokens.input || p.tokens.output)
      ? `, ${p.tokens.input || 0}+${p.tokens.output || 0} tokens` : "";
    return `${p.agent || "Working"}${last} (${p.steps} steps${tokens})`;
  }

  function renderTimings(t) {
    const box = $("run-timings-box");
    if (!t || !t.totalMs) { box.hidden = true; return; }
    box.hidden = false;
    const stages = [["queued", t.queuedMs], ["upload", t.uploadMs],
                    ["run", t.runMs], ["collect", t.collectMs]].filter(([, ms]) => ms != null);
    const total = stages.reduce((sum, [, ms]) => sum + ms, 0) || 1;
    const bar = $("run-timings");
    bar.replaceChildren(...stages.map(([name, ms]) => {
      const span = el("span", { class: `t-${name}`, title: `${name} ${seconds(ms)}` });
      span.style.width = `${(100 * ms) / total}%`;
      return span;
    }));
    const text = stages.map(([name, ms]) => `${name} ${seconds(ms)}`).join(", ")
      + ` · total ${seconds(t.totalMs)}`;
    bar.setAttribute("aria-label", text);
    setText("run-timings-text", text);
  }

  async function loadTrace(id) {
    let spans = [];
    try {
      let skip = 0;
      while (skip != null) {
        const page = await api(`/workflows/${encodeURIComponent(id)}/trace?skip=${skip}`);
        spans = spans.concat(page.spans || []);
        skip = page.nextSkip != null && page.nextSkip !== skip ? page.nextSkip : null;
      }
    } catch (error) {
      notice(error.message);
      return;
    }
    if (state.run !== id) return;
    renderTrace(spans);
  }

  function renderTrace(spans) {
    const box = $("run-trace-box");
    box.hidden = spans.length === 0;
    if (!spans.length) return;
    const byId = new Map(spans.map((s) => [s.id, s]));
    const depth = (span) => {
      let d = 0;
      for (let p = byId.get(span.parentId); p && d < 32; p = byId.get(p.parentId)) d += 1;
      return d;
    };
    const time = (iso) => (iso ? Date.parse(iso) : NaN);
    const starts = spans.map((s) => time(s.startedAt)).filter((x) => !Number.isNaN(x));
    const ends = spans.map((s) => time(s.endedAt)).filter((x) => !Number.isNaN(x));
    const t0 = Math.min(...starts);
    const span0 = Math.max(1, Math.max(...ends) - t0);
    const ordered = [...spans].sort((a, b) => (time(a.startedAt) || 0) - (time(b.startedAt) || 0)
      || depth(a) - depth(b));
    setText("run-trace-count", `(${spans.length} spans)`);
    $("run-trace").replaceChildren(...ordered.map((s) => {
      const start = time(s.startedAt), end = time(s.endedAt);
      const ms = Number.isNaN(start) || Number.isNaN(end) ? null : end - start;
      const usage = (s.data && s.data.usage) || null;
      const label = el("div", { class: "label" },
        el("span", { class: "kind", text: s.type === "function" ? "tool" : s.type }),
        el("span", { text: s.name || "" }),
        el("span", { class: "meta", text: [seconds(ms),
          usage ? `${usage.input || 0}+${usage.output || 0} tokens` : ""].join(" ").trim() }));
      label.style.paddingLeft = `${depth(s) * 1.1}em`;
      const bar = el("div", {
        class: `span k-${s.type}${s.error ? " err" : ""}`,
        title: `${s.type} ${s.name || ""} ${seconds(ms)}${s.error ? " (error)" : ""}`,
      });
      if (!Number.isNaN(start)) {
        bar.style.left = `${(100 * (start - t0)) / span0}%`;
        bar.style.width = `${Math.max(0.4, (100 * (ms || 0)) / span0)}%`;
      }
      return el("li", {}, label, el("div", { class: "lane", "aria-hidden": "true" }, bar));
    }));
  }

  // --- actions -----------------------------------------------------------------------------

  async function cancelRun() {
    const id = state.run;
    if (!id || !window.confirm(`Cancel run ${id}? Its session is deleted.`)) return;
    $("run-cancel").disabled = true;
    try {
      await api(`/workflows/${encodeURIComponent(id)}/cancel`, {
        method: "POST", json: { reason: "canceled from the run viewer" },
      });
      notice("Cancel requested.");
    } catch (error) {
      notice(error.message);
    }
    loadRun(id);
  }

  async function submitRun(event) {
    event.preventDefault();
    const errors = [];
    const code = $("new-code").value;
    if (!code.trim()) errors.push("Workflow code is empty.");
    let input = {};
    try {
      input = JSON.parse($("new-input").value || "{}");
      if (!input || typeof input !== "object" || Array.isArray(input)) {
        errors.push("Input must be a JSON object.");
      }
    } catch (error) {
      errors.push(`Input is not JSON: ${error.message}`);
    }
    const body = { workflowCode: code, input };
    const timeout = $("new-timeout").value;
    if (timeout) body.timeoutSeconds = Number(timeout);
    const session = $("new-session").value.trim();
    if (session) body.sessionId = session;
    const box = $("new-errors");
    if (errors.length) {
      box.textContent = errors.join(" ");
      box.hidden = false;
      return;
    }
    $("new-submit").disabled = true;
    try {
      const accepted = await api("/workflows", { method: "POST", json: body });
      box.hidden = true;
      location.hash = `#/runs/${accepted.id}`;
    } catch (error) {
      box.textContent = error.message;
      box.hidden = false;
    } finally {
      $("new-submit").disabled = false;
    }
  }

  async function readInto(fileInput, textarea) {
    const file = fileInput.files && fileInput.files[0];
    if (file) textarea.value = await file.text();
  }

  // --- wiring --------------------------------------------------------------------------------

  function start() {
    $("key-input").value = functionKey();
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY_STORE, $("key-input").value.trim());
      route();
    });
    $("key-clear").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORE);
      $("key-input").value = "";
      route();
    });
    $("status-filter").addEventListener("change", (event) => {
      state.status = event.target.value;
      state.tokens = [null];
      state.page = 0;
      loadRuns();
    });
    $("runs-refresh").addEventListener("click", loadRuns);
    $("page-next").addEventListener("click", () => { state.page += 1; loadRuns(); });
    $("page-prev").addEventListener("click", () => {
      state.page = Math.max(0, state.page - 1);
      loadRuns();
    });
    $("run-cancel").addEventListener("click", cancelRun);
    $("new-form").addEventListener("submit", submitRun);
    $("new-file").addEventListener("change", () => readInto($("new-file"), $("new-code")));
    $("new-input-file").addEventListener("change",
      () => readInto($("new-input-file"), $("new-input")));
    window.addEventListener("hashchange", route);
    route();
  }

  start();
})();
