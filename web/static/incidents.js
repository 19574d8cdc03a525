// Incidents as the status pages show them: written by people (impact, status, updates) or
// opened by the checks (a service's downtime and why), and the address of the page they are
// on (`/` or `/status/{slug}`), shared by the status page and its history page.
import { el, fmtDuration, fmtTime } from "./common.js";

export const STATUS_WORDS = {
  investigating: "Investigating",
  identified: "Identified",
  monitoring: "Monitoring",
  resolved: "Resolved",
};
const IMPACT_WORDS = { minor: "Minor impact", major: "Major impact", critical: "Critical impact" };

/** The status page this address is of: its slug (null for `/`) and where its history and feed
 * are. */
export function pageOfPath(path = location.pathname) {
  const match = /^\/status\/([a-z0-9][a-z0-9-]*)(?:\/history)?\/?$/.exec(path);
  const slug = match ? match[1] : null;
  const base = slug ? `/status/${slug}` : "";
  return { slug, home: base || "/", history: `${base}/history`, feed: `${base}/feed.atom` };
}

const timeOf = (iso) => el("time", { datetime: iso }, fmtTime(iso));

/** How long an incident lasted ("for 1h 5m") or since when it goes on. */
function span(incident) {
  if (!incident.resolved_at) return ["Since ", timeOf(incident.started_at), " (ongoing)"];
  const seconds = (Date.parse(incident.resolved_at) - Date.parse(incident.started_at)) / 1000;
  return [timeOf(incident.started_at), " – ", timeOf(incident.resolved_at), ` (${fmtDuration(Math.max(seconds, 0))})`];
}

function badge(incident) {
  if (incident.source === "automatic") {
    return incident.resolved_at
      ? el("span", { class: "badge up" }, "Resolved")
      : el("span", { class: "badge down" }, "Ongoing");
  }
  const resolved = incident.status === "resolved";
  return el("span", { class: `badge ${resolved ? "up" : `impact-${incident.impact}`}` }, STATUS_WORDS[incident.status]);
}

function update(u) {
  return el(
    "li",
    { class: `update ${u.status}` },
    el("p", { class: "said" }, el("strong", {}, STATUS_WORDS[u.status]), " · ", timeOf(u.created_at)),
    el("p", { class: "message" }, u.message),
  );
}

/** An incident: its title and state, what it affects and when, then its updates (newest
 * first) or, for one the checks opened, why. */
export function incidentReport(incident, heading = "h3") {
  const written = incident.source === "written";
  const state = incident.resolved_at ? "resolved" : "ongoing";
  const impact = written ? `impact-${incident.impact}` : "impact-automatic";
  return el(
    "article",
    { class: `incident-report ${impact} ${state}`, id: `${incident.source}-${incident.id}`, "data-source": incident.source },
    el("header", {}, el(heading, {}, incident.title), badge(incident)),
    el(
      "p",
      { class: "meta" },
      written ? `${IMPACT_WORDS[incident.impact]} · ` : "Detected by the checks · ",
      span(incident),
    ),
    el("p", { class: "affects" }, `Affects: ${incident.services.map((s) => s.name).join(", ")}`),
    written
      ? el("ol", { class: "updates" }, incident.updates.map(update))
      : el("p", { class: "message" }, incident.description || "Down"),
  );
}
