// A public status page (`/`, or `/status/{slug}` under the page's own title, description, logo
// and link, showing the services it picks): the incidents going on and lately resolved (written
// by people and opened by the checks), ongoing and upcoming maintenance, then every public
// service by group (each group with its own summary) with its state, uptime bars for 24 h, 7 d
// and 90 d, the response time of the last 24 h (a heartbeat's: its runs' durations) and its
// recent incidents. No token is sent, so everybody sees the same public page; `?tag=x` in its URL
// shows only the services tagged x. A heartbeat's ping URL is a credential: it is never shown.
import {
  api,
  apiAll,
  el,
  fmtDuration,
  fmtPct,
  fmtTime,
  kindWords,
  mapLimit,
  measuredWords,
  notify,
  orElse,
  responseChart,
  stateClass,
  stateOf,
  stateRank,
  stateWords,
  statusBadge,
  uptimeBars,
  worstState,
} from "./common.js";
import { incidentReport, pageOfPath } from "./incidents.js";

const REFRESH_SECONDS = 60;
const RETRY_SECONDS = 10;
const WINDOWS = [
  ["24h", "24 hours"],
  ["7d", "7 days"],
  ["90d", "90 days"],
];
const INCIDENTS_SHOWN = 5;
const TAG = new URLSearchParams(location.search).get("tag");
const PAGE = pageOfPath();
const RECENT_DAYS = 7; // resolved incidents stay on the page this long (then: the history page)
const INCIDENTS_READ = 50;
const OTHERS = "Other services"; // the heading of the services without a group
const closedGroups = new Set(); // the groups the reader collapsed, kept so across refreshes

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
  const noun = service.kind === "heartbeat" ? "results" : "checks";
  return el(
    "div",
    { class: "uptime-row" },
    el("span", { class: "label" }, label),
    history
      ? uptimeBars(history.buckets, `Availability per bucket, last ${label}`, noun)
      : el("span", { class: "muted" }, "no history yet"),
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

/** "down because db is down": why a failing service fails, when a service it depends on does
 * (`byId` has the services shown, to say how that one is failing). */
function cause(service, byId) {
  const state = stateOf(service);
  if (!service.caused_by || (state !== "down" && state !== "pending")) return null;
  const dependency = byId.get(service.caused_by.id);
  const failing = dependency && ["down", "pending", "maintenance"].includes(stateOf(dependency));
  const how = failing ? stateWords(stateOf(dependency)).sentence : "is failing";
  return el("p", { class: `cause ${state}` }, `${state === "down" ? "Down" : "Failing"} because ${service.caused_by.name} ${how}.`);
}

/** What the card says under the name: the kind in words and when it was last checked (a
 * heartbeat: when it last had a result, a run reported or a ping missed). */
function meta(service) {
  const heartbeat = service.kind === "heartbeat";
  return el(
    "p",
    { class: "meta" },
    el("span", { class: "kind" }, kindWords(service.kind)),
    ` · ${heartbeat ? "Last result" : "Last checked"} ${fmtTime(service.last_performed)}`,
  );
}

function card(service, { history, incidents }, byId, heading) {
  const day = history["24h"];
  const heartbeat = service.kind === "heartbeat";
  const words = measuredWords(service.kind);
  return el(
    "article",
    { class: `card service ${stateClass(stateOf(service))}`, "data-service-id": service.id, "data-kind": service.kind },
    el("header", {}, el(heading, {}, service.name), statusBadge(service)),
    cause(service, byId),
    service.failing_locations?.length
      ? el("p", { class: "failing-locations" }, `Failing from ${service.failing_locations.join(", ")}`)
      : null,
    meta(service),
    el("div", { class: "uptime" }, WINDOWS.map(([key, label]) => uptimeRow(service, key, label, history[key]))),
    day
      ? [
          el("h3", {}, `${words.title}, last 24 hours`),
          responseChart(
            day.buckets,
            day.bucket_seconds,
            `Average and maximum ${words.title.toLowerCase()} per hour`,
            service.last_performed
              ? `No ${heartbeat ? "results" : "checks"} in the last 24 hours.`
              : heartbeat
                ? "No ping yet."
                : "Not checked yet.",
            words.none,
          ),
          el(
            "p",
            { class: "note" },
            heartbeat
              ? "Bars: the hourly average time from a run's start ping to its end; whiskers: the hourly maximum."
              : "Bars: the hourly average; whiskers: the hourly maximum.",
          ),
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

/** How many services are in each state, "1 service down, 2 operational" ("1 down, 2
 * operational" without the noun), worst first (states newer than this page before up). */
function counted(states, noun = true) {
  const counts = new Map();
  for (const state of [...states].sort((x, y) => stateRank(x) - stateRank(y))) {
    counts.set(state, (counts.get(state) || 0) + 1);
  }
  return [...counts]
    .map(([state, n], i) => {
      const what = noun && i === 0 ? (n === 1 ? "service " : "services ") : "";
      return `${n} ${what}${stateWords(state).counted}`;
    })
    .join(", ");
}

/** What the banner says first when a service is in one of these states, worst first. */
const OVERALL = [
  ["down", "Major outage"],
  ["pending", "Partial outage"],
  ["degraded", "Degraded performance"],
  ["maintenance", "Maintenance in progress"],
];

/** The banner's state for the worst ongoing written incident's impact. */
const BY_IMPACT = { critical: "down", major: "pending", minor: "degraded" };

/** The banner at the top: the overall state in a few words and which services are down or how
 * many are in each state, or the incidents people wrote that go on when they say worse; all
 * operational when every service is up and no incident goes on. */
function summary(services, incidents) {
  const line = document.getElementById("summary");
  const states = services.map(stateOf);
  const written = incidents.filter((i) => i.source === "written" && !i.resolved_at);
  const said = new Set(written.map((i) => BY_IMPACT[i.impact]));
  const overall = OVERALL.find(([state]) => states.includes(state) || said.has(state));
  const down = services.filter((s, i) => states[i] === "down");
  const others = states.filter((state) => state !== "down");
  let headline = null;
  let detail;
  let kind;
  if (!services.length) {
    detail = TAG ? `No public services tagged “${TAG}”.` : "No public services yet.";
    kind = "";
  } else if (overall && !states.includes(overall[0])) {
    [kind, headline] = overall;
    detail = `Ongoing: ${written.map((i) => i.title).join("; ")}.`;
  } else if (overall) {
    [kind, headline] = overall;
    detail = down.length
      ? `Down now: ${down.map((s) => s.name).join(", ")} (${down.length} of ${services.length} services` +
        (others.length ? `; ${counted(others, false)})` : ")")
      : `${counted(states)}.`;
  } else if (states.every((state) => state === "up")) {
    [kind, headline] = ["up", "All systems operational"];
    detail = services.length === 1 ? "" : `All ${services.length} services are up.`;
  } else {
    kind = new Set(states).size === 1 ? stateClass(states[0]) : "mixed";
    detail = services.length === 1 ? `The service ${stateWords(states[0]).sentence}.` : `${counted(states)}.`;
  }
  line.replaceChildren(...(headline ? [el("strong", {}, `${headline}.`), detail && ` ${detail}`] : [detail]));
  line.className = `summary ${kind}`.trim();
}

/** A group of services under its name, with its own summary ("3 of 4 operational" and the worst
 * state's colour), collapsible. `name` null: the services without a group. */
function group(name, services, cards) {
  const states = services.map(stateOf);
  const worst = worstState(states);
  const operational = states.filter((state) => state === "up").length;
  const section = el(
    "details",
    { class: `group ${stateClass(worst)}`, "data-group": name ?? "", open: closedGroups.has(name) ? null : "" },
    el(
      "summary",
      {},
      el("h2", {}, name ?? OTHERS),
      el("span", { class: "count" }, `${operational} of ${services.length} operational`),
      worst === "up" ? null : el("span", { class: `badge ${stateClass(worst)}` }, stateWords(worst).badge),
    ),
    el("div", { class: "cards" }, cards),
  );
  section.addEventListener("toggle", () => (section.open ? closedGroups.delete(name) : closedGroups.add(name)));
  return section;
}

/** The services' cards, by group in the order groups first appear and the ungrouped last; without
 * any group, just the cards. */
function servicesView(services, extra) {
  const byId = new Map(services.map((s) => [s.id, s]));
  const grouped = services.some((s) => s.group);
  const cards = services.map((s, i) => card(s, extra[i], byId, grouped ? "h3" : "h2"));
  if (!grouped) return [el("div", { class: "cards" }, cards)];
  const groups = new Map();
  services.forEach((s, i) => {
    const key = s.group || null;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(i);
  });
  const ungrouped = groups.get(null);
  groups.delete(null);
  if (ungrouped) groups.set(null, ungrouped);
  return [...groups].map(([name, indices]) =>
    group(name, indices.map((i) => services[i]), indices.map((i) => cards[i])),
  );
}

const timeOf = (iso) => el("time", { datetime: iso }, fmtTime(iso));

/** A maintenance window: its title, when (in the reader's time zone) and the services it covers. */
function maintenanceItem(planned) {
  const services = planned.services.map((s) => s.name).join(", ");
  return el(
    "li",
    { class: planned.active ? "active" : "upcoming", "data-maintenance-id": planned.id },
    el("strong", {}, planned.title),
    el(
      "span",
      { class: "when" },
      planned.active
        ? ["Until ", timeOf(planned.ends_at), ` (since ${fmtTime(planned.starts_at)})`]
        : [timeOf(planned.starts_at), " – ", timeOf(planned.ends_at)],
    ),
    el("span", { class: "what" }, `Affects: ${services}`),
  );
}

/** Maintenance going on now and planned, of the services shown (`windows` null: not known). */
function maintenance(windows, services) {
  const shown = new Set(services.map((s) => s.id));
  const relevant = (windows || [])
    .map((w) => ({ ...w, services: w.services.filter((s) => shown.has(s.id)) }))
    .filter((w) => w.services.length);
  const part = (title, list) =>
    list.length ? [el("h2", {}, title), el("ul", { class: "maintenances" }, list.map(maintenanceItem))] : [];
  const section = document.getElementById("maintenance");
  section.replaceChildren(
    ...part("Maintenance in progress", relevant.filter((w) => w.active)),
    ...part("Scheduled maintenance", relevant.filter((w) => !w.active)),
  );
  section.hidden = !relevant.length;
}

/** The incidents going on, then those resolved in the last RECENT_DAYS, with a way to the
 * history page (`found` null: not known). */
function incidentsNow(found) {
  const section = document.getElementById("incidents");
  const recent = Date.now() - RECENT_DAYS * 86400 * 1000;
  const ongoing = (found || []).filter((i) => !i.resolved_at);
  const resolved = (found || []).filter((i) => i.resolved_at && Date.parse(i.resolved_at) >= recent);
  const part = (title, list) => (list.length ? [el("h2", {}, title), ...list.map((i) => incidentReport(i))] : []);
  section.replaceChildren(
    ...part("Ongoing incidents", ongoing),
    ...part(`Resolved in the last ${RECENT_DAYS} days`, resolved),
    el("p", { class: "more" }, el("a", { href: PAGE.history }, "Incident history (90 days)")),
  );
  section.hidden = !(ongoing.length || resolved.length);
}

/** The page's own title, description, logo and link (`/` keeps its plain title). */
function branding(meta) {
  const logo = document.getElementById("logo");
  document.getElementById("page-title").textContent = meta.title;
  document.title = meta.title;
  document.getElementById("brand").href = meta.link || PAGE.home;
  const description = document.getElementById("page-description");
  description.textContent = meta.description;
  description.hidden = !meta.description;
  if (meta.logo) logo.src = meta.logo;
  logo.hidden = !meta.logo;
}

async function load() {
  const scope = PAGE.slug ? { page: PAGE.slug } : {};
  const [meta, services, windows, incidents] = await Promise.all([
    PAGE.slug ? api(`/v1/status/pages/${PAGE.slug}`) : null,
    apiAll("/v1/status", { limit: 1000, params: { ...scope, ...(TAG ? { tag: TAG } : {}) } }),
    orElse(api(`/v1/status/maintenances${PAGE.slug ? `?page=${PAGE.slug}` : ""}`), null, ["network"]),
    orElse(api(`/v1/status/incidents?${new URLSearchParams({ ...scope, limit: INCIDENTS_READ })}`), null, ["network"]),
  ]);
  const extra = await mapLimit(services, 4, details);
  if (meta) branding(meta);
  summary(services, incidents ? incidents.data : []);
  incidentsNow(incidents && incidents.data);
  maintenance(windows && windows.data, services);
  document.getElementById("services").replaceChildren(...servicesView(services, extra));
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

/** Subscribe a webhook to the page (a page at /status/{slug} only), and say how to end it:
 * its token is shown this once. */
async function subscribe(event) {
  event.preventDefault();
  const form = event.target;
  const said = document.getElementById("subscribed");
  const { url, secret } = Object.fromEntries(new FormData(form));
  try {
    const made = await api(`/v1/status/pages/${PAGE.slug}/subscriptions`, { method: "POST", body: secret ? { url, secret } : { url } });
    form.reset();
    said.replaceChildren(
      `Subscribed ${made.url}. To end it, POST {"token": "`,
      el("code", {}, made.token),
      '"} to /v1/status/subscriptions:cancel. Keep this token: it is not shown again.',
    );
    said.className = "said ok";
  } catch (error) {
    said.textContent = `Not subscribed: ${error.message}`;
    said.className = "said error";
  }
}

for (const [id, href] of [["history-link", PAGE.history], ["feed", PAGE.feed], ["feed-link", PAGE.feed], ["subscribe-feed", PAGE.feed]]) {
  document.getElementById(id).href = href;
}
if (PAGE.slug) {
  document.getElementById("subscribe").hidden = false;
  document.getElementById("subscribe-form").addEventListener("submit", subscribe);
}
if (TAG) {
  const filter = document.getElementById("filter");
  filter.replaceChildren(`Only the services tagged “${TAG}”. `, el("a", { href: location.pathname }, "Show all services"));
  filter.hidden = false;
}
refresh();
