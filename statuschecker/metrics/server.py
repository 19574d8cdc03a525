"""A metrics endpoint of its own, for a process that serves no API (the poller's supervisor):
/metrics from a registry, behind the metrics token when one is set, from a thread; and the one
rule both it and the API follow for who may scrape."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from pydantic import SecretStr

from statuschecker.accounts.credentials import bearer_matches

REFUSED = "/metrics needs its token"
"""Why a scrape without the metrics token is refused (401, `WWW-Authenticate: Bearer`)."""


def scrape_allowed(token: SecretStr | None, authorization: str) -> bool:
    """Whether a scrape with this Authorization header may read /metrics: always without a
    metrics token, else only with that token as a bearer token (compared in constant time)."""
    return token is None or bearer_matches(authorization, token)


def serve(registry: CollectorRegistry, host: str, port: int, token: SecretStr | None) -> WSGIServer:
    """Serve `registry` on http://host:port/metrics from a daemon thread; OSError when the
    port cannot be had. Shut the server down to stop."""
    app = make_wsgi_app(registry)

    def guarded(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: only /metrics is served here\n"]
        if not scrape_allowed(token, environ.get("HTTP_AUTHORIZATION", "")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
            )
            return [f"{REFUSED}\n".encode()]
        return app(environ, start_response)

    server = make_server(
        host, port, guarded, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""
