// The operator dashboard: log in, then the account's services with the statistics of a short
// and a long window (each refreshed on its own period), the live alert feed, the account's
// maintenance windows, and a page per service (#service/<id>) with its checks by phase, events
// and latest results. The services can be filtered by status, tag, group and part of the name;
// the filters live in the page's query string (?status=down&tag=eu&q=shop), so a view can be
// shared and survives a reload. Up to CARDS_UP_TO services show as cards; more (or ?view=table)
// as a dense table (table.js) sorted by any column (?sort=&order=), a page at a time, from one
// request a refresh. A heartbeat (a job that reports in at its ping URL) shows its
// schedule, last ping, due time and running runs instead of a URL checked; its page has its
// whole ping URL (to copy, or to replace with a new key) and its ping log with the runs' output.
import {
  ApiError,
  api,
  apiAll,
  el,
  fmtCodes,
  fmtDuration,
  fmtMs,
  fmtPct,
  fmtBytes,
  fmtResults,
  fmtTime,
  kindWords,
  limitWords,
  mapLimit,
  measuredWords,
  notify,
  orElse,
  relTime,
  scheduleWords,
  stateClass,
  stateOf,
  stateWords,
  statusBadge,
} from "./common.js";
import { checkChart, drawCharts } from "./charts.js";
import { PAGE_ROWS, denseTable, tableQuery } from "./table.js";
import { incidentForm, incidentItems, loadPublished, pageBoxes, pageItems } from "./publishing.js";

const TOKEN_KEY = "statuschecker.token";
const SETTINGS_KEY = "statuschecker.dashboard.settings";
const DEFAULTS = { shortWindow: 600, shortRefresh: 10, longWindow: 3600, longRefresh: 60 };
const ALERTS_PAGE = 50;
const ALERTS_KEPT = 200; // the newest alerts the feed keeps as refreshes bring more
const ALERTS_MOST = 500; // the most it keeps once older ones were asked for
const TICKS_CHARTED = 60;
const TICKS_LISTED = 20;
const EVENTS_LISTED = 20;
const PINGS_PAGE = 20; // pings of a heartbeat's log fetched at a time
const RUNS_ON_CARD = 3; // running runs named on a heartbeat's card; the rest are counted
const TYPING_PAUSE_MS = 250; // the filters typed in apply once the typing pauses this long
const CARDS_UP_TO = 50; // an account with more services sees the table unless it asks for cards
const VIEWS = ["cards", "table"];
const SORTS = ["name", "group", "status", "uptime_24h", "uptime_30d", "response_time"];

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  settings: loadSettings(),
  services: [], // all the account's services
  filters: readFilters(), // { status, tag, group, q }: "" when not filtering by it
  view: readView(), // "cards" or "table" when the URL says; else chosen by the number of services
  sort: readSort(), // { by, order } of the table
  table: { cursors: [null], index: 0, answer: null }, // the table's pages seen and the one shown
  choosing: null, // the table's request that chooses the view, while none is chosen
  chosen: null, // the view the number of services chose, for when none is asked for
  shown: null, // the services the filters admit (asked of the API); null without filters
  stats: { short: new Map(), long: new Map() }, // service id -> Stats (or null)
  alerts: [], // newest first
  alertsKept: ALERTS_KEPT, // how many the feed keeps: more once older alerts were asked for
  maintenances: undefined, // the account's maintenance windows; null when they cannot be listed
  locations: undefined, // where pollers check from; null when they cannot be listed
  olderAlerts: undefined, // the query of the next older page ({ cursor } or { until }); null when there is none
  generation: 0, // bumped to stop the refresh loops of a previous start
  unreachableSince: null,
  pingUrlBox: null, // { id, url, node }: the shown service's ping URL and its buttons, kept across refreshes
  pingLog: null, // { id, items, cursor, open, node }: the shown heartbeat's ping log, kept likewise
  published: undefined, // { incidents, pages }: what the account publishes for its customers
  feedsAsked: 0, // reads of the aside begun: only the newest one's answer is shown
  publishedShown: null, // that as JSON when last drawn: drawn again (forms and all) only when it changes
  publishing: null, // { service, form, key, boxes }: the shown service's forms for its customers, kept likewise
};

// ---- settings --------------------------------------------------------------------------

function loadSettings() {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") };
  } catch {
    return { ...DEFAULTS };
  }
}

const SETTING_INPUTS = {
  "short-window": ["shortWindow", 60],
  "short-refresh": ["shortRefresh", 1],
  "long-window": ["longWindow", 60],
  "long-refresh": ["longRefresh", 1],
};

function showSettings() {
  for (const [id, [key, unit]] of Object.entries(SETTING_INPUTS)) $(id).value = state.settings[key] / unit;
}

function applySettings() {
  for (const [id, [key, unit]] of Object.entries(SETTING_INPUTS)) {
    const input = $(id);
    if (input.checkValidity()) state.settings[key] = Math.round(Number(input.value) * unit);
  }
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(state.settings));
  startLoops(); // at once, with the new windows and periods
}

// ---- session ---------------------------------------------------------------------------

async function logIn(event) {
  event.preventDefault();
  const form = event.target;
  $("login-error").textContent = "";
  try {
    const answer = await api("/v1/auth/token", {
      method: "POST",
      body: { email: form.email.value, password: form.password.value },
    });
    state.token = answer.access_token;
    sessionStorage.setItem(TOKEN_KEY, state.token);
    form.password.value = "";
    start();
  } catch (error) {
    $("login-error").textContent =
      error.kind === "auth" ? "Wrong e-mail or password." : error.message;
  }
}

function logOut(message = "") {
  state.generation++;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  state.services = [];
  state.shown = null;
  state.alerts = [];
  state.alertsKept = ALERTS_KEPT;
  state.maintenances = undefined;
  state.locations = undefined;
  state.olderAlerts = undefined;
  state.stats = { short: new Map(), long: new Map() };
  state.pingUrlBox = null;
  state.pingLog = null;
  state.published = undefined;
  state.publishedShown = state.publishing = null;
  $("app").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login-view").hidden = false;
  notify(message, "info");
}

async function start() {
  $("login-view").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  showSettings();
  showFilters();
  route();
  startLoops();
  await guarded(async () => {
    const me = await api("/v1/users/me", { token: state.token });
    $("who").textContent = me.email;
  });
}

// ---- refreshing ------------------------------------------------------------------------

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** Run `task` every `period()` seconds (after each run ends) until the loops restart. */
async function loop(generation, task, period) {
  while (generation === state.generation) {
    await guarded(task);
    if (generation !== state.generation) return;
    await sleep(period());
  }
}

function startLoops() {
  const generation = ++state.generation;
  loop(generation, refreshShort, () => state.settings.shortRefresh);
  loop(generation, refreshLong, () => state.settings.longRefresh);
}

/** Run `task`; an expired token shows the log-in form, a lost API a notice (and the loops go
 * on, so the page recovers by itself). */
async function guarded(task) {
  try {
    await task();
    if (state.unreachableSince) notify("");
    state.unreachableSince = null;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.kind === "auth") {
      logOut("Your session has expired or was revoked. Please log in again.");
    } else if (error.kind === "network") {
      state.unreachableSince ??= new Date();
      notify(
        `${error.message} Unreachable since ${state.unreachableSince.toLocaleString()}; ` +
          `retrying every ${state.settings.shortRefresh} s. The figures shown may be stale.`,
      );
    } else {
      notify(`The API answered with an error: ${error.message}`);
    }
  }
}

async function fetchStats(services, windowSeconds) {
  const all = await mapLimit(services, 6, (s) =>
    orElse(api(`/v1/services/${s.id}/stats?window_seconds=${windowSeconds}`, { token: state.token }), null),
  );
  return new Map(services.map((s, i) => [s.id, all[i]]));
}

async function refreshShort() {
  if (state.view !== "cards") {
    state.choosing = refreshTable();
    await state.choosing;
    if (state.view === "table") {
      renderServices();
      await Promise.all([refreshAlerts(), serviceId() === null ? null : refreshServiceView(serviceId())]);
      return;
    }
  }
  [state.services] = await Promise.all([apiAll("/v1/services", { token: state.token }), refreshShown()]);
  renderServices(); // the states first: a service gone down shows red without waiting for stats
  renderMaintenances(); // they name the services
  const [stats] = await Promise.all([
    fetchStats(state.services, state.settings.shortWindow),
    refreshAlerts(),
    serviceId() === null ? null : refreshServiceView(serviceId()),
  ]);
  state.stats.short = stats;
  renderServices();
}

async function refreshLong() {
  if (state.view === null) await state.choosing; // the short loop's first answer chooses the view
  if (state.view === "table") {
    await refreshFeeds();
    return;
  }
  const services = state.services.length ? state.services : await apiAll("/v1/services", { token: state.token });
  [state.stats.long] = await Promise.all([fetchStats(services, state.settings.longWindow), refreshFeeds()]);
  renderServices();
}

/** The aside: maintenance windows, locations, and what the account publishes for customers. */
async function refreshFeeds() {
  const asked = ++state.feedsAsked;
  const [maintenances, locations, published] = await Promise.all([
    orElse(apiAll("/v1/maintenances", { token: state.token }), null),
    orElse(api("/v1/locations", { token: state.token }), null),
    loadPublished(state.token),
  ]);
  // A read begun later (after a change made here, say) shows newer things: this one is dropped.
  if (asked !== state.feedsAsked) return;
  [state.maintenances, state.published] = [maintenances, published];
  state.locations = locations && locations.data;
  renderMaintenances();
  renderLocations();
  renderPublished();
}

/** What a change of published things needs: the token, `guarded` and a read of them after it. */
const publishing = {
  get token() {
    return state.token;
  },
  run: guarded,
  done: refreshFeeds, // which draws a service's boxes of the pages again when they changed
};

/** The account's written incidents and status pages in the aside, drawn again only when they
 * changed (so that a form being filled in stays). */
function renderPublished() {
  const shown = JSON.stringify(state.published);
  if (shown === state.publishedShown) return;
  state.publishedShown = shown;
  $("written-incidents").replaceChildren(...incidentItems(state.published.incidents, publishing));
  $("status-pages").replaceChildren(...pageItems(state.published.pages, publishing));
  // A service's page shown gets its boxes of the pages anew, and keeps its chart and the rest.
  const box = document.querySelector("#service-view section.publishing");
  const kept = state.publishing;
  if (box && kept && kept.service.id === serviceId()) box.replaceWith(publishingBox(kept.service));
}

/** A service's forms for its customers: the incident form kept across refreshes while the
 * service is shown, the status pages' boxes while its publicness and the pages stay the same. */
function publishingBox(service) {
  const pages = state.published?.pages ?? null;
  const key = JSON.stringify([service.public, pages]);
  let kept = state.publishing;
  if (kept?.service.id !== service.id) kept = state.publishing = { service, form: incidentForm(service, publishing) };
  kept.service = service;
  if (kept.key !== key) Object.assign(kept, { key, boxes: pageBoxes(service, pages, publishing) });
  return el("section", { class: "publishing" }, el("h3", {}, "Tell the customers"), kept.form, kept.boxes);
}

/** The table's page: one request. Without a view asked for, the first answer chooses one: the
 * table when the account has more than CARDS_UP_TO services. */
async function refreshTable() {
  const { cursors, index } = state.table;
  const query = tableQuery(tableFilters(), state.sort, cursors[index]);
  const asked = String(query);
  const answer = await api(`/v1/services:stats?${query}`, { token: state.token });
  if (asked !== String(tableQuery(tableFilters(), state.sort, state.table.cursors[state.table.index]))) return;
  state.table.answer = answer;
  if (state.view === null) state.view = state.chosen = answer.total > CARDS_UP_TO ? "table" : "cards";
}

/** The table's filters as the API names them. */
function tableFilters() {
  const { status, tag, group, q } = state.filters;
  return { status, tag, group, name: q };
}

/** New alerts on top: pages are fetched until one holds an alert already shown. The feed keeps
 * the newest `state.alertsKept`, so that a tab left open through many alerts keeps its size;
 * the older ones come back with "Older alerts", from the time of the oldest kept. */
async function refreshAlerts() {
  const known = new Set(state.alerts.map((a) => a.id));
  const fresh = [];
  let cursor = null;
  for (let page = 0; page < state.alertsKept / ALERTS_PAGE; page++) {
    const query = new URLSearchParams({ limit: String(ALERTS_PAGE) });
    if (cursor) query.set("cursor", cursor);
    const answer = await api(`/v1/alerts?${query}`, { token: state.token });
    const unseen = answer.data.filter((a) => !known.has(a.id));
    fresh.push(...unseen);
    cursor = answer.next_cursor;
    if (state.olderAlerts === undefined) state.olderAlerts = cursor && { cursor }; // the first load
    if (!cursor || unseen.length < answer.data.length || !known.size) break;
  }
  state.alerts = [...fresh, ...state.alerts];
  if (state.alerts.length > state.alertsKept) {
    state.alerts.length = state.alertsKept;
    // Those at the oldest kept's time (to the millisecond) and before: the kept ones among them
    // are left out as known.
    const oldest = Date.parse(state.alerts[state.alerts.length - 1].time);
    state.olderAlerts = { until: new Date(oldest + 1).toISOString() };
  }
  renderAlerts();
}

async function olderAlerts() {
  await guarded(async () => {
    const query = new URLSearchParams({ limit: String(ALERTS_PAGE), ...state.olderAlerts });
    const answer = await api(`/v1/alerts?${query}`, { token: state.token });
    const known = new Set(state.alerts.map((a) => a.id));
    state.alerts.push(...answer.data.filter((a) => !known.has(a.id)));
    state.olderAlerts = answer.next_cursor && { ...state.olderAlerts, cursor: answer.next_cursor };
    state.alertsKept = Math.min(Math.max(state.alertsKept, state.alerts.length), ALERTS_MOST);
    renderAlerts();
  });
}

// ---- filters ---------------------------------------------------------------------------

/** The filters the page's query string names (a status the filter does not offer is ignored). */
function readFilters() {
  const query = new URLSearchParams(location.search);
  const status = query.get("status") ?? "";
  const statuses = [...$("filter-status").options].map((option) => option.value);
  return {
    status: statuses.includes(status) ? status : "",
    tag: (query.get("tag") ?? "").trim(),
    group: (query.get("group") ?? "").trim(),
    q: (query.get("q") ?? "").trim(),
  };
}

/** The view the query string asks for, or null (chosen by the number of services). */
function readView() {
  const view = new URLSearchParams(location.search).get("view");
  return VIEWS.includes(view) ? view : null;
}

/** The table's sort the query string names (by name, up, by default). */
function readSort() {
  const query = new URLSearchParams(location.search);
  const by = query.get("sort");
  return { by: SORTS.includes(by) ? by : "name", order: query.get("order") === "desc" ? "desc" : "asc" };
}

function showFilters() {
  $("filter-status").value = state.filters.status;
  $("filter-tag").value = state.filters.tag;
  $("filter-group").value = state.filters.group;
  $("filter-name").value = state.filters.q;
  $("view").value = readView() ?? "";
}

/** The API's query parameters for the filters set. */
function apiFilters() {
  const { status, tag, q } = state.filters;
  // The list has no group filter: the cards keep the group's services of those it gives.
  return Object.fromEntries(Object.entries({ status, tag, name: q }).filter(([, value]) => value));
}

/** Ask the API for the services the filters admit (none to ask without filters); an answer
 * to filters changed meanwhile is dropped (the newer question's answer will come). */
async function refreshShown() {
  const params = apiFilters();
  const asked = JSON.stringify(params);
  const shown = Object.keys(params).length ? await apiAll("/v1/services", { token: state.token, params }) : null;
  if (asked === JSON.stringify(apiFilters())) state.shown = shown;
}

let typing = null; // the timer of a filter being typed in

/** Take the filters from the form into the URL, then show the services they admit. */
async function applyFilters() {
  clearTimeout(typing);
  state.filters = {
    status: $("filter-status").value,
    tag: $("filter-tag").value.trim(),
    group: $("filter-group").value.trim(),
    q: $("filter-name").value.trim(),
  };
  state.view = VIEWS.includes($("view").value) ? $("view").value : state.chosen;
  state.table = { cursors: [null], index: 0, answer: state.table.answer };
  keepInUrl();
  if (!Object.keys(apiFilters()).length) state.shown = null; // at once: nothing to ask
  if (state.view !== null) renderServices();
  await guarded(async () => {
    if (state.view === null) await refreshShort(); // the number of services chooses again
    else await (state.view === "table" ? refreshTable() : refreshShown());
    renderServices();
  });
}

/** The filters, the view asked for and the table's sort in the query string. */
function keepInUrl() {
  const sort = state.sort.by === "name" && state.sort.order === "asc" ? {} : { sort: state.sort.by, order: state.sort.order };
  // The table goes along: a link with filters shows it whatever their number of services.
  const shown = $("view").value || (state.view === "table" ? "table" : "");
  const view = shown ? { view: shown } : {};
  const query = String(new URLSearchParams(Object.entries({ ...state.filters, ...view, ...sort }).filter(([, value]) => value)));
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
}

/** Sort the table by `by` (again: the other way), from its first page. */
async function sortTable(by) {
  const order = state.sort.by === by && state.sort.order === "asc" ? "desc" : "asc";
  state.sort = { by, order };
  state.table = { cursors: [null], index: 0, answer: state.table.answer };
  keepInUrl();
  await guarded(async () => {
    await refreshTable();
    renderServices();
  });
}

/** The table's next (+1) or previous (-1) page. */
async function turnPage(step) {
  const table = state.table;
  if (step > 0 && table.answer?.next_cursor) {
    table.cursors = [...table.cursors.slice(0, table.index + 1), table.answer.next_cursor];
  }
  table.index = Math.max(0, Math.min(table.cursors.length - 1, table.index + step));
  await guarded(async () => {
    await refreshTable();
    renderServices();
  });
}

function clearFilters(event) {
  event.preventDefault();
  state.filters = { status: "", tag: "", group: "", q: "" };
  showFilters();
  applyFilters();
}

// ---- rendering -------------------------------------------------------------------------

/** A table of the short and the long window's statistics side by side. Time to first byte and
 * status codes only mean something for http(s) (and status codes for journeys); the other kinds
 * show their results instead. */
function statsTable(short, long, kind) {
  const { shortWindow, longWindow } = state.settings;
  const heartbeat = kind === "heartbeat";
  const row = (label, format) =>
    el("tr", {}, el("th", { scope: "row" }, label), [short, long].map((s) => el("td", {}, s ? format(s) : "–")));
  return el(
    "table",
    { class: "stats" },
    el(
      "thead",
      {},
      el("tr", {}, el("td", {}), el("th", { scope: "col" }, `Last ${fmtDuration(shortWindow)}`), el("th", { scope: "col" }, `Last ${fmtDuration(longWindow)}`)),
    ),
    el(
      "tbody",
      {},
      row("Availability", (s) => fmtPct(s.availability_percent)),
      row("SLA (maintenance excluded)", (s) => fmtPct(s.sla?.availability_percent)),
      row(heartbeat ? "Results (failed)" : "Checks (failed)", (s) => `${s.checks} (${s.failed})`),
      row(measuredWords(kind).row, (s) => `${fmtMs(s.response_time_ms.avg)} / ${fmtMs(s.response_time_ms.max)}`),
      kind === "http" ? row("First byte avg / max", (s) => `${fmtMs(s.ttfb_ms.avg)} / ${fmtMs(s.ttfb_ms.max)}`) : null,
      // A journey's code is its last step's: the one that failed, or the last one's.
      kind === "http" || kind === "journey"
        ? row("Status codes", (s) => fmtCodes(s.status_codes))
        : row(heartbeat ? "Outcomes" : "Results", (s) => fmtResults(s)),
    ),
  );
}

/** A journey's steps over the long window, in order: runs, failures, time avg / p95 of the
 * successful runs; and how the latest check went at each step. */
function stepStatsTable(figures, latest) {
  const { longWindow } = state.settings;
  const last = new Map((latest?.steps ?? []).map((step) => [step.name, step]));
  const head = ["Step", "Runs (failed)", "Response avg / p95", "Latest"];
  const latestWords = (step) => (!step ? "not reached" : step.up ? `up, ${fmtMs(step.response_time_ms)}` : step.error || "down");
  return el(
    "table",
    { class: "stats per-step", "aria-label": `Each step of the journey over the last ${fmtDuration(longWindow)}` },
    el("caption", {}, `Each step, last ${fmtDuration(longWindow)}`),
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
    el(
      "tbody",
      {},
      figures.map((step) =>
        el(
          "tr",
          { "data-step": step.name, class: last.get(step.name)?.up === false ? "down" : "" },
          el("th", { scope: "row" }, step.name),
          el("td", {}, `${step.runs} (${step.failed})`),
          el("td", {}, `${fmtMs(step.avg)} / ${fmtMs(step.p95)}`),
          el("td", {}, latestWords(last.get(step.name))),
        ),
      ),
    ),
  );
}

/** Each named location's figures over the long window, one row each. */
function locationStatsTable(locations, stats) {
  const { longWindow } = state.settings;
  const head = ["From", "Availability", "Checks (failed)", "Response avg / max"];
  return el(
    "table",
    { class: "stats per-location", "aria-label": `Each location over the last ${fmtDuration(longWindow)}` },
    el("caption", {}, `Each location, last ${fmtDuration(longWindow)}`),
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
    el(
      "tbody",
      {},
      locations.map((where, i) => {
        const s = stats[i];
        const cells = s
          ? [
              fmtPct(s.availability_percent),
              `${s.checks} (${s.failed})`,
              `${fmtMs(s.response_time_ms.avg)} / ${fmtMs(s.response_time_ms.max)}`,
            ]
          : ["–", "–", "–"];
        return el("tr", { "data-location": where }, el("th", { scope: "row" }, where), cells.map((c) => el("td", {}, c)));
      }),
    ),
  );
}

/** "#3 (db)": a service of the account by id, named when it is among those loaded. */
function serviceRef(id) {
  const other = [...state.services, ...(state.table.answer?.data ?? [])].find((s) => s.id === id);
  return other ? `#${id} (${other.name})` : `#${id}`;
}

/** The service this one's ongoing downtime is blamed on (a service it depends on), or null. */
function causeOf(service) {
  const open = service.latest_event;
  return open && open.event === "downtime" && open.caused_by != null ? open.caused_by : null;
}

/** The status badge, after a "Flapping" flag while the service flaps. */
function badges(service) {
  return el(
    "span",
    { class: "badges" },
    service.flapping
      ? el("span", { class: "flag flapping", title: "Its state changes more often than its alert policy allows" }, "Flapping")
      : null,
    statusBadge(service, { short: true }),
  );
}

function serviceCard(service) {
  const cause = causeOf(service);
  const heartbeat = service.heartbeat;
  return el(
    "article",
    { class: `card service ${stateClass(stateOf(service))}`, "data-service-id": service.id, "data-kind": service.kind },
    el("header", {}, el("h3", {}, el("a", { href: `#service/${service.id}` }, service.name)), badges(service)),
    cause === null ? null : el("p", { class: "cause down" }, `Down, caused by ${serviceRef(cause)}`),
    service.failing_locations?.length
      ? el("p", { class: "failing-locations" }, `Failing from ${service.failing_locations.join(", ")}`)
      : null,
    service.stale_locations?.length
      ? el("p", { class: "stale-locations" }, `No poller reporting from ${service.stale_locations.join(", ")}`)
      : null,
    el(
      "p",
      { class: "meta" },
      heartbeat ? [el("span", { class: "kind" }, kindWords(service.kind)), " · "] : null,
      // A heartbeat's ping URL as the list gives it: masked, the key being a credential.
      el("span", { class: "url" }, heartbeat ? service.ping_url : service.url),
      service.paused && service.latest_event
        ? ` · ${stateWords(service.latest_event.event === "uptime" ? "up" : "down").label.toLowerCase()} before the pause`
        : null,
      heartbeat ? null : ` · checked ${fmtTime(service.metric.last_checked_at)}`,
      service.warnings.length ? el("span", { class: "warned" }, ` · ${service.warnings.length} warning(s)`) : null,
    ),
    heartbeat ? heartbeatSummary(service) : null,
    labels(service),
    statsTable(state.stats.short.get(service.id), state.stats.long.get(service.id), service.kind),
  );
}

/** A heartbeat on its card: its schedule and grace; its last ping, when the next is due and
 * when it is late without it (or that it is paused); the runs going on. */
function heartbeatSummary(service) {
  const hb = service.heartbeat;
  const runs = hb.running || [];
  return el(
    "div",
    { class: "heartbeat" },
    el("p", { class: "schedule" }, `${scheduleWords(hb)}, grace ${fmtDuration(hb.grace_seconds)}`),
    el(
      "p",
      { class: "timing" },
      el("span", { class: "last-ping" }, "Last ping ", relTime(hb.last_ping_at, "never")),
      service.paused || !hb.due_at
        ? el("span", { class: "due" }, "paused: pings are ignored")
        : [
            el("span", { class: "due" }, "due ", relTime(hb.due_at)),
            el("span", { class: "late" }, "late ", relTime(hb.late_at)),
          ],
    ),
    runs.length ? el("p", { class: "running" }, "Running: ", runList(runs, RUNS_ON_CARD)) : null,
  );
}

/** Runs started and not finished, "r1 (started 2 min ago), ...": at most `shown` of them named,
 * the newest, and the others counted. */
function runList(runs, shown = Infinity) {
  const named = runs.slice(-shown).reverse();
  const parts = named.map((run, i) => [
    i ? ", " : "",
    el("span", { class: "run" }, run.rid ?? "a run without rid", " (started ", relTime(run.started_at), ")"),
  ]);
  const rest = runs.length - named.length;
  return [parts, rest > 0 ? ` and ${rest} more` : ""];
}

/** The service's group and tags, or null without either. */
function labels(service) {
  const tags = service.tags || [];
  if (!service.group && !tags.length) return null;
  return el(
    "p",
    { class: "labels" },
    service.group ? el("span", { class: "group-name" }, `Group: ${service.group}`) : null,
    tags.map((tag) => el("span", { class: "tag" }, tag)),
  );
}

function renderServices() {
  if (state.view === "table") return renderTable();
  $("pager").hidden = true;
  const filtered = state.shown !== null;
  const services = filtered ? state.shown : state.services;
  const empty = filtered ? "No service matches these filters." : "No services yet: register one through the API.";
  const kept = state.filters.group ? services.filter((s) => s.group === state.filters.group) : services;
  $("services").className = "cards";
  $("services").replaceChildren(...(kept.length ? kept.map(serviceCard) : [el("p", { class: "muted" }, empty)]));
  const count = `${kept.length} service${kept.length === 1 ? "" : "s"} shown`;
  $("shown-count").textContent = filtered ? `${count} (of ${state.services.length})` : count;
  $("clear-filters").hidden = !Object.values(state.filters).some(Boolean);
  renderTagOptions();
}

/** The table's page, how many rows there are, and the pager. */
function renderTable() {
  const answer = state.table.answer;
  if (!answer) return;
  const filtered = Object.values(state.filters).some(Boolean);
  const empty = filtered ? "No service matches these filters." : "No services yet: register one through the API.";
  $("services").className = "table-view";
  $("services").replaceChildren(answer.data.length ? denseTable(answer.data, state.sort, sortTable) : el("p", { class: "muted" }, empty));
  const first = state.table.index * PAGE_ROWS;
  const last = first + answer.data.length;
  $("shown-count").textContent = answer.data.length
    ? `${first + 1} to ${last} of ${answer.total} service${answer.total === 1 ? "" : "s"}`
    : `0 of ${answer.total} services`;
  $("clear-filters").hidden = !filtered;
  $("pager").hidden = answer.total <= PAGE_ROWS;
  $("previous-page").disabled = state.table.index === 0;
  $("next-page").disabled = !answer.next_cursor;
}

/** The tags of the account's services, offered in the tag filter. */
function renderTagOptions() {
  const tags = [...new Set(state.services.flatMap((s) => s.tags || []))].sort();
  const list = $("tag-options");
  if (tags.join("\n") === [...list.options].map((o) => o.value).join("\n")) return; // unchanged
  list.replaceChildren(...tags.map((tag) => el("option", { value: tag })));
}

const ALERT_KINDS = { down: "Down", recovered: "Recovered", degraded: "Degraded", flapping: "Flapping", stable: "Stable" };

function alertItem(a) {
  const unsent = [
    a.suppressed_by != null ? `not sent: depends on ${serviceRef(a.suppressed_by)}` : null,
    a.held ? "held while flapping" : null,
  ].filter(Boolean);
  return el(
    "li",
    { class: `alert ${a.kind}${unsent.length ? " unsent" : ""}`, "data-alert-id": a.id },
    el("time", { datetime: a.time }, fmtTime(a.time)),
    el("span", { class: "kind" }, ALERT_KINDS[a.kind] ?? a.kind),
    el("a", { href: `#service/${a.service_id}` }, a.service_name),
    el("span", { class: "message" }, a.message),
    unsent.length ? el("span", { class: "unsent-why" }, unsent.join("; ")) : null,
  );
}

function renderAlerts() {
  $("alerts").replaceChildren(...state.alerts.map(alertItem));
  if (!state.alerts.length) $("alerts").append(el("li", { class: "muted" }, "No alerts yet."));
  $("older-alerts").hidden = !state.olderAlerts;
}

/** A maintenance window: its title, whether it is on now or when it comes next, what it covers. */
function maintenanceItem(m) {
  const when = m.active
    ? `Active now, until ${fmtTime(m.current?.ends_at)}`
    : m.next
      ? `Next: ${fmtTime(m.next.starts_at)} – ${fmtTime(m.next.ends_at)}`
      : "Over: no occurrence to come";
  const covers = [...m.service_ids.map(serviceRef), ...m.tags.map((tag) => `tag ${tag}`)].join(", ");
  return el(
    "li",
    { class: `window${m.active ? " active" : m.next ? "" : " ended"}`, "data-maintenance-id": m.id },
    el("strong", {}, m.title),
    el("span", { class: "muted" }, m.rrule ? "recurring" : "one-off"),
    el("span", { class: "when" }, when),
    el("span", { class: "message" }, `Covers ${covers || "nothing"}`),
  );
}

/** A feed of the aside: its items, "Not available." when they could not be listed (null),
 * `empty` when there are none; nothing before they are loaded (undefined). */
function renderFeed(id, items, item, empty) {
  if (items === undefined) return;
  $(id).replaceChildren(
    ...(items === null
      ? [el("li", { class: "muted" }, "Not available.")]
      : items.length
        ? items.map(item)
        : [el("li", { class: "muted" }, empty)]),
  );
}

function renderMaintenances() {
  renderFeed("maintenances", state.maintenances, maintenanceItem, "No maintenance windows.");
}

function locationItem(loc) {
  const pollers = `${loc.live_pollers} poller${loc.live_pollers === 1 ? "" : "s"} reporting`;
  return el(
    "li",
    { class: `location ${loc.status}`, "data-location": loc.name },
    el("strong", {}, loc.name),
    el("span", { class: `badge ${loc.status === "live" ? "up" : "down"}` }, loc.status),
    el("span", { class: "message" }, `${pollers}; last report ${fmtTime(loc.last_seen_at)}`),
  );
}

function renderLocations() {
  renderFeed("locations", state.locations, locationItem, "No poller has reported yet.");
}

// ---- the page of one service -----------------------------------------------------------

function serviceId() {
  const match = /^#service\/(\d+)$/.exec(location.hash);
  return match ? Number(match[1]) : null;
}

/** Show the overview or a service's page, as the URL's hash says. */
function route() {
  const id = serviceId();
  $("overview").hidden = id !== null;
  $("service-view").hidden = id === null;
  if (id !== null) {
    $("service-view").replaceChildren(el("p", { class: "muted" }, "Loading…"));
    if (state.token) guarded(() => refreshServiceView(id));
  }
}

async function refreshServiceView(id) {
  const token = state.token;
  const { shortWindow, longWindow } = state.settings;
  let parts;
  try {
    parts = await Promise.all([
      api(`/v1/services/${id}`, { token }),
      api(`/v1/services/${id}/stats?window_seconds=${shortWindow}`, { token }),
      api(`/v1/services/${id}/stats?window_seconds=${longWindow}`, { token }),
      api(`/v1/services/${id}/ticks?limit=${TICKS_CHARTED}`, { token }),
      api(`/v1/services/${id}/events?limit=${EVENTS_LISTED}`, { token }),
    ]);
  } catch (error) {
    if (error.status !== 404) throw error;
    parts = null;
  }
  if (serviceId() !== id) return; // the viewer has moved on meanwhile
  const view = $("service-view");
  if (!parts) {
    view.replaceChildren(back(), el("p", {}, `There is no service ${id} among yours.`));
    return;
  }
  const [service, short, long, ticks, events] = parts;
  const heartbeat = service.kind === "heartbeat";
  if (heartbeat) await refreshPingLog(id);
  const located = await Promise.all(
    (service.locations || []).map((where) =>
      orElse(api(`/v1/services/${id}/stats?window_seconds=${longWindow}&location=${where}`, { token }), null),
    ),
  );
  if (serviceId() !== id) return;
  view.replaceChildren(
    back(),
    el(
      "article",
      { class: `card service detail ${stateClass(stateOf(service))}`, "data-service-id": service.id, "data-kind": service.kind },
      el("header", {}, el("h2", {}, service.name), badges(service)),
      warningsList(service),
      facts(service),
      heartbeat ? pingUrlBox(service) : null,
      statsTable(short, long, service.kind),
      located.length ? locationStatsTable(service.locations, located) : null,
      long.steps_ms?.length ? stepStatsTable(long.steps_ms, ticks.data[0]) : null,
      heartbeat
        ? null
        : [
            el("h3", {}, `Latest ${ticks.data.length} checks, time by phase`),
            ticks.data.length
              ? [
                  checkChart(ticks.data, "Time of each check by phase, newest right"),
                  el("p", { class: "muted hint" }, "Drag across the chart to zoom in, double-click to zoom out."),
                ]
              : el("p", { class: "muted" }, "Not checked yet."),
          ],
      publishingBox(service),
      el("h3", {}, "Events"),
      eventsTable(events.data),
      el("h3", {}, "Latest results"),
      ticksTable(ticks.data.slice(0, TICKS_LISTED), service.kind),
      heartbeat ? [el("h3", {}, "Ping log"), state.pingLog.node] : null,
    ),
  );
  drawCharts(view);
}

// ---- a heartbeat's ping URL and ping log -------------------------------------------------

/** Whether a ping URL is shown masked ("…/ping/myNy********"), its key left out. */
const isMasked = (url) => /\*{8}$/.test(url ?? "");

/** The heartbeat's whole ping URL (GET /v1/services/{id} gives it whole to its own account,
 * with a token that may write; to others masked), a button that copies it and one that
 * replaces its key. Kept from one refresh to the next while the URL stays the same, so that
 * what the buttons said stays. */
function pingUrlBox(service) {
  const kept = state.pingUrlBox;
  if (kept && kept.id === service.id && kept.url === service.ping_url) return kept.node;
  const masked = isMasked(service.ping_url);
  const input = el("input", {
    class: "ping-url-full",
    type: "text",
    readonly: "",
    value: service.ping_url ?? "",
    "aria-label": "Ping URL",
    spellcheck: "false",
  });
  const said = el("p", { class: "ping-url-status", "aria-live": "polite" });
  const copy = el("button", { type: "button", class: "copy", disabled: masked ? "" : null }, "Copy");
  const rotate = el("button", { type: "button", class: "new-key" }, "New key…");
  input.addEventListener("focus", () => input.select());
  copy.addEventListener("click", () => copyPingUrl(input, said));
  rotate.addEventListener("click", () => newPingKey(service, said));
  const node = el(
    "section",
    { class: "ping-url", "aria-label": "Ping URL" },
    el("h3", {}, "Ping URL"),
    el(
      "p",
      { class: "note" },
      "The job reports in here (add /start, /fail or /<exit status>; ?rid= tells runs apart). " +
        "Keep it secret: whoever has it can report for this job.",
    ),
    el("div", { class: "copy-row" }, input, copy, rotate),
    masked
      ? el(
          "p",
          { class: "note masked" },
          "Shown masked: the whole URL is shown only to the heartbeat's own account, " +
            "logged in or with an API token that may write.",
        )
      : null,
    said,
  );
  state.pingUrlBox = { id: service.id, url: service.ping_url, node };
  return node;
}

async function copyPingUrl(input, said) {
  try {
    await navigator.clipboard.writeText(input.value);
    said.textContent = "Copied.";
  } catch {
    // No clipboard API (a page served over plain http from another host): select it instead.
    input.focus();
    input.select();
    said.textContent = document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy it.";
  }
}

/** Give the heartbeat a new ping key, once the viewer confirms: the old URL stops working. */
async function newPingKey(service, said) {
  const sure = window.confirm(
    `Give “${service.name}” a new ping URL?\n\nThe current one stops working at once: ` +
      "every job that pings it must be given the new one.",
  );
  if (!sure) return;
  await guarded(async () => {
    let changed;
    try {
      changed = await api(`/v1/services/${service.id}/ping-key`, { token: state.token, method: "POST" });
    } catch (error) {
      if (!(error instanceof ApiError) || error.kind !== "http") throw error;
      said.textContent = `No new key: ${error.message}`;
      return;
    }
    const box = pingUrlBox(changed);
    box.querySelector(".ping-url-status").textContent = isMasked(changed.ping_url)
      ? "New ping URL made: the old one no longer works. Only the heartbeat's own account sees the new one."
      : "New ping URL made: the old one no longer works. Give this one to the jobs.";
    if (serviceId() === service.id) await refreshServiceView(service.id);
  });
}

/** The heartbeat's newest pings into the log: those not shown yet go on top (when none of
 * those shown is among them, the log starts again from them); older pages stay as loaded. */
async function refreshPingLog(id) {
  const answer = await api(`/v1/services/${id}/pings?limit=${PINGS_PAGE}`, { token: state.token });
  let log = state.pingLog;
  if (!log || log.id !== id) {
    log = { id, items: [], cursor: null, open: new Set(), node: el("div", { class: "ping-log" }) };
    state.pingLog = log;
  }
  const known = new Set(log.items.map((p) => p.id));
  const fresh = answer.data.filter((p) => !known.has(p.id));
  if (!log.items.length || fresh.length === answer.data.length) {
    log.items = answer.data;
    log.cursor = answer.next_cursor;
  } else {
    log.items = [...fresh, ...log.items];
  }
  if (fresh.length || !log.node.hasChildNodes()) renderPingLog(log);
}

async function olderPings() {
  const log = state.pingLog;
  if (!log || !log.cursor) return;
  await guarded(async () => {
    const query = new URLSearchParams({ limit: String(PINGS_PAGE), cursor: log.cursor });
    const answer = await api(`/v1/services/${log.id}/pings?${query}`, { token: state.token });
    if (state.pingLog !== log) return;
    const known = new Set(log.items.map((p) => p.id));
    log.items.push(...answer.data.filter((p) => !known.has(p.id)));
    log.cursor = answer.next_cursor;
    renderPingLog(log);
  });
}

const PING_KINDS = { start: "Started", success: "Success", fail: "Failure" };

/** One ping: when, what (its exit status), its run id, the run's duration and where it came
 * from; its body, the run's output, in a box that opens on demand and scrolls. */
function pingItem(ping, open) {
  const what = PING_KINDS[ping.kind] ?? ping.kind;
  const status = ping.exit_status !== null && ping.exit_status !== undefined ? `exit status ${ping.exit_status}` : null;
  const body = ping.body ?? "";
  let log = null;
  if (body) {
    log = el(
      "details",
      { class: "log", open: open.has(ping.id) ? "" : null },
      el("summary", {}, `Output (${fmtBytes(new TextEncoder().encode(body).length)})`),
      el("pre", { tabindex: "0" }, body),
    );
    // Opened at its end, where a job says how it ended; kept open across refreshes.
    const scroll = () => {
      const pre = log.querySelector("pre");
      pre.scrollTop = pre.scrollHeight;
    };
    log.addEventListener("toggle", () => {
      if (log.open) {
        open.add(ping.id);
        scroll();
      } else {
        open.delete(ping.id);
      }
    });
  }
  return el(
    "li",
    { class: `ping ${ping.kind}`, "data-ping-id": ping.id },
    el(
      "p",
      { class: "what" },
      el("time", { datetime: ping.received_at }, fmtTime(ping.received_at)),
      el("span", { class: "kind" }, what),
      status ? el("span", { class: "exit-status" }, status) : null,
      ping.rid ? el("span", { class: "rid" }, `run ${ping.rid}`) : null,
      ping.duration_ms !== null && ping.duration_ms !== undefined
        ? el("span", { class: "duration" }, `took ${fmtMs(ping.duration_ms)}`)
        : null,
      ping.source ? el("span", { class: "source", title: ping.user_agent || null }, `from ${ping.source}`) : null,
    ),
    log,
  );
}

function renderPingLog(log) {
  const more = el("button", { type: "button", class: "older-pings" }, "Older pings");
  more.addEventListener("click", olderPings);
  log.node.replaceChildren(
    log.items.length
      ? el("ol", { class: "pings" }, log.items.map((ping) => pingItem(ping, log.open)))
      : el("p", { class: "muted" }, "No pings yet."),
    ...(log.cursor ? [more] : []),
  );
}

// What will not work as the service's settings say (the API's `warnings`), above its facts.
function warningsList(service) {
  if (!service.warnings.length) return null;
  return el("ul", { class: "warnings", "aria-label": "Warnings" }, service.warnings.map((w) => el("li", {}, w)));
}

function back() {
  return el("p", {}, el("a", { href: "#" }, "← All services"));
}

/** What a heartbeat has in place of a URL and its checks: its schedule, grace and limits, its
 * last ping, when the next is due and when it is late, and the runs going on. */
function heartbeatFacts(service) {
  const hb = service.heartbeat;
  const paused = service.paused || !hb.due_at;
  const at = (iso, none) => [relTime(iso, none), iso ? ` (${fmtTime(iso)})` : ""];
  return [
    ["Kind", `${kindWords(service.kind)}: the job reports in at its ping URL`],
    ["Schedule", scheduleWords(hb)],
    ["Grace", `${fmtDuration(hb.grace_seconds)} after the due time`],
    ...limitWords(hb),
    ["Last ping", at(hb.last_ping_at, "never")],
    paused ? ["Next ping", "not expected while paused: pings are ignored"] : ["Due", at(hb.due_at)],
    paused ? null : ["Late", at(hb.late_at)],
    ["Running", hb.running?.length ? runList(hb.running) : "no run started and not finished"],
  ];
}

function facts(service) {
  const open = service.latest_event;
  const pairs = [
    ...(service.heartbeat
      ? heartbeatFacts(service)
      : [
          ["URL", service.url],
          ["Kind", service.kind],
          ["Checked every", `${fmtDuration(service.interval_seconds)}, timeout ${service.timeout_seconds} s`],
          ["Last checked", fmtTime(service.metric.last_checked_at)],
        ]),
    open ? [open.event === "downtime" ? "Down since" : "Up since", fmtTime(open.date_started)] : null,
    open && open.reason ? ["Reason", open.reason] : null,
    causeOf(service) === null ? null : ["Caused by", serviceRef(causeOf(service))],
    service.flapping ? ["Flapping", "yes: its alerts are held until it is stable"] : null,
    service.locations?.length
      ? ["Checked from", `${service.locations.join(", ")}; down when ${quorumWords(service)} confirm it`]
      : null,
    ...(service.location_results || []).map(locationFact),
    service.group ? ["Group", service.group] : null,
    service.tags?.length ? ["Tags", service.tags.join(", ")] : null,
    service.depends_on?.length ? ["Depends on", service.depends_on.map(serviceRef).join(", ")] : null,
    ["Public", service.public ? "yes, on the status page" : "no"],
    service.paused ? ["Paused", service.heartbeat ? "yes: its pings are ignored" : "yes: not checked"] : null,
    service.managed
      ? ["Configuration", "managed as code (statuschecker apply): a change made here lasts until the next apply"]
      : null,
  ].filter(Boolean);
  return el("dl", { class: "facts" }, pairs.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function quorumWords(service) {
  return service.quorum ? `${service.quorum} of them` : "a majority of the live ones";
}

/** What one named location says of the service, as a fact of its page. */
function locationFact(r) {
  const state = r.confirmed === null ? "nothing confirmed yet" : `${r.confirmed} since ${fmtTime(r.confirmed_at)}`;
  const last = r.last_checked_at ? `; last check ${r.up ? "up" : `failed: ${r.error}`}` : "";
  return [`From ${r.location}`, `${r.live ? "" : "stale (counts for neither side): "}${state}${last}`];
}

function eventsTable(events) {
  if (!events.length) return el("p", { class: "muted" }, "No events yet.");
  return el(
    "table",
    { class: "list" },
    el("thead", {}, el("tr", {}, ["State", "From", "To", "Lasted", "Reason"].map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      events.map((e) => {
        const end = e.date_ended ? Date.parse(e.date_ended) : Date.now();
        return el(
          "tr",
          { class: e.event === "downtime" ? "down" : "up" },
          el("td", {}, e.event === "downtime" ? "Down" : "Up"),
          el("td", {}, fmtTime(e.date_started)),
          el("td", {}, e.date_ended ? fmtTime(e.date_ended) : "now"),
          el("td", {}, fmtDuration((end - Date.parse(e.date_started)) / 1000)),
          el("td", {}, e.reason || "", e.caused_by != null ? ` (caused by ${serviceRef(e.caused_by)})` : null),
        );
      }),
    ),
  );
}

/** What a kind's checks measure, as columns [heading, value of a tick]: a status code and the
 * first byte only for http(s). */
const MEASURED = {
  http: [
    ["Code", (t) => t.status_code ?? "–"],
    ["Total", (t) => fmtMs(t.response_time_ms)],
    ["First byte", (t) => fmtMs(t.ttfb_ms)],
  ],
  tcp: [
    ["Connect", (t) => fmtMs(t.connect_ms)],
    ["Total", (t) => fmtMs(t.response_time_ms)],
  ],
  dns: [["Answered in", (t) => fmtMs(t.response_time_ms)]],
  icmp: [
    ["Round trip", (t) => fmtMs(t.response_time_ms)],
    ["Packet loss", (t) => fmtPct(t.packet_loss_percent)],
  ],
  tls: [
    ["Handshake", (t) => fmtMs(t.tls_ms)],
    ["Certificate expires", (t) => fmtTime(t.cert_expires_at)],
  ],
  heartbeat: [["Run duration", (t) => fmtMs(t.response_time_ms)]],
  journey: [
    ["Code", (t) => t.status_code ?? "–"],
    ["Total", (t) => fmtMs(t.response_time_ms)],
    ["Steps", (t) => (t.steps ?? []).map((step) => `${step.name} ${step.up ? fmtMs(step.response_time_ms) : "✗"}`).join(" → ")],
  ],
};

function ticksTable(ticks, kind) {
  if (!ticks.length) return el("p", { class: "muted" }, "No results yet.");
  const columns = [
    [kind === "heartbeat" ? "At" : "Checked", (t) => fmtTime(t.checked_at)],
    ["Result", (t) => (t.up ? "Up" : "Down")],
    ...(Object.hasOwn(MEASURED, kind) ? MEASURED[kind] : [["Total", (t) => fmtMs(t.response_time_ms)]]),
    [kind === "heartbeat" ? "Reason" : "Error", (t) => t.error || ""],
  ];
  return el(
    "table",
    { class: "list" },
    el("thead", {}, el("tr", {}, columns.map(([heading]) => el("th", {}, heading)))),
    el(
      "tbody",
      {},
      ticks.map((t) => el("tr", { class: t.up ? "up" : "down" }, columns.map(([, value]) => el("td", {}, value(t))))),
    ),
  );
}

// ---- wiring ----------------------------------------------------------------------------

$("login").addEventListener("submit", logIn);
$("logout").addEventListener("click", () => logOut("You have logged out."));
$("settings").addEventListener("change", applySettings);
$("settings").addEventListener("submit", (event) => event.preventDefault());
$("older-alerts").addEventListener("click", olderAlerts);
$("filters").addEventListener("submit", (event) => event.preventDefault());
$("filter-status").addEventListener("change", applyFilters);
$("view").addEventListener("change", applyFilters);
$("previous-page").addEventListener("click", () => turnPage(-1));
$("next-page").addEventListener("click", () => turnPage(1));
for (const id of ["filter-tag", "filter-group", "filter-name"]) {
  $(id).addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(applyFilters, TYPING_PAUSE_MS);
  });
}
$("clear-filters").addEventListener("click", clearFilters);
window.addEventListener("hashchange", route);

if (state.token) start();
else logOut();
