"use strict";
// SIGEC-VE operator dashboard: one page over the REST API (/api/v1) and its live stream.
// No framework and no build step: everything it needs is in this directory.

const TOKEN_KEY = "sigecve.token";
const PROBLEM_ORDER = ["Faulted", "Unavailable", "offline", "alert"];
const MAX_ROWS = 500; // a page of a large fleet; the counts and filters cover all of it

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  stream: null,
  onEvent: null, // the current view's live event handler
  assistantState: null,
};

// ---- small helpers -------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "testid") node.dataset.testid = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
// A session's planned departure: told by the driver or the EV, or guessed from history
// (what the guess rests on, and how far it is trusted).
function departureText(s) {
  if (!s.departure_at) return "—";
  const g = s.departure_guess;
  if (!g) return `${fmtTime(s.departure_at)} (told)`;
  const from = { driver_alike: "this driver, alike arrivals", driver: "this driver", site_alike: "this site, alike arrivals", site: "this site", default: "site default" }[g.source] || g.source;
  return `${fmtTime(s.departure_at)} guessed from ${from} (${g.sessions} sessions, ${g.confidence} confidence)`;
}
const fmtKw = (v) => (v === null || v === undefined ? "—" : `${(+v).toFixed(1)} kW`);
const fmtKwh = (wh) => (wh === null || wh === undefined ? "—" : `${(wh / 1000).toFixed(2)} kWh`);
const pill = (text, cls = text) => h("span", { class: `pill ${cls}` }, text);
const enc = encodeURIComponent;

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401) {
    if (state.me) logout("The token was refused (revoked?); log in again.");
    throw new ApiError(401, "unauthorized", "not logged in");
  }
  if (!r.ok) {
    let error = {};
    try {
      error = (await r.json()).error || {};
    } catch (_) {
      /* not JSON */
    }
    throw new ApiError(r.status, error.code || "error", error.message || r.statusText);
  }
  if (raw) return r;
  return r.status === 204 ? null : r.json();
}

async function allPages(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=1000${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

function confirmAction(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

function errorBox(e) {
  return h("p", { class: "error", testid: "error" }, e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : String(e));
}

async function download(path, filename) {
  const r = await api(path, { raw: true });
  const url = URL.createObjectURL(await r.blob());
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
}

// ---- login and the live stream -------------------------------------------------------------

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.me = null;
  if (state.stream) state.stream.close();
  state.stream = null;
  document.getElementById("top").hidden = true;
  document.getElementById("assistant").hidden = true;
  renderLogin(message);
}

function renderLogin(message) {
  const input = h("input", { type: "password", name: "token", placeholder: "sgv_…", autocomplete: "off", required: true, testid: "token" });
  const error = h("p", { class: "error" }, message || "");
  const form = h("form", { class: "card login", testid: "login" },
    h("h1", {}, "SIGEC-VE"),
    h("p", { class: "muted" }, "Log in with an API token (the admin token is printed when the system starts)."),
    input, h("button", { class: "primary", type: "submit" }, "Log in"), error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    state.token = input.value.trim();
    try {
      state.me = await api("/me");
    } catch (e) {
      state.token = null;
      error.textContent = e.status === 401 ? "Unknown or revoked token." : String(e.message);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, state.token);
    start();
  });
  document.getElementById("view").replaceChildren(form);
  input.focus();
}

function openStream() {
  if (state.stream) state.stream.close();
  const live = document.getElementById("live");
  const source = new EventSource(`/api/v1/events/stream?access_token=${enc(state.token)}`);
  state.stream = source;
  source.addEventListener("ready", () => {
    live.textContent = "live";
    live.classList.add("on");
  });
  source.addEventListener("error", () => {
    live.textContent = "reconnecting";
    live.classList.remove("on");
  });
  source.addEventListener("lagged", () => {
    // Too slow to keep up: start again and re-read what the page shows.
    openStream();
    route();
  });
  for (const type of ["connection", "connector_status", "transaction_started", "transaction_stopped", "power", "alert_raised", "alert_cleared", "model_deployed"]) {
    source.addEventListener(type, (ev) => {
      const data = JSON.parse(ev.data);
      if (type.startsWith("alert_")) refreshAlertCount();
      if (state.onEvent) state.onEvent(type, data);
    });
  }
}

async function refreshAlertCount() {
  try {
    const page = await api("/alerts?limit=1000");
    const badge = document.getElementById("alert-count");
    badge.textContent = String(page.items.length);
    badge.hidden = page.items.length === 0;
  } catch (_) {
    /* shown on the alerts page */
  }
}

async function start() {
  if (!state.me) {
    try {
      state.me = await api("/me");
    } catch (_) {
      return;
    }
  }
  document.getElementById("top").hidden = false;
  document.getElementById("whoami").textContent = `${state.me.name} (${state.me.role})`;
  openStream();
  refreshAlertCount();
  if (!location.hash || location.hash === "#/login") location.hash = "#/fleet";
  else route();
}

// ---- router --------------------------------------------------------------------------------

const routes = [
  [/^#\/fleet$/, fleetView],
  [/^#\/cp\/(.+)$/, chargePointView],
  [/^#\/sites$/, sitesView],
  [/^#\/sites\/(.+)$/, siteView],
  [/^#\/transactions$/, transactionsView],
  [/^#\/alerts$/, alertsView],
];

async function route() {
  if (!state.token) return renderLogin();
  state.onEvent = null;
  const hash = location.hash || "#/fleet";
  for (const a of document.querySelectorAll("[data-nav]"))
    a.classList.toggle("active", hash.startsWith(`#/${a.dataset.nav}`) || (a.dataset.nav === "fleet" && hash.startsWith("#/cp/")));
  const view = document.getElementById("view");
  for (const [pattern, render] of routes) {
    const m = hash.match(pattern);
    if (m) {
      view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
      try {
        await render(view, ...m.slice(1).map(decodeURIComponent));
      } catch (e) {
        if (e.status !== 401) view.replaceChildren(errorBox(e));
      }
      return;
    }
  }
  location.hash = "#/fleet";
}

// ---- fleet ---------------------------------------------------------------------------------

function chargePointState(cp, alerts) {
  const statuses = cp.connectors.filter((c) => c.connector_id !== 0 || cp.connectors.length === 1).map((c) => c.status);
  const problems = [];
  if (statuses.includes("Faulted") || cp.connectors.some((c) => c.status === "Faulted")) problems.push("Faulted");
  if (statuses.includes("Unavailable")) problems.push("Unavailable");
  if (!cp.connected) problems.push("offline");
  if (alerts.has(cp.id)) problems.push("alert");
  const rank = problems.length ? Math.min(...problems.map((p) => PROBLEM_ORDER.indexOf(p))) : PROBLEM_ORDER.length;
  return { statuses, problems, rank };
}

async function fleetView(view) {
  const [cps, alerts, sites] = await Promise.all([allPages("/charge-points"), allPages("/alerts"), allPages("/sites")]);
  const alerting = new Map(alerts.map((a) => [a.charge_point_id, a]));
  const byId = new Map(cps.map((cp) => [cp.id, cp]));
  const filter = { site: "", state: "", q: "" };

  const countsBox = h("div", { class: "counts", testid: "counts" });
  const shown = h("p", { class: "muted" });
  const tbody = h("tbody");
  const siteSelect = h("select", { testid: "site-filter" }, h("option", { value: "" }, "all sites"), sites.map((s) => h("option", { value: s.id }, s.name || s.id)));
  const search = h("input", { type: "search", placeholder: "charge point id contains…", testid: "search" });
  siteSelect.addEventListener("change", () => { filter.site = siteSelect.value; draw(); });
  search.addEventListener("input", () => { filter.q = search.value.trim().toLowerCase(); draw(); });

  function stateKeys(cp) {
    const keys = new Set([cp.connected ? "online" : "offline"]);
    for (const c of cp.connectors) if (c.connector_id !== 0) keys.add(c.status);
    if (alerting.has(cp.id)) keys.add("alert");
    return keys;
  }

  function draw() {
    const counts = new Map();
    for (const cp of byId.values()) for (const k of stateKeys(cp)) counts.set(k, (counts.get(k) || 0) + 1);
    const order = ["online", "offline", "Available", "Charging", "Preparing", "SuspendedEV", "SuspendedEVSE", "Finishing", "Occupied", "Reserved", "Unavailable", "Faulted", "alert"];
    countsBox.replaceChildren(
      h("div", { class: `count ${filter.state === "" ? "selected" : ""}`, onclick: () => { filter.state = ""; draw(); } }, h("b", {}, byId.size), "charge points"),
      ...[...counts.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b)).map((k) =>
        h("div", { class: `count ${filter.state === k ? "selected" : ""}`, testid: `count-${k}`, onclick: () => { filter.state = k; draw(); } }, h("b", {}, counts.get(k)), k)),
    );
    const rows = [...byId.values()]
      .filter((cp) => !filter.site || cp.site_id === filter.site)
      .filter((cp) => !filter.state || stateKeys(cp).has(filter.state))
      .filter((cp) => !filter.q || cp.id.toLowerCase().includes(filter.q))
      .map((cp) => ({ cp, ...chargePointState(cp, alerting) }))
      .sort((a, b) => a.rank - b.rank || a.cp.id.localeCompare(b.cp.id));
    shown.textContent = rows.length > MAX_ROWS ? `showing the first ${MAX_ROWS} of ${rows.length}: narrow with the filters` : "";
    tbody.replaceChildren(...rows.slice(0, MAX_ROWS).map(({ cp, problems }) =>
      h("tr", { testid: `cp-row-${cp.id}` },
        h("td", {}, h("a", { href: `#/cp/${enc(cp.id)}` }, cp.id)),
        h("td", {}, cp.site_id || "—"),
        h("td", { testid: "connection" }, cp.connected ? pill("online") : pill("offline")),
        h("td", { testid: "connectors" }, cp.connectors.filter((c) => c.connector_id !== 0).map((c) => pill(`${c.connector_id}: ${c.status}`, c.status))),
        h("td", {}, problems.filter((p) => p === "alert").map(() => {
          const a = alerting.get(cp.id);
          return h("span", { class: "pill Faulted", title: a.failure_mode || a.event_key || "" }, alertLabel(a));
        })),
        h("td", {}, cp.ocpp_protocol || "—"),
        h("td", {}, fmtTime(cp.last_seen_at)),
      )));
  }

  // A busy fleet sends many events a second: draw at most four times a second.
  let drawPending = false;
  const redraw = () => {
    if (drawPending) return;
    drawPending = true;
    setTimeout(() => { drawPending = false; draw(); }, 250);
  };

  state.onEvent = (type, e) => {
    const cp = byId.get(e.charge_point_id);
    if (type === "connection" && cp) {
      cp.connected = e.connected;
      if (e.protocol) cp.ocpp_protocol = e.protocol;
      cp.last_seen_at = e.at;
    } else if (type === "connector_status" && cp) {
      const c = cp.connectors.find((x) => x.connector_id === e.connector_id);
      if (c) Object.assign(c, { status: e.status, error_code: e.error_code, status_at: e.at });
      else cp.connectors.push({ connector_id: e.connector_id, status: e.status, error_code: e.error_code, status_at: e.at });
      cp.connectors.sort((a, b) => a.connector_id - b.connector_id);
    } else if (type === "alert_raised") {
      alerting.set(e.charge_point_id, { risk: e.risk, source: e.source, event_key: e.event_key, charge_point_id: e.charge_point_id });
    } else if (type === "alert_cleared") {
      alerting.delete(e.charge_point_id);
    } else if (type === "connection" && !cp) {
      return fleetView(view); // a charge point we have not listed yet
    } else return;
    redraw();
  };

  // Stations nobody registered, waiting for approval (onboarding policy pending/rejected).
  const queue = (await api("/onboarding/queue")).items;
  const canApprove = state.me.role !== "viewer";
  const queueBox = queue.length ? h("div", { class: "card", testid: "approval-queue" },
    h("h2", {}, `Awaiting approval (${queue.length})`),
    h("p", { class: "muted" }, "What each station booted with is its own text. Approved, it is configured from its templates and accepted at its next boot."),
    h("table", {}, h("tbody", {}, queue.map((q) => {
      const out = h("span", { class: "muted" });
      const act = (verb) => async () => {
        if (!(await confirmAction(`${verb === "approve" ? "Approve" : "Reject"} ${q.id}?`))) return;
        try {
          const r = await api(`/charge-points/${enc(q.id)}/${verb}`, { method: "POST", body: {} });
          out.textContent = r.approved_at ? "approved: configuring at its next boot" : r.registration_status;
        } catch (e) {
          out.textContent = `${e.status || ""} ${e.message}`;
        }
      };
      return h("tr", { testid: `pending-${q.id}` },
        h("td", {}, q.id), h("td", {}, pill(q.approved_at ? "approved" : q.registration_status, q.registration_status === "Rejected" ? "Faulted" : "Reserved")),
        h("td", {}, `${q.vendor || "—"} / ${q.model || "—"}`), h("td", {}, q.serial_number || ""), h("td", {}, q.firmware_version || ""),
        h("td", {}, canApprove && !q.approved_at ? [h("button", { testid: `approve-${q.id}`, onclick: act("approve") }, "Approve"), " ", h("button", { onclick: act("reject") }, "Reject")] : ""),
        h("td", {}, out));
    })))) : "";

  view.replaceChildren(
    h("h1", {}, "Fleet"),
    queueBox,
    countsBox,
    h("div", { class: "filters" }, siteSelect, search, h("span", { class: "muted" }, "problems first: faulted, unavailable, offline, at risk")),
    h("table", { testid: "fleet" },
      h("thead", {}, h("tr", {}, ["Charge point", "Site", "Connection", "Connectors", "Failure risk", "OCPP", "Last seen"].map((t) => h("th", {}, t)))),
      tbody),
    shown,
  );
  draw();
}

// ---- one charge point ----------------------------------------------------------------------

async function chargePointView(view, id) {
  const cp = await api(`/charge-points/${enc(id)}`);
  const canOperate = state.me.role !== "viewer";
  const active = cp.active_transactions || [];
  const info = cp.boot_info || {};

  const header = h("div", { class: "card" },
    h("h1", {}, cp.id, " ", cp.connected ? pill("online") : pill("offline")),
    h("dl", { class: "kv", testid: "boot-info" },
      h("dt", {}, "Site"), h("dd", {}, cp.site_id ? h("a", { href: `#/sites/${enc(cp.site_id)}` }, cp.site_id) : "—"),
      h("dt", {}, "Vendor / model"), h("dd", {}, `${cp.vendor || "—"} / ${cp.model || "—"}`),
      h("dt", {}, "Firmware"), h("dd", {}, cp.firmware_version || "—"),
      h("dt", {}, "Serial"), h("dd", {}, cp.serial_number || info.chargePointSerialNumber || "—"),
      h("dt", {}, "OCPP"), h("dd", {}, cp.ocpp_protocol || "—"),
      h("dt", {}, "Power"), h("dd", {}, `${fmtKw(cp.max_power_kw)}, ${cp.phases || "?"} phase(s)`),
      h("dt", {}, "Booted"), h("dd", {}, fmtTime(cp.booted_at)),
      h("dt", {}, "Last seen"), h("dd", { testid: "last-seen" }, fmtTime(cp.last_seen_at))));

  const connectorsBody = h("tbody");
  const drawConnectors = () => connectorsBody.replaceChildren(...cp.connectors.map((c) =>
    h("tr", { testid: `connector-${c.connector_id}` },
      h("td", {}, c.connector_id), h("td", {}, pill(c.status)), h("td", {}, c.error_code || ""),
      h("td", {}, c.info || c.vendor_error_code || ""), h("td", {}, fmtTime(c.status_at)))));
  drawConnectors();

  // The current session and its live power curve.
  const session = h("div", { class: "card", testid: "session" });
  const chart = Charts.create();
  chart.dataset.testid = "power-chart";
  const points = [];
  let current = active[0] || null;
  async function drawSession() {
    if (!current) {
      session.replaceChildren(h("h2", {}, "Current session"), h("p", { class: "muted" }, "No session in progress."));
      return;
    }
    const mv = await api(`/transactions/${current.id}/meter-values`);
    points.length = 0;
    for (const s of mv.items)
      if (s.measurand === "Power.Active.Import" && !s.phase) points.push([new Date(s.timestamp), s.unit === "kW" ? s.value : s.value / 1000]);
    points.sort((a, b) => a[0] - b[0]);
    session.replaceChildren(
      h("h2", {}, "Current session"),
      h("dl", { class: "kv" },
        h("dt", {}, "Transaction"), h("dd", { testid: "transaction-id" }, String(current.transaction_id)),
        h("dt", {}, "Connector"), h("dd", {}, current.connector_id),
        h("dt", {}, "Id tag"), h("dd", {}, current.id_tag || "—"),
        h("dt", {}, "Started"), h("dd", {}, fmtTime(current.started_at)),
        h("dt", {}, "Power now"), h("dd", { testid: "power-now" }, points.length ? fmtKw(points[points.length - 1][1]) : "—")),
      chart);
    Charts.timeSeries(chart, { series: [{ points, cls: "series", testid: "power-line" }] });
  }
  await drawSession();

  const commandsBox = h("div", { class: "card" }, h("h2", {}, "Commands"));
  const reply = h("div", { class: "reply", testid: "command-reply" }, "Replies from the charger appear here.");
  async function send(label, path, body, question) {
    if (!(await confirmAction(question || `${label} on ${cp.id}?`))) return;
    reply.textContent = `${label}: waiting for the charger…`;
    try {
      const r = await api(`/charge-points/${enc(cp.id)}/${path}`, { method: "POST", body });
      reply.textContent = `${label}: ${r.status}\n${JSON.stringify(r.response, null, 1)}`;
    } catch (e) {
      reply.textContent = `${label} failed: ${e.status || ""} ${e.message}`;
    }
  }
  if (canOperate) {
    const connectorIds = cp.connectors.map((c) => c.connector_id).filter((n) => n > 0);
    const connectorSelect = h("select", { testid: "command-connector" }, connectorIds.map((n) => h("option", { value: n }, `connector ${n}`)));
    const tagInput = h("input", { placeholder: "id tag", size: 12, testid: "remote-start-tag" });
    const triggerSelect = h("select", { testid: "trigger-message" }, ["Heartbeat", "StatusNotification", "MeterValues", "BootNotification"].map((m) => h("option", { value: m }, m)));
    commandsBox.append(h("div", { class: "commands" },
      h("button", { testid: "cmd-trigger", onclick: () => send("TriggerMessage", "trigger", { message: triggerSelect.value }, `Ask ${cp.id} to send ${triggerSelect.value}?`) }, "Trigger"), triggerSelect,
      h("button", { testid: "cmd-soft-reset", onclick: () => send("Soft reset", "reset", { kind: "soft" }, `Soft reset ${cp.id}? Sessions in progress may end.`) }, "Soft reset"),
      h("button", { class: "danger", testid: "cmd-hard-reset", onclick: () => send("Hard reset", "reset", { kind: "hard" }, `Hard reset ${cp.id}? It reboots at once and ends any session.`) }, "Hard reset"),
      connectorSelect,
      h("button", { testid: "cmd-unlock", onclick: () => send("Unlock", "unlock", { connector_id: +connectorSelect.value }, `Unlock connector ${connectorSelect.value} of ${cp.id}?`) }, "Unlock"),
      h("button", { testid: "cmd-unavailable", onclick: () => send("Set unavailable", "availability", { connector_id: +connectorSelect.value, operative: false }) }, "Set unavailable"),
      h("button", { testid: "cmd-available", onclick: () => send("Set available", "availability", { connector_id: +connectorSelect.value, operative: true }) }, "Set available"),
      tagInput,
      h("button", { testid: "cmd-remote-start", onclick: () => send("Remote start", "remote-start", { id_tag: tagInput.value, connector_id: +connectorSelect.value }) }, "Remote start"),
      current && h("button", { class: "danger", testid: "cmd-remote-stop", onclick: () => send("Remote stop", "remote-stop", { id: current.id }, `Stop the session on ${cp.id}? The driver's charging ends.`) }, "Remote stop"),
      h("button", { testid: "cmd-clear-cache", onclick: () => send("Clear cache", "clear-cache", {}) }, "Clear cache")),
    reply);
  } else commandsBox.append(h("p", { class: "muted" }, "Viewer tokens cannot send commands."));

  // The device model as stored (2.x reports and answers, 1.6 keys): viewers read it too.
  const deviceModel = h("div", { class: "card" }, h("h2", {}, "Device model"));
  const modelOut = h("div", { testid: "device-model" });
  const drawModel = async () => {
    try {
      const m = await api(`/charge-points/${enc(cp.id)}/variables`);
      const report = m.reports[0];
      const where = (v) => [v.component || "(1.6)", v.component_instance, v.evse_id ? `EVSE ${v.evse_id}${v.connector_id ? `/${v.connector_id}` : ""}` : ""].filter(Boolean).join(" ");
      modelOut.replaceChildren(
        h("p", { class: "muted", testid: "device-model-report" }, report ? `Last report ${report.request_id}: ${report.state}, ${report.parts_received} part(s)` : "No report asked for yet."),
        m.variables.length ? h("div", { class: "log-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, ["Component", "Variable", "Value", "Access", "Type", "Last answer"].map((t) => h("th", {}, t)))),
          h("tbody", {}, m.variables.flatMap((v) => v.attributes.map((a) =>
            h("tr", {},
              h("td", {}, where(v)),
              h("td", {}, v.variable + (v.variable_instance ? ` (${v.variable_instance})` : "") + (a.type !== "Actual" ? ` [${a.type}]` : "")),
              h("td", {}, a.value ?? ""),
              h("td", { class: "muted" }, a.mutability || ""),
              h("td", { class: "muted" }, (v.characteristics && v.characteristics.data_type) || ""),
              h("td", { class: "muted" }, a.status || "")))))))
          : h("p", { class: "muted" }, "Nothing stored yet."));
    } catch (e) {
      modelOut.replaceChildren(errorBox(e));
    }
  };
  if (canOperate)
    deviceModel.append(h("button", { testid: "request-report", onclick: async () => {
      modelOut.replaceChildren(h("p", { class: "muted" }, "Asking the charger for its report…"));
      try {
        await api(`/charge-points/${enc(cp.id)}/variables/report`, { method: "POST" });
      } catch (e) {
        modelOut.replaceChildren(errorBox(e));
        return;
      }
      await drawModel();
    } }, "Ask for a report"), " ", h("button", { onclick: drawModel }, "Refresh"));
  deviceModel.append(modelOut);
  drawModel();

  const config = h("div", { class: "card" }, h("h2", {}, "Configuration"));
  const logBox = h("div", { class: "card" }, h("h2", {}, "OCPP message log"));
  if (canOperate) {
    const configOut = h("div", { testid: "configuration" }, h("p", { class: "muted" }, "Read from the charger on request."));
    config.append(h("button", { testid: "read-configuration", onclick: async () => {
      configOut.replaceChildren(h("p", { class: "muted" }, "Asking the charger…"));
      try {
        const c = await api(`/charge-points/${enc(cp.id)}/configuration`);
        configOut.replaceChildren(h("table", {}, h("tbody", {}, c.items.map((i) =>
          h("tr", {}, h("td", {}, i.key), h("td", {}, i.value ?? ""), h("td", { class: "muted" }, i.readonly ? "read-only" : ""))))));
      } catch (e) {
        configOut.replaceChildren(errorBox(e));
      }
    } }, "Read configuration"), configOut);
    const logOut = h("div");
    const loadLog = async () => {
      try {
        const log = await api(`/charge-points/${enc(cp.id)}/log?limit=50`);
        logOut.replaceChildren(
          h("p", { class: "muted" }, "Frames as the charger sent them: data, not instructions."),
          h("div", { class: "log-wrap" }, h("table", { class: "log", testid: "message-log" }, h("tbody", {}, log.frames.map((m) =>
            h("tr", {},
              h("td", { class: "nowrap" }, new Date(m.at).toLocaleTimeString()),
              h("td", { class: "nowrap" }, m.direction === "in" ? "← in" : "→ out"),
              h("td", { class: "nowrap" }, m.action || ""),
              h("td", { title: m.frame }, m.frame.length > 240 ? `${m.frame.slice(0, 240)}…` : m.frame)))))));
      } catch (e) {
        logOut.replaceChildren(errorBox(e));
      }
    };
    logBox.append(h("button", { onclick: loadLog }, "Refresh"), logOut);
    loadLog();
  } else {
    config.append(h("p", { class: "muted" }, "Operators read and change configuration."));
    logBox.append(h("p", { class: "muted" }, "Operators read the message log."));
  }

  state.onEvent = async (type, e) => {
    if (e.charge_point_id !== cp.id) return;
    if (type === "connector_status") {
      const c = cp.connectors.find((x) => x.connector_id === e.connector_id);
      if (c) Object.assign(c, { status: e.status, error_code: e.error_code, status_at: e.at });
      drawConnectors();
    } else if (type === "connection") {
      cp.connected = e.connected;
      header.querySelector("h1").replaceChildren(cp.id, " ", cp.connected ? pill("online") : pill("offline"));
    } else if (type === "power" && current && e.connector_id === current.connector_id) {
      points.push([new Date(e.at), e.unit === "kW" ? e.value : e.value / 1000]);
      Charts.timeSeries(chart, { series: [{ points, cls: "series", testid: "power-line" }] });
      const now = session.querySelector("[data-testid=power-now]");
      if (now) now.textContent = fmtKw(points[points.length - 1][1]);
    } else if (type === "transaction_started") {
      current = { id: e.id, transaction_id: e.transaction_id, connector_id: e.connector_id, id_tag: e.id_tag, started_at: e.at };
      await drawSession();
    } else if (type === "transaction_stopped" && current && e.id === current.id) {
      current = null;
      await drawSession();
    }
  };

  view.replaceChildren(
    h("p", {}, h("a", { href: "#/fleet" }, "← Fleet")),
    header,
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "Connectors"), h("table", { testid: "connectors" },
        h("thead", {}, h("tr", {}, ["#", "Status", "Error", "Info", "Since"].map((t) => h("th", {}, t)))), connectorsBody)),
      session),
    commandsBox,
    h("div", { class: "grid" }, config, logBox),
    deviceModel,
  );
}

// ---- sites ---------------------------------------------------------------------------------

async function sitesView(view) {
  const sites = await allPages("/sites");
  const cps = await allPages("/charge-points");
  const perSite = new Map();
  for (const cp of cps) perSite.set(cp.site_id, (perSite.get(cp.site_id) || 0) + 1);
  view.replaceChildren(h("h1", {}, "Sites"), h("table", { testid: "sites" },
    h("thead", {}, h("tr", {}, ["Site", "Name", "Grid limit", "Tariff", "Smart charging", "Charge points"].map((t) => h("th", {}, t)))),
    h("tbody", {}, sites.map((s) => h("tr", {},
      h("td", {}, h("a", { href: `#/sites/${enc(s.id)}` }, s.id)), h("td", {}, s.name || ""),
      h("td", { class: "num" }, fmtKw(s.max_power_kw)), h("td", { class: "num" }, s.price_per_kwh ?? "—"),
      h("td", {}, String(s.smart_charging)), h("td", { class: "num" }, perSite.get(s.id) || 0))))));
}

async function siteView(view, id) {
  const [site, plan, load] = await Promise.all([
    api(`/sites/${enc(id)}`), api(`/sites/${enc(id)}/plan`), api(`/sites/${enc(id)}/load`)]);
  const dayStart = new Date(`${load.day}T00:00:00Z`);
  const dayEnd = new Date(+dayStart + 864e5);
  const loadPoints = load.samples.map((s) => [new Date(s.at), s.power_kw]);
  // The grid limit over the day: the limit schedule's steps, else the flat limit.
  const steps = (site.limit_schedule || []).map((l) => [new Date(l.starts_at), l.max_power_kw]).filter(([t]) => t < dayEnd);
  const limitPoints = [[dayStart, site.max_power_kw], ...steps.map(([t, v]) => [t < dayStart ? dayStart : t, Math.min(v, site.max_power_kw)])];
  const planned = plan.sessions.reduce((sum, s) => sum + s.power_kw, 0);
  const planPoints = plan.planned_at ? [[new Date(plan.planned_at), planned], [new Date(), planned]] : [];
  const chart = Charts.create();
  chart.dataset.testid = "site-load";
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/sites" }, "← Sites")),
    h("h1", {}, site.name || site.id),
    h("div", { class: "card" },
      h("h2", {}, `Load today (UTC ${load.day}) against the grid limit`),
      h("div", { class: "legend" }, h("span", { class: "l-series" }, "— load"), h("span", { class: "l-limit" }, "- - grid limit"), h("span", { class: "l-plan" }, "··· planned now")),
      chart),
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "Smart-charging plan"),
        h("p", { class: "muted" }, `planned ${fmtTime(plan.planned_at)} by ${plan.solver || "—"}; ${plan.expected_arrivals} arrivals expected`),
        h("table", { testid: "plan" }, h("thead", {}, h("tr", {}, ["Charge point", "Transaction", "Planned", "Departure", "Charger's reply"].map((t) => h("th", {}, t)))),
          h("tbody", {}, plan.sessions.map((s) => h("tr", {},
            h("td", {}, h("a", { href: `#/cp/${enc(s.charge_point_id)}` }, s.charge_point_id)), h("td", {}, String(s.transaction_id)),
            h("td", { class: "num" }, fmtKw(s.power_kw)), h("td", {}, departureText(s)), h("td", {}, s.status)))))),
      h("div", { class: "card" }, h("h2", {}, "Prices"),
        h("p", {}, `Flat tariff: ${site.price_per_kwh ?? "—"} per kWh`),
        (site.price_schedule || []).length
          ? h("table", { testid: "prices" }, h("tbody", {}, site.price_schedule.map((p) => h("tr", {}, h("td", {}, fmtTime(p.starts_at)), h("td", { class: "num" }, p.price_per_kwh)))))
          : h("p", { class: "muted" }, "No price signal: the flat tariff applies."))),
  );
  Charts.timeSeries(chart, {
    from: dayStart, to: dayEnd, yMin: site.max_power_kw,
    series: [{ points: loadPoints, cls: "series" }, { points: limitPoints, cls: "limit", step: true }, { points: planPoints, cls: "plan" }],
  });
}

// ---- sessions and reports ------------------------------------------------------------------

async function transactionsView(view) {
  const list = await api("/transactions?limit=200");
  const reportBox = h("div", { class: "card" });
  const reportSelect = h("select", { testid: "report" }, ["energy", "uptime", "failed-starts", "revenue"].map((r) => h("option", { value: r }, r)));
  const chart = Charts.create();
  async function showReport() {
    const name = reportSelect.value;
    const out = h("div");
    reportBox.replaceChildren(h("h2", {}, "Reports (last 30 days)"),
      h("div", { class: "filters" }, reportSelect,
        h("button", { testid: "csv", onclick: () => download(`/reports/${name}?format=csv`, `sigecve-${name}.csv`) }, "Export CSV")),
      out);
    try {
      const report = await api(`/reports/${name}`);
      const rows = report.rows || report.items || [];
      if (name === "energy" && rows.length) {
        const byDay = new Map();
        for (const r of rows) byDay.set(r.day, (byDay.get(r.day) || 0) + (r.energy_kwh ?? r.kwh ?? 0));
        Charts.bars(chart, { bars: [...byDay].sort().map(([day, v]) => ({ label: String(day).slice(5, 10), value: v })), yUnit: "kWh" });
        out.append(chart);
      }
      const cols = rows.length ? Object.keys(rows[0]) : [];
      out.append(rows.length
        ? h("table", { testid: "report-table" }, h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c)))),
          h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => h("td", { class: typeof r[c] === "number" ? "num" : "" }, typeof r[c] === "number" ? +r[c].toFixed(3) : r[c] ?? "—"))))))
        : h("p", { class: "muted" }, "Nothing in this period."));
    } catch (e) {
      out.append(errorBox(e));
    }
  }
  reportSelect.addEventListener("change", showReport);
  view.replaceChildren(
    h("h1", {}, "Sessions & reports"),
    reportBox,
    h("div", { class: "card" }, h("h2", {}, "Latest sessions"),
      h("table", { testid: "transactions" },
        h("thead", {}, h("tr", {}, ["Id", "Charge point", "Connector", "Id tag", "Started", "Stopped", "Energy", "Reason"].map((t) => h("th", {}, t)))),
        h("tbody", {}, list.items.map((t) => h("tr", {},
          h("td", {}, t.id), h("td", {}, h("a", { href: `#/cp/${enc(t.charge_point_id)}` }, t.charge_point_id)),
          h("td", {}, t.connector_id), h("td", {}, t.id_tag || ""), h("td", {}, fmtTime(t.started_at)),
          h("td", {}, t.stopped_at ? fmtTime(t.stopped_at) : pill("Charging")), h("td", { class: "num" }, fmtKwh(t.energy_wh)),
          h("td", {}, t.stop_reason || "")))))),
  );
  await showReport();
  state.onEvent = (type) => {
    if (type === "transaction_started" || type === "transaction_stopped") transactionsView(view);
  };
}

// ---- alerts --------------------------------------------------------------------------------

// A predicted failure shows its risk; a problem a station reported, what its monitor saw.
const SEVERITIES = ["Danger", "Hardware Failure", "System Failure", "Critical", "Error", "Alert", "Warning", "Notice", "Informational", "Debug"];

function alertLabel(a) {
  if (a.risk != null) return `risk ${(a.risk * 100).toFixed(0)}%`;
  const variable = a.event ? a.event.variable : (a.event_key || "").split(".").pop();
  return `reported: ${variable}`;
}

function alertCells(a) {
  if (a.source !== "monitoring") {
    return [
      h("td", {}, "predicted"),
      h("td", { class: "num" }, `${(a.risk * 100).toFixed(0)}%`),
      h("td", {}, a.failure_mode || "—"),
      h("td", {}, (a.signals || []).slice(0, 3).map((s) => pill(`${s.name} = ${+s.value.toFixed(2)}`, ""))),
    ];
  }
  const e = a.event;
  const where = e.evse_id ? ` (EVSE ${e.evse_id})` : "";
  return [
    h("td", {}, "reported"),
    h("td", {}, e.severity == null ? "—" : `${e.severity} ${SEVERITIES[e.severity]}`),
    h("td", {}, `${e.component}.${e.variable}${where}`),
    h("td", {}, pill(`${e.trigger}: ${e.actual_value}`, "")),
  ];
}

async function alertsView(view) {
  const [alerts, model] = await Promise.all([allPages("/alerts"), api("/failure-model").catch(() => null)]);
  const canOperate = state.me.role !== "viewer";
  view.replaceChildren(
    h("h1", {}, "Alerts"),
    h("p", { class: "muted" }, (model ? `Predicted: model ${model.version}, risk of a failure within ${model.horizon_hours} h; alert above ${(model.threshold * 100).toFixed(0)}%.` : "Predicted: no failure model is deployed.") + " Reported: problems stations' monitors saw (severity 0-5), cleared when the station says so."),
    alerts.length
      ? h("table", { testid: "alerts" },
        h("thead", {}, h("tr", {}, ["Charge point", "Source", "Risk / severity", "Likely failure / variable", "Signals / value", "Raised", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, alerts.map((a) => h("tr", { testid: `alert-${a.id}` },
          h("td", {}, h("a", { href: `#/cp/${enc(a.charge_point_id)}` }, a.charge_point_id)),
          ...alertCells(a),
          h("td", {}, fmtTime(a.raised_at)),
          h("td", {}, canOperate && h("button", { onclick: async () => {
            if (!(await confirmAction(`Clear the alert on ${a.charge_point_id}? Do this when the alert was wrong; a repair clears it by itself.`))) return;
            await api(`/alerts/${a.id}/clear`, { method: "POST" });
            alertsView(view);
          } }, "Clear"))))))
      : h("p", { testid: "no-alerts" }, "No open alerts."),
  );
  state.onEvent = (type) => {
    if (type.startsWith("alert_") || type === "model_deployed") alertsView(view);
  };
}

// ---- assistant -----------------------------------------------------------------------------

async function ask(body, log) {
  const answer = h("div", { class: "a", testid: "assistant-answer" });
  log.append(answer);
  let r;
  try {
    r = await api("/assistant", { method: "POST", body, raw: true });
  } catch (e) {
    answer.replaceChildren(errorBox(e));
    return;
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) onAssistantEvent(JSON.parse(data), answer, log);
    }
    log.scrollTop = log.scrollHeight;
  }
}

function onAssistantEvent(event, answer, log) {
  if (event.type === "text") answer.append(event.text);
  else if (event.type === "tool_call") log.append(h("div", { class: "tool" }, `→ ${event.tool}(${JSON.stringify(event.arguments || {})})`));
  else if (event.type === "tool_result") log.append(h("div", { class: "tool" }, event.is_error ? "← error" : "← result"));
  else if (event.type === "error") answer.append(h("span", { class: "error" }, event.text));
  else if (event.type === "done") state.assistantState = event.state;
  else if (event.type === "confirmation_required") {
    state.assistantState = event.state;
    const box = h("div", { class: "card", testid: "assistant-confirm" },
      h("p", {}, "The assistant proposes:"),
      h("ul", {}, (event.pending || []).map((p) => h("li", {}, `${p.tool || p.name}(${JSON.stringify(p.arguments || {})})`))));
    const decide = (approve) => async () => {
      box.remove();
      await ask({ state: state.assistantState, approve }, log);
    };
    box.append(h("button", { class: "danger", testid: "assistant-approve", onclick: decide(true) }, "Approve"), " ",
      h("button", { testid: "assistant-decline", onclick: decide(false) }, "Decline"));
    log.append(box);
  }
}

function setupAssistant() {
  const panel = document.getElementById("assistant");
  const log = document.getElementById("assistant-log");
  const form = document.getElementById("assistant-form");
  const question = document.getElementById("assistant-question");
  document.getElementById("assistant-toggle").addEventListener("click", () => { panel.hidden = !panel.hidden; });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = question.value.trim();
    if (!text) return;
    question.value = "";
    log.append(h("div", { class: "q" }, text));
    const body = { question: text };
    if (state.assistantState) body.state = state.assistantState;
    await ask(body, log);
  });
}

// ---- start ---------------------------------------------------------------------------------

document.getElementById("logout").addEventListener("click", () => logout());
window.addEventListener("hashchange", route);
setupAssistant();
if (state.token) start();
else renderLogin();
