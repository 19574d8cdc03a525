// The dashboard's dense view for many services: one row each (name, group, status, availability
// over 24 h and 30 d, the last check's response time, a sparkline of the last 24 hours), sorted
// by any column, a page at a time, all of it from one request (GET /v1/services:stats).

import { el, fmtMs, fmtPct, statusBadge, availabilityClass } from "./common.js";

export const PAGE_ROWS = 100;

/** The columns: heading, the API's sort key (null: not sortable), the cell of a row. */
const COLUMNS = [
  ["Name", "name", (r) => el("a", { href: `#service/${r.id}` }, r.name)],
  ["Group", "group", (r) => r.group ?? "–"],
  ["Status", "status", (r) => statusBadge(r, { short: true })],
  ["24 h", "uptime_24h", (r) => el("span", { class: `pct ${availabilityClass(r.uptime_24h)}` }, fmtPct(r.uptime_24h))],
  ["30 d", "uptime_30d", (r) => el("span", { class: `pct ${availabilityClass(r.uptime_30d)}` }, fmtPct(r.uptime_30d))],
  ["Last response", "response_time", (r) => fmtMs(r.response_time_ms)],
  ["Last 24 hours", null, (r) => sparkline(r.hourly)],
];

/** The query of the view: filters, sort, order and the page's cursor. */
export function tableQuery(filters, sort, cursor) {
  const query = new URLSearchParams({ limit: String(PAGE_ROWS), sort: sort.by, order: sort.order });
  for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
  if (cursor) query.set("cursor", cursor);
  return query;
}

/** The table of a page of rows; `onSort(by)` is called when a heading is clicked. */
export function denseTable(rows, sort, onSort) {
  const heading = ([label, key]) => {
    if (!key) return el("th", { scope: "col" }, label);
    const current = sort.by === key;
    const direction = current ? (sort.order === "asc" ? "ascending" : "descending") : "none";
    const arrow = current ? (sort.order === "asc" ? " ▲" : " ▼") : "";
    const button = el("button", { type: "button", class: "sort", "data-sort": key }, label + arrow);
    button.addEventListener("click", () => onSort(key));
    return el("th", { scope: "col", "aria-sort": direction }, button);
  };
  return el(
    "table",
    { class: "list dense" },
    el("thead", {}, el("tr", {}, COLUMNS.map(heading))),
    el(
      "tbody",
      {},
      rows.map((r) =>
        el(
          "tr",
          { "data-service-id": r.id, class: `state-${r.status}` },
          COLUMNS.map(([label, , cell]) => el("td", { "data-label": label }, cell(r))),
        ),
      ),
    ),
  );
}

const SPARK_W = 96;
const SPARK_H = 20;
const SVG_NS = "http://www.w3.org/2000/svg";

/** The last 24 hours' average response times as a line, each hour with failed checks as a red
 * dot at the bottom; an hour without checks leaves a gap. */
function sparkline(hourly) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${SPARK_W} ${SPARK_H}`);
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("role", "img");
  const times = hourly.avg_response_time_ms;
  const top = Math.max(1, ...times.filter((v) => v !== null));
  const x = (i) => (i * SPARK_W) / Math.max(times.length - 1, 1);
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      const line = document.createElementNS(SVG_NS, "polyline");
      line.setAttribute("points", run.join(" "));
      svg.append(line);
    }
    run = [];
  };
  times.forEach((v, i) => {
    if (v === null) return flush();
    run.push(`${x(i).toFixed(1)},${(SPARK_H - 2 - ((SPARK_H - 4) * v) / top).toFixed(1)}`);
  });
  flush();
  hourly.availability_percent.forEach((pct, i) => {
    if (pct === null || pct >= 100) return;
    const dot = document.createElementNS(SVG_NS, "circle");
    dot.setAttribute("cx", x(i).toFixed(1));
    dot.setAttribute("cy", String(SPARK_H - 2));
    dot.setAttribute("r", "1.8");
    svg.append(dot);
  });
  const failed = hourly.availability_percent.filter((p) => p !== null && p < 100).length;
  svg.setAttribute("aria-label", `Response time per hour over the last 24 hours; ${failed} hours with failures`);
  return svg;
}
