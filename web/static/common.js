// What the status page and the dashboard share: calling the API, formatting, building DOM
// nodes safely (text only, never HTML from data), and the plain-SVG charts.

// ---- the API ---------------------------------------------------------------------------

/** A failed API call. kind: "network" (no answer), "auth" (401), or "http" (another error). */
export class ApiError extends Error {
  constructor(kind, message, status = 0) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

/** Call the API on this origin; the parsed JSON body, or null for an empty answer. */
export async function api(path, { token = null, method = "GET", body = undefined } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError("network", "The statuschecker API cannot be reached.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null; // a proxy's HTML error page, say: reported by status below
  }
  if (response.ok) return data;
  const detail = (data && (data.detail || data.title)) || `HTTP ${response.status}`;
  if (response.status === 401) throw new ApiError("auth", detail, 401);
  if (response.status === 502 || response.status === 503 || response.status === 504) {
    throw new ApiError("network", `The statuschecker API is unavailable: ${detail}`, response.status);
  }
  throw new ApiError("http", detail, response.status);
}

/** Every item of a paginated list, following next_cursor (at most `maxPages` pages); `params`
 * are more query parameters (a filter). */
export async function apiAll(path, { token = null, limit = 500, maxPages = 20, params = {} } = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const query = new URLSearchParams({ ...params, limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    const answer = await api(`${path}?${query}`, { token });
    items.push(...answer.data);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** `fn` over `items`, at most `limit` at a time (browsers queue beyond ~6 anyway). */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** `promise`'s value, or `fallback` when it fails for a reason other than those in `propagate`
 * (by default a lost connection or an expired token: those concern the whole page). */
export async function orElse(promise, fallback, propagate = ["network", "auth"]) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && propagate.includes(error.kind)) throw error;
    return fallback;
  }
}

// ---- formatting ------------------------------------------------------------------------

const DASH = "–";

/** An RFC 3339 time in the viewer's time zone and locale. */
export function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleString() : DASH;
}

/** Milliseconds as "12.3 ms" or "1.25 s". */
export function fmtMs(ms) {
  if (ms === null || ms === undefined) return DASH;
  if (ms >= 1000) return `${(ms / 1000).toLocaleString(undefined, { maximumFractionDigits: 2 })} s`;
  return `${ms.toLocaleString(undefined, { maximumFractionDigits: ms < 10 ? 2 : 1 })} ms`;
}

/** A percentage as "99.95 %". */
export function fmtPct(pct) {
  if (pct === null || pct === undefined) return DASH;
  return `${pct.toLocaleString(undefined, { maximumFractionDigits: 2 })} %`;
}

/** A length of time in seconds as "3 d 4 h", "5 min 3 s", "42 s". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return DASH;
  const s = Math.round(seconds);
  const units = [
    ["d", 86400],
    ["h", 3600],
    ["min", 60],
    ["s", 1],
  ];
  const parts = [];
  let rest = s;
  for (const [name, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${name}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.length ? parts.join(" ") : "0 s";
}

/** An RFC 3339 time relative to now (`now` in ms since the epoch): "in 5 min", "3 h 2 min ago",
 * "now". */
export function fmtRelative(iso, now = Date.now()) {
  if (!iso) return DASH;
  const seconds = (Date.parse(iso) - now) / 1000;
  if (Math.abs(seconds) < 1) return "now";
  return seconds > 0 ? `in ${fmtDuration(seconds)}` : `${fmtDuration(-seconds)} ago`;
}

/** A time as a <time> element: relative to now ("in 5 min"), the full time in its tooltip;
 * `none` in its place without a time. */
export function relTime(iso, none = DASH) {
  if (!iso) return el("span", { class: "muted" }, none);
  return el("time", { datetime: iso, title: fmtTime(iso) }, fmtRelative(iso));
}

/** A number of bytes as "512 B", "1.2 KB", "100 KB". */
export function fmtBytes(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  return `${(bytes / 1000).toLocaleString(undefined, { maximumFractionDigits: bytes < 10_000 ? 1 : 0 })} KB`;
}

/** Status codes and reasons with their counts, most frequent first: "200 ×58, timeout ×2". */
export function fmtCodes(codes) {
  const entries = Object.entries(codes || {}).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([code, n]) => `${code} ×${n}`).join(", ") : DASH;
}

/** How the checks of a kind without status codes (tcp, udp, ws, smtp, dns, icmp, tls, heartbeat) ended,
 * from their statistics: the successful ones, then the failures by reason ("up ×58,
 * timeout ×2"; a heartbeat's by rule: "late ×3"). The API counts a check with neither a
 * status code nor an error as "unknown": every success of these kinds, so that key is left
 * out and failures without a reason counted from `failed`. */
export function fmtResults(stats) {
  const reasons = { ...stats.status_codes };
  delete reasons.unknown;
  const unexplained = stats.failed - Object.values(reasons).reduce((sum, n) => sum + n, 0);
  if (unexplained > 0) reasons["failed without a reason"] = unexplained;
  const parts = [];
  if (stats.successful) parts.push(`up ×${stats.successful}`);
  if (Object.keys(reasons).length) parts.push(fmtCodes(reasons));
  return parts.length ? parts.join(", ") : DASH;
}

// ---- kinds and heartbeats --------------------------------------------------------------

const KIND_WORDS = {
  http: "HTTP check",
  tcp: "TCP check",
  udp: "UDP check",
  ws: "WebSocket check",
  smtp: "mail server check (SMTP)",
  grpc: "gRPC health check",
  postgresql: "PostgreSQL check",
  mysql: "MySQL check",
  redis: "Redis check",
  journey: "API journey",
  icmp: "ping check (ICMP)",
  dns: "DNS check",
  tls: "TLS certificate check",
  heartbeat: "heartbeat",
};

/** A kind of service in words ("HTTP check", "heartbeat"); a kind newer than this page as it
 * comes. */
export function kindWords(kind) {
  return Object.hasOwn(KIND_WORDS, kind) ? KIND_WORDS[kind] : String(kind ?? "check");
}

/** A heartbeat's schedule in words: "Every 1 h" or "Cron 0 3 * * * (Europe/Berlin)". */
export function scheduleWords(heartbeat) {
  if (heartbeat.cron !== null && heartbeat.cron !== undefined) {
    return `Cron ${heartbeat.cron} (${heartbeat.timezone || "UTC"})`;
  }
  return `Every ${fmtDuration(heartbeat.interval_seconds)}`;
}

/** The limits a heartbeat's runs are judged by, as [name, words] pairs (none set: []). */
export function limitWords(heartbeat) {
  const limits = [
    ["max_duration_seconds", "Longest run", (s) => `${fmtDuration(s)}: a run taking longer is down`],
    ["min_duration_seconds", "Shortest run", (s) => `${fmtDuration(s)}: a run finishing sooner is down`],
    ["min_gap_seconds", "Least gap", (s) => `${fmtDuration(s)} between successes: closer ones are down`],
    ["start_grace_seconds", "Start grace", (s) => `${fmtDuration(s)}: a run started and not finished by then is down`],
  ];
  return limits
    .filter(([field]) => heartbeat[field] !== null && heartbeat[field] !== undefined)
    .map(([field, name, words]) => [name, words(heartbeat[field])]);
}

/** What a heartbeat's response-time figures are: the runs' durations (start ping to finish). */
export function measuredWords(kind) {
  return kind === "heartbeat"
    ? { title: "Run duration", row: "Run duration avg / max", none: "No run durations in this window: a run has one when a start ping comes before its success." }
    : { title: "Response time", row: "Response avg / max", none: "No response times: every check in this window failed." };
}

/** The CSS class for an availability: good, fair, poor, bad, or none without data. */
export function availabilityClass(pct) {
  if (pct === null || pct === undefined) return "none";
  if (pct >= 99.9) return "good";
  if (pct >= 99) return "fair";
  if (pct >= 95) return "poor";
  return "bad";
}

// ---- states ----------------------------------------------------------------------------

/** The states a service is shown in: the API's statuses and paused, worst first. `label` is the
 * dashboard's short name, `badge` the status page's, `counted` follows a number of services
 * ("2 services operational, 1 down"), `sentence` completes "The service ...". */
const STATES = {
  down: { label: "Down", badge: "Down", counted: "down", sentence: "is down" },
  pending: {
    label: "Pending",
    badge: "Checking — failing, not confirmed",
    counted: "failing, not confirmed yet",
    sentence: "is failing, not confirmed yet",
  },
  degraded: { label: "Degraded", badge: "Degraded performance", counted: "degraded", sentence: "is degraded" },
  maintenance: {
    label: "Maintenance",
    badge: "Under maintenance",
    counted: "under maintenance",
    sentence: "is under maintenance",
  },
  unknown: { label: "Not checked yet", badge: "No data yet", counted: "not checked yet", sentence: "has not been checked yet" },
  paused: { label: "Paused", badge: "Paused", counted: "paused", sentence: "is paused" },
  up: { label: "Up", badge: "Operational", counted: "operational", sentence: "is operational" },
};

/** Every state this page knows, worst first (down ... paused, up). */
export const STATE_NAMES = Object.keys(STATES);

/** The state to show: "paused" while a service is paused (its last status goes stale), else its
 * status, which may be a value newer than this page (shown as it comes, class "other"). */
export function stateOf(service) {
  return service.paused ? "paused" : String(service.status ?? "unknown");
}

/** The CSS class of a state: its name when known, else "other". */
export function stateClass(state) {
  return Object.hasOwn(STATES, state) ? state : "other";
}

/** A state's words: its label, badge, count or sentence (see STATES). */
export function stateWords(state) {
  return STATES[stateClass(state)] ?? { label: state, badge: state, counted: state, sentence: `is ${state}` };
}

/** Where a state ranks, worst first: 0 for down ... the last for up; a state newer than this page
 * just above up. */
export function stateRank(state) {
  return Object.hasOwn(STATES, state) ? STATE_NAMES.indexOf(state) : STATE_NAMES.length - 1.5;
}

/** The worst of some states (see stateRank), or undefined when there are none. */
export function worstState(states) {
  return [...states].sort((a, b) => stateRank(a) - stateRank(b))[0];
}

// ---- DOM -------------------------------------------------------------------------------

/** An HTML element: `attrs` become attributes (class, href, data-*, ...) and `children`
 * (strings become text nodes, null/false are skipped) its content. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function setAttrs(node, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
  }
}

/** A service's badge in the status page's words ("Operational", "Under maintenance", ...), or with
 * `short` in the dashboard's ("Up", "Maintenance", ...); a newer status as it comes. */
export function statusBadge(service, { short = false } = {}) {
  const state = stateOf(service);
  const words = stateWords(state);
  // A heartbeat is not checked: it has no state until its first ping (or its first miss).
  const label = state === "unknown" && service.kind === "heartbeat" ? "No ping yet" : words.label;
  return el("span", { class: `badge ${stateClass(state)}`, title: short ? words.badge : null }, short ? label : words.badge);
}

/** Show `text` in the page's notice bar (kind: "error" or "info"), or hide it when empty. */
export function notify(text, kind = "error") {
  const bar = document.getElementById("notice");
  bar.textContent = text || "";
  bar.className = text ? `notice ${kind}` : "notice";
  bar.hidden = !text;
}

// ---- charts (plain SVG) ----------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const W = 1000; // viewBox width; the SVG stretches to its box, so only ratios matter
const H = 100;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  setAttrs(node, attrs);
  node.append(...children.filter(Boolean));
  return node;
}

function tooltip(text) {
  const title = document.createElementNS(SVG, "title");
  title.textContent = text;
  return title;
}

function chartBox(label, className) {
  return svg("svg", {
    class: className,
    viewBox: `0 0 ${W} ${H}`,
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": label,
  });
}

/** A round number at or above `value` (1, 2 or 5 times a power of ten): the top of a scale. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value);
}

/** Uptime bars: one rect per history bucket, coloured by its availability (`noun` counts the
 * bucket's results in its tooltip). */
export function uptimeBars(buckets, label, noun = "checks") {
  const chart = chartBox(label, "bars");
  const step = W / Math.max(buckets.length, 1);
  const gap = Math.min(step * 0.2, 6);
  buckets.forEach((b, i) => {
    const pct = b.availability_percent;
    const text =
      `${fmtTime(b.start)}: ` +
      (b.checks ? `${fmtPct(pct)} of ${b.checks} ${noun}` : `no ${noun}`);
    chart.append(
      svg(
        "rect",
        { x: i * step, y: 0, width: step - gap, height: H, class: `bar ${availabilityClass(pct)}` },
        tooltip(text),
      ),
    );
  });
  return chart;
}

/** A chart with its scale: the SVG with the top value in the corner and the time span under;
 * with nothing to plot, `empty` says why in the chart's place (and there is no scale). */
function framed(chart, top, from, to, empty = null) {
  return el(
    "figure",
    { class: "chart" },
    empty ? null : el("span", { class: "scale" }, top),
    chart,
    empty ? el("p", { class: "empty" }, empty) : null,
    el("figcaption", {}, el("span", {}, from), el("span", {}, to)),
  );
}

/** Why history buckets have no response time to plot (`unchecked` when there were no checks,
 * `none` when there were), or null when they have some. Only successful checks have one. */
function noResponseTimes(buckets, unchecked, none) {
  if (buckets.some((b) => b.avg_response_time_ms !== null && b.avg_response_time_ms !== undefined)) return null;
  if (!buckets.some((b) => b.checks)) return unchecked;
  return none;
}

/** Average response time per history bucket (bars), a whisker up to the maximum; without any,
 * the reason in its place (`unchecked` says the one for no checks at all, `none` the one for
 * checks without a response time). */
export function responseChart(
  buckets,
  bucketSeconds,
  label,
  unchecked = "No checks in this window.",
  none = measuredWords("http").none,
) {
  const top = niceMax(1.05 * Math.max(0, ...buckets.map((b) => b.max_response_time_ms || 0)));
  const chart = chartBox(label, "response");
  const step = W / Math.max(buckets.length, 1);
  const y = (ms) => H - (ms / top) * H;
  buckets.forEach((b, i) => {
    if (b.avg_response_time_ms === null || b.avg_response_time_ms === undefined) return;
    const x = i * step;
    const text = `${fmtTime(b.start)}: avg ${fmtMs(b.avg_response_time_ms)}, max ${fmtMs(b.max_response_time_ms)}`;
    chart.append(
      svg(
        "rect",
        { x, y: y(b.avg_response_time_ms), width: step * 0.8, height: H - y(b.avg_response_time_ms), class: "avg" },
        tooltip(text),
      ),
      svg("path", {
        // the whisker: up from the bar to the maximum, then a cap across
        d: `M${x + step * 0.4},${y(b.avg_response_time_ms)}V${y(b.max_response_time_ms)}` +
          `M${x + step * 0.15},${y(b.max_response_time_ms)}H${x + step * 0.65}`,
        class: "max",
        "vector-effect": "non-scaling-stroke",
      }),
    );
  });
  const first = buckets[0];
  const last = buckets[buckets.length - 1];
  const end = last ? new Date(Date.parse(last.start) + bucketSeconds * 1000).toISOString() : null;
  const empty = noResponseTimes(buckets, unchecked, none);
  return framed(chart, fmtMs(top), first ? fmtTime(first.start) : "", fmtTime(end), empty);
}

