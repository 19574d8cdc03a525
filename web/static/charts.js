// Charts drawn by uPlot (web/static/vendor, see its README): a service's checks over time, with
// zoom (drag across, double-click to go back) and a readout of the check under the pointer.

import uPlot from "./vendor/uPlot.esm.js";
import { el, fmtMs, fmtTime } from "./common.js";

const HEIGHT = 200;
const MIN_WIDTH = 200;
const drawn = new Set(); // the charts on the page, destroyed when the page is drawn again
const pending = new WeakMap(); // a chart's box -> what to draw in it once it is on the page

/** The timings of each check (total, first byte, TLS, connect, DNS) over time, oldest left,
 * and its failed checks marked at the bottom with their reason; drawn by `drawCharts` once the
 * box is on the page. `ticks` come newest first, as the API gives them. */
export function checkChart(ticks, label) {
  const ordered = [...ticks].reverse();
  const box = el("div", { class: "check-chart", role: "img", "aria-label": label });
  const at = ordered.map((t) => Date.parse(t.checked_at) / 1000);
  const timing = (field) => ordered.map((t) => (t.up ? t[field] ?? null : null));
  const failed = ordered.map((t) => (t.up ? null : 0));
  const ms = (u, v) => (v === null || v === undefined ? "–" : fmtMs(v));
  const colour = (name) => getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
  const series = [
    { label: "Checked", value: (u, v) => (v === null ? "–" : fmtTime(new Date(v * 1000).toISOString())) },
    { label: "Total", stroke: colour("wait"), width: 2, value: ms, points: { show: true, size: 5 } },
    { label: "First byte", stroke: colour("body"), value: ms },
    { label: "TLS", stroke: colour("tls"), value: ms },
    { label: "Connect", stroke: colour("connect"), value: ms },
    { label: "DNS", stroke: colour("dns"), value: ms },
    {
      label: "Failed",
      stroke: colour("down"),
      width: 0,
      points: { show: true, size: 9, fill: colour("down") },
      value: (u, v, si, i) => (i === null || ordered[i]?.up !== false ? "–" : ordered[i].error || "failed"),
    },
  ];
  const data = [
    at,
    timing("response_time_ms"),
    timing("ttfb_ms"),
    timing("tls_ms"),
    timing("connect_ms"),
    timing("dns_ms"),
    failed,
  ];
  pending.set(box, { series, data });
  return box;
}

/** Draw the charts `checkChart` made inside `root` (now on the page), after destroying those
 * drawn before: the page is drawn anew at each refresh, and a chart left undestroyed would
 * keep its canvas and listeners. */
export function drawCharts(root) {
  const zoomed = new Map(); // a chart zoomed into stays so when it is drawn anew
  for (const chart of drawn) {
    sizes.unobserve(chart.root.parentElement);
    const [xs] = chart.data;
    const { min, max } = chart.scales.x;
    if (xs.length && (min > xs[0] || max < xs[xs.length - 1])) zoomed.set(chart.root.parentElement.getAttribute("aria-label"), { min, max });
    chart.destroy();
  }
  drawn.clear();
  for (const box of root.querySelectorAll(".check-chart")) {
    const spec = pending.get(box);
    if (!spec) continue;
    pending.delete(box);
    const chart = new uPlot(
      {
        width: Math.max(box.clientWidth, MIN_WIDTH),
        height: HEIGHT,
        series: spec.series,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max ?? 0, 1) * 1.05] } },
        axes: [{}, { values: (u, ticks) => ticks.map((v) => fmtMs(v)), size: 60 }],
        cursor: { drag: { x: true, y: false } },
        legend: { live: true },
      },
      spec.data,
      box,
    );
    box.uplot = chart; // for the browser tests, which read its scales
    const kept = zoomed.get(box.getAttribute("aria-label"));
    if (kept) chart.setScale("x", kept);
    drawn.add(chart);
    sizes.observe(box);
  }
}

/** Each chart takes its box's width whenever the box changes size (a window resized, a phone
 * turned). */
const sizes = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    const chart = target.uplot;
    if (drawn.has(chart) && chart.width !== Math.max(target.clientWidth, MIN_WIDTH)) {
      chart.setSize({ width: Math.max(target.clientWidth, MIN_WIDTH), height: HEIGHT });
    }
  }
});
