// The history page of a status page (/history, /status/{slug}/history): every incident of the
// last 90 days, written and automatic, newest first, by day, 50 at a time.
import { api, el, notify } from "./common.js";
import { incidentReport, pageOfPath } from "./incidents.js";

const PAGE = 50;
const page = pageOfPath();
const list = document.getElementById("history");
const older = document.getElementById("older");
let cursor = null;
let lastDay = null;

const dayOf = (iso) => new Date(iso).toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });

async function more() {
  older.disabled = true;
  const params = new URLSearchParams({ limit: PAGE });
  if (page.slug) params.set("page", page.slug);
  if (cursor) params.set("cursor", cursor);
  try {
    const found = await api(`/v1/status/incidents?${params}`);
    if (!cursor) list.replaceChildren();
    for (const incident of found.data) {
      const day = dayOf(incident.started_at);
      if (day !== lastDay) list.append(el("h2", { class: "day" }, day));
      lastDay = day;
      list.append(incidentReport(incident));
    }
    if (!list.children.length) list.append(el("p", { class: "muted" }, "No incidents in the last 90 days."));
    cursor = found.next_cursor;
    older.hidden = !cursor;
    notify("");
  } catch (error) {
    notify(`The incidents could not be loaded: ${error.message}`);
  } finally {
    older.disabled = false;
    list.setAttribute("aria-busy", "false");
  }
}

async function start() {
  document.getElementById("home-link").href = page.home;
  for (const id of ["feed", "feed-link"]) document.getElementById(id).href = page.feed;
  if (page.slug) {
    try {
      const meta = await api(`/v1/status/pages/${page.slug}`);
      document.getElementById("page-title").textContent = `${meta.title}: incident history`;
      document.title = `Incident history · ${meta.title}`;
    } catch (error) {
      notify(`The page could not be loaded: ${error.message}`);
    }
  }
  older.addEventListener("click", more);
  await more();
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

start();
