"""Tab memory benchmark: the dashboard of 2,000 services in Chromium through an hour of refreshes.

    python scripts/bench/tab_memory.py --services 2000 --minutes 60 --service-minutes 20

Sets up as `overview.py` does (`overview.serve`: a fresh database on --database-url's,
STATUSCHECKER_DATABASE_URL's or an embedded PostgreSQL server; `statuschecker api` and `poller
--processes 1`; --services http services in ten groups with 30 days of rollups each), with
target.py as the target, answering 503 to each service for --flip-seconds in turn, one in ten
at any time, their turns spread evenly: statuses change, alerts are raised and the table's
rows change all along while the page watches.

Then Debian's Chromium, driven by Playwright, opens the dashboard logged in as the account, with
the dashboard's default refresh periods (the short window every 10 s, the long one every 60 s);
with more than 50 services that is the dense table. The page's clock is Playwright's
(`page.clock`): paused once the table is shown, then run on by one short period at a time, and
the requests that period's refreshes make complete for real (a wrapper of `fetch` counts them in
flight) before the next period is run. So an hour of refreshes takes minutes, each one a real
request and render. After a warm-up (--warmup-minutes of the page's time, and on until the
alert feed holds --feed-full alerts, the most it keeps), and every --sample-minutes after, a
garbage collection is forced through the DevTools protocol (HeapProfiler.collectGarbage) and
the JS heap in use (Runtime.getHeapUsage), the DOM nodes and the JS event listeners
(Performance.getMetrics) are sampled. Then the same for --service-minutes on one service's
page (#service/<id>: its facts, statistics, the uPlot chart of its last 60 checks, destroyed
and drawn anew each refresh, its events and results).

Reported, for each part: the samples; the growth from the first to the last; the verdict, flat
when the heap grew by less than --heap-bound-pct of the first sample (or --heap-bound-mb, if
more) and the nodes and listeners by less than --count-bound-pct (listeners: or than
--listeners-bound, if more); and the script time of a period (a V8 CPU profile of each,
sampled every 0.1 ms: the samples in JavaScript and in the garbage collections it caused; the
fetch wrapper's and Playwright's clock's included), median, p95 and max, against the goal of a
refresh under 300 ms, and the main thread's busy time of a period besides
(Performance.getMetrics' TaskDuration: script, style, layout and paint)."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import overview
import poller as bench
from playwright.sync_api import CDPSession, Page, sync_playwright

SHORT_REFRESH_S = 10  # the dashboard's default periods (dashboard.js DEFAULTS), set explicitly
LONG_REFRESH_S = 60
SCRIPT_GOAL_MS = 300.0
SETTLE_TIMEOUT_S = 60.0  # a refresh whose requests have not all completed by then is an error

# Counts the page's requests in flight and by path; `settled` is true once none is in flight
# after a task boundary (a refresh's next request starts from the previous one's continuation,
# in microtasks). Each answer is read whole here and handed on as what `api()` reads of it.
WATCH_FETCH = """
(() => {
  const realFetch = window.fetch.bind(window);
  const channel = new MessageChannel();
  const bench = { inFlight: 0, settled: true, asked: {} };
  channel.port1.onmessage = () => { if (bench.inFlight === 0) bench.settled = true; };
  window.__bench = bench;
  window.fetch = async (input, init) => {
    const path = new URL(String(input), location.href).pathname.replace(/\\/\\d+/g, "/{id}");
    bench.asked[path] = (bench.asked[path] || 0) + 1;
    bench.inFlight++;
    bench.settled = false;
    try {
      const response = await realFetch(input, init);
      const body = await response.text();
      const { ok, status, statusText, headers } = response;
      return { ok, status, statusText, headers, text: async () => body };
    } finally {
      bench.inFlight--;
      if (bench.inFlight === 0) channel.port2.postMessage(null);
    }
  };
})();
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000, help="services registered")
    parser.add_argument("--interval", type=int, default=20, help="seconds between checks")
    parser.add_argument("--flip-seconds", type=int, default=30,
                        help="real seconds each tenth of the services is down")  # fmt: skip
    parser.add_argument("--minutes", type=int, default=60, help="page minutes on the table")
    parser.add_argument("--service-minutes", type=int, default=20,
                        help="page minutes on one service's page after it (0: none)")  # fmt: skip
    parser.add_argument("--sample-minutes", type=int, default=5, help="page minutes a sample")
    parser.add_argument("--warmup-minutes", type=int, default=10,
                        help="page minutes before each part's first sample, at least")  # fmt: skip
    parser.add_argument("--feed-full", type=int, default=200,
                        help="... and until the alert feed holds this many (dashboard.js "
                             "ALERTS_KEPT), for up to --warmup-most minutes")  # fmt: skip
    parser.add_argument("--warmup-most", type=int, default=60, help="page minutes at most")
    parser.add_argument("--heap-bound-pct", type=float, default=10.0,
                        help="flat: the heap grew by less than this %% of the first")  # fmt: skip
    parser.add_argument("--heap-bound-mb", type=float, default=1.0,
                        help="... or by less than this many MB, if more")  # fmt: skip
    parser.add_argument("--count-bound-pct", type=float, default=10.0,
                        help="flat: nodes and listeners grew by less than this %%")  # fmt: skip
    parser.add_argument("--listeners-bound", type=int, default=25,
                        help="... listeners by less than this many, if more")  # fmt: skip
    parser.add_argument("--database-url", help="PostgreSQL server to use (a fresh database)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.services <= 50:
        parser.error("need --services > 50: the table is what is measured")
    if args.minutes < args.sample_minutes or args.sample_minutes < 1 or args.service_minutes < 0:
        parser.error("need --minutes >= --sample-minutes >= 1 and --service-minutes >= 0")
    if not 0 <= args.warmup_minutes <= args.warmup_most:
        parser.error("need 0 <= --warmup-minutes <= --warmup-most")
    if args.sample_minutes * 60 % SHORT_REFRESH_S:
        parser.error(f"--sample-minutes must be whole periods of {SHORT_REFRESH_S} s")
    args.chromium = shutil.which("chromium")
    if args.chromium is None:
        parser.error("needs Debian's chromium on PATH (apt install chromium)")
    args.api_processes = 1  # what pings.start_node reads
    args.rate_limit = "100000/minute"
    args.poller_processes = 1
    return args


@dataclass
class Sample:
    """What the page holds after a forced garbage collection, at a minute of its clock."""

    minute: int
    heap_mb: float  # JS heap in use
    nodes: int  # DOM nodes alive (on the page or held by script)
    listeners: int  # JS event listeners
    feed: int  # items of the alert feed
    refreshes: int  # table requests (GET /v1/services:stats) so far


def sample(page: Page, cdp: CDPSession, minute: int) -> Sample:
    """Collect garbage (twice: what a first pass frees can hold more), then measure."""
    for _ in range(2):
        cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    refreshes = page.evaluate("window.__bench.asked['/v1/services:stats'] || 0")
    return Sample(
        minute=minute,
        heap_mb=round(heap["usedSize"] / 1e6, 2),
        nodes=int(metrics["Nodes"]),
        listeners=int(metrics["JSEventListeners"]),
        feed=feed_items(page),
        refreshes=int(refreshes),
    )


def busy_s(cdp: CDPSession) -> float:
    """Seconds the page's main thread has spent in tasks so far (script, style, layout, ...)."""
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))


def script_ms(profile: dict) -> float:
    """Milliseconds of JavaScript (and of the garbage collections it caused) in a V8 CPU
    profile: its samples, less those of the thread idle or in the browser's own work."""
    not_script = {
        node["id"]
        for node in profile["nodes"]
        if node["callFrame"]["functionName"] in ("(root)", "(idle)", "(program)")
    }
    # timeDeltas[i] is the time from sample i - 1 to sample i: spent where sample i - 1 was.
    pairs = zip(profile["samples"], profile["timeDeltas"][1:], strict=False)
    return sum(delta for node, delta in pairs if node not in not_script) / 1000


def settle(page: Page) -> None:
    """Wait (real time) until none of the page's requests is in flight."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while not page.evaluate("window.__bench.settled"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the page's requests took over {SETTLE_TIMEOUT_S:.0f} s")
        time.sleep(0.02)


def feed_items(page: Page) -> int:
    """The items of the alert feed."""
    return int(page.evaluate("document.querySelectorAll('#alerts li.alert').length"))


def run_minutes(page: Page, cdp: CDPSession, minutes: int, args: argparse.Namespace) -> dict:
    """A warm-up (--warmup-minutes of the page's clock, and on until the alert feed is full, up
    to --warmup-most: what the page is to hold at most is what it holds at the first sample),
    then `minutes`; a short refresh period at a time, each period's requests completed before
    the next. A sample every --sample-minutes (and one at the start), the script time of each
    period."""
    warm = 0
    while warm < args.warmup_minutes * 60 or (
        warm < args.warmup_most * 60 and feed_items(page) < args.feed_full
    ):
        page.clock.run_for(SHORT_REFRESH_S * 1000)
        settle(page)
        warm += SHORT_REFRESH_S
    samples = [sample(page, cdp, 0)]
    scripts, busy = [], []
    every = args.sample_minutes
    periods = minutes * 60 // SHORT_REFRESH_S
    for n in range(1, periods + 1):
        before = busy_s(cdp)
        cdp.send("Profiler.start")
        page.clock.run_for(SHORT_REFRESH_S * 1000)
        settle(page)
        scripts.append(script_ms(cdp.send("Profiler.stop")["profile"]))
        busy.append((busy_s(cdp) - before) * 1000)
        if n * SHORT_REFRESH_S % (every * 60) == 0:
            samples.append(sample(page, cdp, n * SHORT_REFRESH_S // 60))
    warmup = f"{warm // 60} page minutes, the feed then {samples[0].feed} alerts"
    return {"samples": samples, "script_ms": scripts, "busy_ms": busy, "warmup": warmup}


def spread(values: list[float]) -> str:
    """Median, p95 and max of sorted `values`."""
    p95 = values[int(0.95 * (len(values) - 1))]
    return f"median {statistics.median(values):.1f}, p95 {p95:.1f}, max {values[-1]:.1f}"


def growth(first: Sample, last: Sample) -> str:
    """What the page holds more at `last` than at `first`."""
    heap = last.heap_mb - first.heap_mb
    return (
        f"heap {heap:+.2f} MB ({100 * heap / first.heap_mb:+.1f} %), "
        f"nodes {last.nodes - first.nodes:+d}, listeners {last.listeners - first.listeners:+d}"
    )


def figures(part: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Growth from the first sample to the last, the verdict, and the script time of a refresh."""
    first, last = part["samples"][0], part["samples"][-1]
    heap_bound = max(first.heap_mb * args.heap_bound_pct / 100, args.heap_bound_mb)
    nodes_bound = first.nodes * args.count_bound_pct / 100
    listeners_bound = max(first.listeners * args.count_bound_pct / 100, args.listeners_bound)
    flat = (
        last.heap_mb - first.heap_mb < heap_bound
        and last.nodes - first.nodes < nodes_bound
        and last.listeners - first.listeners < listeners_bound
    )
    took = sorted(part["script_ms"])
    p95 = took[int(0.95 * (len(took) - 1))]
    busy = sorted(part["busy_ms"])
    return {
        "warmup_before_the_first_sample": part["warmup"],
        "growth_first_to_last": growth(first, last),
        "memory_flat": f"{'PASS' if flat else 'FAIL'} (first to last: heap < +{heap_bound:.2f} "
        f"MB, nodes < +{nodes_bound:.0f}, listeners < +{listeners_bound:.0f})",
        "refreshes": f"{len(took)} periods of {SHORT_REFRESH_S} s, "
        f"{last.refreshes - first.refreshes} table requests",
        "script_ms_per_refresh": spread(took),
        "main_thread_busy_ms_per_refresh": spread(busy),
        f"refresh_under_{SCRIPT_GOAL_MS:g}_ms_of_script": (
            "PASS" if p95 < SCRIPT_GOAL_MS else "FAIL"
        )
        + " (p95)",
    }


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Serve the services, open the dashboard and run its clock; the samples and figures."""
    flip = ("--fail-one-in", "10", "--flip-seconds", str(args.flip_seconds))
    served = overview.serve(args, stack, target_options=flip)
    report: dict[str, Any] = {"setup": served.setup}
    playwright = stack.enter_context(sync_playwright())
    browser = playwright.chromium.launch(executable_path=args.chromium)
    stack.callback(browser.close)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    report["setup"]["browser"] = f"Chromium {browser.version} (headless), 1280 x 900"
    settings = {"shortRefresh": SHORT_REFRESH_S, "longRefresh": LONG_REFRESH_S}
    page.add_init_script(
        f"sessionStorage.setItem('statuschecker.token', '{served.token}');"
        f"localStorage.setItem('statuschecker.dashboard.settings', '{json.dumps(settings)}');"
        + WATCH_FETCH
    )
    page.clock.install()
    began = time.perf_counter()
    page.goto(f"{served.api}/dashboard")
    page.locator("#services table.dense tbody tr").nth(99).wait_for()
    report["setup"]["first_render_s"] = round(time.perf_counter() - began, 2)
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)
    settle(page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 100})  # microseconds
    began = time.perf_counter()
    parts = {"table": run_minutes(page, cdp, args.minutes, args)}
    if args.service_minutes:
        first = page.locator("#services table.dense tbody tr").first
        service_id = first.get_attribute("data-service-id")
        page.evaluate(f"location.hash = '#service/{service_id}'")
        page.locator("#service-view .check-chart canvas").wait_for()
        settle(page)
        parts[f"service {service_id}"] = run_minutes(page, cdp, args.service_minutes, args)
    report["setup"]["wall_s"] = round(time.perf_counter() - began, 1)
    for name, part in parts.items():
        report[f"{name}: samples"] = [asdict(s) for s in part["samples"]]
        report[name] = figures(part, args)
    log = served.data_dir / "statuschecker.log"
    if log_tail := bench._log_problems(log, expected=("alert.raised", "service.state_changed")):
        report["statuschecker_log_problems"] = log_tail
    return report


def table(report: dict) -> str:
    """The report as text: the setup, then each part's samples as a table and its figures."""
    lines: list[str] = []
    bench.add_section(lines, "setup", report["setup"])
    for key, rows in report.items():
        if not key.endswith(": samples"):
            continue
        name = key.removesuffix(": samples")
        lines.append(f"-- {name}, sampled after a forced GC")
        lines.append(
            f"  {'minute':>6} {'heap MB':>8} {'DOM nodes':>10} {'listeners':>10} "
            f"{'feed items':>10} {'table requests':>15}"
        )
        for row in rows:
            lines.append(
                f"  {row['minute']:>6} {row['heap_mb']:>8.2f} {row['nodes']:>10} "
                f"{row['listeners']:>10} {row['feed']:>10} {row['refreshes']:>15}"
            )
        bench.add_section(lines, f"{name}: figures", report[name])
    lines += [f"  log: {problem}" for problem in report.get("statuschecker_log_problems", [])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the tab memory benchmark."""
    return bench.run(measure, table, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
