"""The web pages: the public status page at / (and each status page at /status/{slug}), its
history of incidents at /history (/status/{slug}/history) and Atom feed at /feed.atom
(/status/{slug}/feed.atom), the operator dashboard at /dashboard, and their assets under
/static/, all files from web/static/ served as they are (no build step); and the JSON Schema of
configuration files (web/config.schema.json) at /config.schema.json."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from connexion import AsyncApp
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from statuschecker.errors import NotFound
from statuschecker.model import StatusPage, Visibility
from statuschecker.runtime import Runtime
from web import feed, problems

STATIC = Path(__file__).resolve().parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
"""What may be served, by file suffix; anything else under web/static/ is not served."""

HEADERS = {
    # Every script, style and request stays on this origin: the pages work offline and an
    # injected script (a service name is user input) could not run or call out.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time (cheap: ETag and Last-Modified give 304s), so an upgrade shows at once.
    "Cache-Control": "no-cache",
}


def _not_found(path: str) -> Response:
    return problems.response(404, "Not Found", f"nothing is served at {path}")


def _file(relative: str, request: Request) -> Response:
    """The file at `relative` under STATIC, or a 404 problem when it is not a file there with a
    suffix we serve (so `..`, absolute paths and symlinks out of the folder find nothing)."""
    try:
        path = (STATIC / relative).resolve()
    except (OSError, ValueError):  # a NUL byte, a symlink loop
        return _not_found(request.url.path)
    content_type = CONTENT_TYPES.get(path.suffix)
    if content_type is None or not path.is_relative_to(STATIC) or not path.is_file():
        return _not_found(request.url.path)
    return FileResponse(path, headers=HEADERS, media_type=content_type)


SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
PUBLIC = Visibility(public_only=True)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.scope["state"]["runtime"]
    return runtime


async def _page(request: Request) -> StatusPage | None:
    """The status page the path names (None for `/`); NotFound when there is none."""
    slug = request.path_params.get("slug")
    if slug is None:
        return None
    if not SLUG.fullmatch(slug):
        raise NotFound(f"no status page at /status/{slug}")
    return await run_in_threadpool(_runtime(request).pages.public, slug)


async def _page_file(relative: str, request: Request) -> Response:
    try:
        await _page(request)
    except NotFound as exc:
        return problems.response(404, "Not Found", str(exc))
    return _file(relative, request)


async def status_page(request: Request) -> Response:
    """GET / and /status/{slug} - a public status page."""
    return await _page_file("index.html", request)


async def history_page(request: Request) -> Response:
    """GET /history and /status/{slug}/history - the incidents of the last 90 days."""
    return await _page_file("history.html", request)


def _feed(runtime: Runtime, page: StatusPage | None, page_url: str) -> bytes:
    ids = page.service_ids if page is not None else None
    found = runtime.incidents.on_status(PUBLIC, ids, limit=feed.ENTRIES)
    windows = runtime.maintenances.upcoming(PUBLIC, among=ids)
    title = page.title if page is not None else "Status"
    return feed.atom(title, page_url, found.items, windows, datetime.now(UTC))


async def atom_feed(request: Request) -> Response:
    """GET /feed.atom and /status/{slug}/feed.atom - incidents and maintenance as Atom."""
    try:
        page = await _page(request)
    except NotFound as exc:
        return problems.response(404, "Not Found", str(exc))
    base = _runtime(request).settings.public_url or f"{request.url.scheme}://{request.url.netloc}"
    page_url = base.rstrip("/") + (f"/status/{page.slug}" if page is not None else "/")
    body = await run_in_threadpool(_feed, _runtime(request), page, page_url)
    return Response(body, headers=HEADERS, media_type="application/atom+xml; charset=utf-8")


async def dashboard(request: Request) -> Response:
    """GET /dashboard - the operator dashboard (log-in form first)."""
    return _file("dashboard.html", request)


CONFIG_SCHEMA = STATIC.parent / "config.schema.json"
"""Made from the contract by `make config-schema` (scripts/config_schema.py)."""


async def config_schema(_: Request) -> Response:
    """GET /config.schema.json - the JSON Schema of a configuration file, for editors."""
    return FileResponse(CONFIG_SCHEMA, headers=HEADERS, media_type="application/schema+json")


async def asset(request: Request) -> Response:
    """GET /static/{path} - a script, style sheet or image of the pages."""
    return _file(request.path_params["path"], request)


def install(app: AsyncApp) -> None:
    """Serve the pages and their assets from `app`, beside the API."""
    methods = ["GET", "HEAD"]
    app.add_url_rule("/", "status_page", status_page, methods=methods)
    app.add_url_rule("/history", "history_page", history_page, methods=methods)
    app.add_url_rule("/feed.atom", "atom_feed", atom_feed, methods=methods)
    app.add_url_rule("/status/{slug}", "page_status_page", status_page, methods=methods)
    app.add_url_rule("/status/{slug}/history", "page_history", history_page, methods=methods)
    app.add_url_rule("/status/{slug}/feed.atom", "page_atom_feed", atom_feed, methods=methods)
    app.add_url_rule("/dashboard", "dashboard", dashboard, methods=methods)
    app.add_url_rule("/config.schema.json", "config_schema", config_schema, methods=methods)
    app.add_url_rule("/static/{path:path}", "static", asset, methods=methods)
