// The public status page: every public service with its state, uptime bars for 24 h, 7 d and
// 30 d, the response time of the last 24 h and its recent incidents. No token is sent, so
// everybody sees the same public page.
import {
  api,
  apiAll,
  el,
  fmtDuration,
  fmtPct,
  fmtTime,
  mapLimit,
  notify,
  orElse,
  responseChart,
  stateClass,
  stateOf,
  stateWords,
  statusBadge,
  uptimeBars,
} from "./common.js";

const REFRESH_SECONDS = 60;
const RETRY_SECONDS = 10;
const WINDOWS = [
  ["24h", "24 hours"],
  ["7d", "7 days"],
  ["30d", "30 days"],
];
const INCIDENTS_SHOWN = 5;

/** A service's history for each window and its recent incidents; null for what is missing. */
async function details(service) {
  // Without a token, a 401 or 404 just means "not shown publicly": only a lost connection fails
  // the whole page.
  const quietly = (path) => orElse(api(path), null, ["network"]);
  const name = encodeURIComponent(service.name);
  const [incidents, ...histories] = await Promise.all([
    quietly(`/v1/status/service/${name}/incidents?limit=${INCIDENTS_SHOWN}`),
    ...WINDOWS.map(([key]) => quietly(`/v1/services/${service.id}/history?window=${key}`)),
  ]);
  return {
    incidents: incidents ? incidents.data : null,
    history: Object.fromEntries(WINDOWS.map(([key], i) => [key, histories[i]])),
  };
}

/** Availability over a history's buckets, for when the status entry does not carry it. */
function availability(history) {
  if (!history) return null;
  const checks = history.buckets.reduce((n, b) => n + b.checks, 0);
  const ok = history.buckets.reduce((n, b) => n + b.successful, 0);
  return checks ? (100 * ok) / checks : null;
}

function uptimeRow(service, key, label, history) {
  const pct = service.uptime?.[key] ?? availability(history);
  return el(
    "div",
    { class: "uptime-row" },
    el("span", { class: "label" }, label),
    history ? uptimeBars(history.buckets, `Availability per bucket, last ${label}`) : el("span", { class: "muted" }, "no history yet"),
    el("span", { class: "pct" }, fmtPct(pct)),
  );
}

function incidentItem(incident) {
  const when = incident.up_detection
    ? `${fmtTime(incident.down_detection)} – ${fmtTime(incident.up_detection)} (${fmtDuration(
        (Date.parse(incident.up_detection) - Date.parse(incident.down_detection)) / 1000,
      )})`
    : `Down since ${fmtTime(incident.down_detection)} (ongoing)`;
  return el(
    "li",
    { class: incident.up_detection ? "incident" : "incident ongoing" },
    el("span", { class: "when" }, when),
    el("span", { class: "why" }, incident.description),
  );
}

function card(service, { history, incidents }) {
  const day = history["24h"];
  return el(
    "article",
    { class: `card service ${stateClass(stateOf(service))}`, "data-service-id": service.id },
    el("header", {}, el("h2", {}, service.name), statusBadge(service)),
    el("p", { class: "meta" }, `Last checked ${fmtTime(service.last_performed)}`),
    el("div", { class: "uptime" }, WINDOWS.map(([key, label]) => uptimeRow(service, key, label, history[key]))),
    day
      ? [
          el("h3", {}, "Response time, last 24 hours"),
          responseChart(
            day.buckets,
            day.bucket_seconds,
            "Average and maximum response time per hour",
            service.last_performed ? "No checks in the last 24 hours." : "Not checked yet.",
          ),
          el("p", { class: "note" }, "Bars: the hourly average; whiskers: the hourly maximum."),
        ]
      : null,
    el("h3", {}, "Recent incidents"),
    incidents === null
      ? el("p", { class: "muted" }, "Not available.")
      : incidents.length
        ? el("ul", { class: "incidents" }, incidents.map(incidentItem))
        : el("p", { class: "muted" }, "No incidents."),
  );
}

/** How many services are in each state, "2 services up, 1 not checked yet" ("2 up, 1 not
 * checked yet" without the noun), in the order up, down, not checked yet, paused, then states
 * newer than this page. */
function counted(states, noun = true) {
  const order = ["up", "down", "unknown", "paused"];
  const rank = (state) => (order.includes(state) ? order.indexOf(state) : order.length);
  const counts = new Map();
  for (const state of [...states].sort((x, y) => rank(x) - rank(y))) {
    counts.set(state, (counts.get(state) || 0) + 1);
  }
  return [...counts]
    .map(([state, n], i) => {
      const what = noun && i === 0 ? (n === 1 ? "service " : "services ") : "";
      return `${n} ${what}${stateWords(state).counted}`;
    })
    .join(", ");
}

/** The line at the top: which services are down, else every service's state, coloured by the
 * one state they share (or neutral when they differ). */
function summary(services) {
  const states = services.map(stateOf);
  const down = services.filter((s, i) => states[i] === "down");
  const others = states.filter((state) => state !== "down");
  const shared = new Set(states).size === 1 ? stateClass(states[0]) : "mixed";
  const line = document.getElementById("summary");
  if (!services.length) {
    line.textContent = "No public services yet.";
    line.className = "summary";
  } else if (down.length) {
    line.textContent =
      `Down now: ${down.map((s) => s.name).join(", ")} (${down.length} of ${services.length} services` +
      (others.length ? `; ${counted(others, false)})` : ")");
    line.className = "summary down";
  } else if (services.length === 1) {
    line.textContent = `The service ${stateWords(states[0]).sentence}.`;
    line.className = `summary ${shared}`;
  } else if (shared === "up") {
    line.textContent = `All ${services.length} services are up.`;
    line.className = "summary up";
  } else {
    line.textContent = `${counted(states)}.`;
    line.className = `summary ${shared}`;
  }
}

async function load() {
  const services = await apiAll("/v1/status", { limit: 1000 });
  const extra = await mapLimit(services, 4, details);
  summary(services);
  document.getElementById("services").replaceChildren(...services.map((s, i) => card(s, extra[i])));
  document.getElementById("updated").textContent = new Date().toLocaleString();
}

async function refresh() {
  let next = REFRESH_SECONDS;
  try {
    await load();
    notify("");
  } catch (error) {
    next = RETRY_SECONDS;
    const why = error.kind === "network" ? error.message : `The status could not be loaded: ${error.message}`;
    notify(`${why} Showing what was last known; trying again every ${RETRY_SECONDS} s.`);
  }
  setTimeout(refresh, next * 1000);
}

refresh();
