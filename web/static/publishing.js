// What an account publishes for its customers, on the dashboard: its written incidents, each
// with a form to post an update (status and message); its status pages, made, changed and
// deleted here; and, on a service's page, a form to write an incident about it and the pages
// that show it. Every change is one API request; the caller refreshes what it shows after it.
import { ApiError, api, apiAll, el, fmtTime, orElse } from "./common.js";
import { STATUS_WORDS } from "./incidents.js";

const IMPACTS = ["minor", "major", "critical"];
const INCIDENTS_SHOWN = 20;

/** The account's newest written incidents and its status pages (null for what could not be
 * read). */
export async function loadPublished(token) {
  const [incidents, pages] = await Promise.all([
    orElse(api(`/v1/incidents?limit=${INCIDENTS_SHOWN}`, { token }), null),
    orElse(apiAll("/v1/pages", { token }), null),
  ]);
  return { incidents: incidents && incidents.data, pages };
}

/** A form's fields as an object, empty strings left out. */
function fields(form) {
  return Object.fromEntries([...new FormData(form)].filter(([, value]) => value !== ""));
}

const options = (values, words = (v) => v) => values.map((v) => el("option", { value: v }, words(v)));

/** Send `request` for `form`, saying in its `.said` what became of it ("Done.", or why the API
 * refused it); then `done()`. A lost API or an expired session go to `run`. */
function submitting(form, request, done, run) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const said = form.querySelector(".said");
    run(async () => {
      try {
        await request(fields(form));
      } catch (error) {
        if (!(error instanceof ApiError) || error.kind !== "http") throw error;
        said.textContent = error.message;
        said.className = "said error";
        return;
      }
      said.textContent = "Done.";
      said.className = "said ok";
      form.reset();
      await done();
    });
  });
  return form;
}

/** One of the account's incidents: what it is, where it stands, and a form to post an update. */
function incidentItem(incident, { token, run, done }) {
  const form = el(
    "form",
    { class: "update-form", "aria-label": `Post an update to ${incident.title}` },
    el("select", { name: "status", "aria-label": "Status" }, options(Object.keys(STATUS_WORDS), (s) => STATUS_WORDS[s])),
    el("input", { name: "message", required: "", maxlength: 5000, placeholder: "What is going on now", "aria-label": "Message" }),
    el("button", { type: "submit" }, "Post update"),
    el("span", { class: "said error", role: "alert" }),
  );
  form.querySelector("select").value = incident.status === "resolved" ? "resolved" : "monitoring";
  const update = (body) => api(`/v1/incidents/${incident.id}/updates`, { token, method: "POST", body });
  return el(
    "li",
    { class: `written-incident impact-${incident.impact} ${incident.status}`, "data-incident-id": incident.id },
    el("strong", {}, incident.title),
    el("span", { class: `badge ${incident.status === "resolved" ? "up" : `impact-${incident.impact}`}` }, STATUS_WORDS[incident.status]),
    el("span", { class: "message" }, `${incident.impact} impact · ${incident.services.map((s) => s.name).join(", ")} · since ${fmtTime(incident.started_at)}`),
    el("span", { class: "message" }, `Latest: ${incident.updates[0]?.message ?? ""}`),
    submitting(form, update, done, run),
  );
}

/** The account's incidents, newest first (`incidents` null: not available). */
export function incidentItems(incidents, context) {
  if (incidents === null) return [el("li", { class: "muted" }, "Not available.")];
  if (!incidents.length) return [el("li", { class: "muted" }, "No incidents written. Write one from a service's page.")];
  return incidents.map((i) => incidentItem(i, context));
}

/** A logo file as the data: URL the API takes ("" when none is chosen). */
function dataUrl(file) {
  if (!file || !file.size) return Promise.resolve("");
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** A status page's fields as the API takes them: the logo read from its file (kept when none
 * is chosen), an empty link removed when changing. */
async function pageBody(form, values, changing) {
  const { logo: _file, ...body } = values;
  const logo = await dataUrl(form.querySelector('input[name="logo"]').files[0]);
  if (logo) body.logo = logo;
  if (changing && !body.link) body.link = null;
  if (changing) body.description ??= "";
  return body;
}

/** The form that makes a status page, or changes `page` when given. */
function pageForm(page, { token, run, done }) {
  const changing = Boolean(page);
  const form = el(
    "form",
    { class: "page-form", "aria-label": changing ? `Change the page ${page.slug}` : "Make a status page" },
    changing ? null : el("label", {}, "Address /status/", el("input", { name: "slug", required: "", pattern: "[a-z0-9][a-z0-9\\-]*", maxlength: 64, placeholder: "shop" })),
    el("label", {}, "Title ", el("input", { name: "title", required: "", maxlength: 200, value: page?.title ?? "" })),
    el("label", {}, "Description ", el("input", { name: "description", maxlength: 1000, value: page?.description ?? "" })),
    el("label", {}, "Link ", el("input", { name: "link", type: "url", maxlength: 2000, placeholder: "https://", value: page?.link ?? "" })),
    el("label", {}, "Logo ", el("input", { name: "logo", type: "file", accept: "image/png,image/jpeg,image/gif,image/webp,image/svg+xml" })),
    el("button", { type: "submit" }, changing ? "Save" : "Make page"),
    el("span", { class: "said error", role: "alert" }),
  );
  const send = async (values) => {
    const body = await pageBody(form, values, changing);
    return changing
      ? api(`/v1/pages/${page.slug}`, { token, method: "PATCH", body })
      : api("/v1/pages", { token, method: "POST", body });
  };
  return submitting(form, send, done, run);
}

/** A page's subscribers, read when asked for: each URL (masked), its deliveries waiting and
 * given up, and a button that ends it. */
function subscribersList(page, context) {
  const list = el("ul", { class: "subscribers" });
  const load = () =>
    context.run(async () => {
      const found = await api(`/v1/pages/${page.slug}/subscriptions?limit=100`, { token: context.token });
      list.replaceChildren(
        ...(found.data.length ? found.data.map((sub) => subscriberItem(page, sub, context, load)) : [el("li", { class: "muted" }, "No subscribers yet.")]),
        found.next_cursor ? el("li", { class: "muted" }, "More than 100: see GET /v1/pages/{slug}/subscriptions.") : null,
      );
    });
  const details = el("details", { class: "subscribers-box" }, el("summary", {}, "Webhook subscribers"), list);
  details.addEventListener("toggle", () => details.open && load());
  return details;
}

function subscriberItem(page, sub, context, reload) {
  const end = el("button", { type: "button" }, "End");
  end.addEventListener("click", () =>
    context.run(async () => {
      await api(`/v1/pages/${page.slug}/subscriptions/${sub.id}`, { token: context.token, method: "DELETE" });
      await reload();
    }),
  );
  const state = `${sub.pending_deliveries} waiting, ${sub.failed_deliveries} given up${sub.signed ? " · signed" : ""}`;
  return el("li", { "data-subscription-id": sub.id }, el("span", { class: "message" }, sub.url), el("span", { class: "muted" }, state), end);
}

function pageItem(page, context) {
  const remove = el("button", { type: "button", class: "delete" }, "Delete");
  remove.addEventListener("click", () => {
    if (!window.confirm(`Delete the status page /status/${page.slug}? Its services stay.`)) return;
    context.run(async () => {
      await api(`/v1/pages/${page.slug}`, { token: context.token, method: "DELETE" });
      await context.done();
    });
  });
  return el(
    "li",
    { class: "status-page", "data-slug": page.slug },
    el("a", { href: `/status/${page.slug}` }, page.title),
    el("span", { class: "muted" }, `/status/${page.slug} · ${page.service_ids.length} service${page.service_ids.length === 1 ? "" : "s"}`),
    el("details", {}, el("summary", {}, "Change"), pageForm(page, context), remove),
    subscribersList(page, context),
  );
}

/** The account's status pages, then the form that makes one (`pages` null: not available). */
export function pageItems(pages, context) {
  const make = el("li", { class: "new-page" }, el("details", {}, el("summary", {}, "Make a status page"), pageForm(null, context)));
  if (pages === null) return [el("li", { class: "muted" }, "Not available.")];
  return [...pages.map((p) => pageItem(p, context)), make];
}

/** On a service's page: a form to write an incident about it. */
export function incidentForm(service, context) {
  const form = el(
    "form",
    { class: "incident-form", "aria-label": "Write an incident" },
    el("label", {}, "Title ", el("input", { name: "title", required: "", maxlength: 200 })),
    el("label", {}, "Impact ", el("select", { name: "impact" }, options(IMPACTS))),
    el("label", {}, "Message ", el("input", { name: "message", required: "", maxlength: 5000, placeholder: "What people see, what is being done" })),
    el("button", { type: "submit" }, "Write incident"),
    el("span", { class: "said error", role: "alert" }),
  );
  const body = (values) => ({ ...values, service_ids: [service.id] });
  const write = (values) => api("/v1/incidents", { token: context.token, method: "POST", body: body(values) });
  return submitting(form, write, context.done, context.run);
}

/** On a service's page: a box per status page of the account saying whether the page shows
 * the service (a public one only); ticking it changes the page. */
export function pageBoxes(service, pages, context) {
  if (!pages || !pages.length) return null;
  const boxes = pages.map((page) => {
    const box = el("input", { type: "checkbox", checked: page.service_ids.includes(service.id) ? "" : null, disabled: service.public ? null : "" });
    box.addEventListener("change", () =>
      context.run(async () => {
        const ids = page.service_ids.filter((id) => id !== service.id);
        if (box.checked) ids.push(service.id);
        await api(`/v1/pages/${page.slug}`, { token: context.token, method: "PATCH", body: { service_ids: ids } });
        await context.done();
      }),
    );
    return el("label", { class: "on-page" }, box, ` ${page.title} (/status/${page.slug})`);
  });
  const lead = service.public ? "Shown on: " : "Only a public service can be shown on a status page: ";
  return el("p", { class: "pages" }, lead, boxes);
}
