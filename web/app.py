"""The Connexion application factory."""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import AsyncIterator
from typing import Any

import structlog
import yaml
from connexion import AsyncApp
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from statuschecker.metrics import server as metrics_server
from statuschecker.metrics.collectors import service_series_served
from statuschecker.resources import SPEC
from statuschecker.runtime import Runtime
from web import pages, problems
from web.bodylimit import BodyLimitMiddleware
from web.pings import PingMiddleware
from web.validation import validator_map

BASE_PATH = "/v1"

log = structlog.get_logger(__name__)


def create_app(runtime: Runtime, *, validate_responses: bool = False) -> AsyncApp:
    """Build the ASGI app serving the API under /v1, heartbeats' pings under /ping and
    /metrics for `runtime`.

    The app's lifespan starts the runtime (its poller) and closes it on shutdown; each request
    finds the runtime in its state.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: object) -> AsyncIterator[dict]:
        runtime.start()
        try:
            yield {"runtime": runtime}
        finally:
            await runtime.pings.close()
            await run_in_threadpool(runtime.close)

    metrics_token = runtime.settings.metrics_token
    if not service_series_served(runtime.settings):
        log.warning(
            "metrics.service_series_withheld",
            reason="anyone may sign up and no metrics token is set: the per-service series "
            "would show every account's service names to anyone",
            remedy="set STATUSCHECKER_METRICS_TOKEN (and scrape with it), or "
            "STATUSCHECKER_SIGNUP_POLICY=first-only or closed",
        )

    async def metrics(request: Request) -> Response:
        if not metrics_server.scrape_allowed(
            metrics_token, request.headers.get("authorization", "")
        ):
            headers = {"WWW-Authenticate": "Bearer"}
            return problems.response(401, "Unauthorized", metrics_server.REFUSED, headers)
        body = await run_in_threadpool(generate_latest, runtime.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app = AsyncApp(
        __name__,
        lifespan=lifespan,
        specification_dir=SPEC.parent,
        validator_map=validator_map(),
    )
    app.add_api(
        copy.deepcopy(contract()),  # Connexion fills in what it resolves
        base_path=BASE_PATH,
        strict_validation=True,
        validate_responses=validate_responses,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui"),
    )
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
    pages.install(app)
    app.add_middleware(  # outermost: pings skip the API's middleware
        PingMiddleware,
        MiddlewarePosition.BEFORE_EXCEPTION,
        intake=runtime.pings,
        max_request_bytes=runtime.settings.max_request_bytes,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        MiddlewarePosition.BEFORE_EXCEPTION,
        max_bytes=runtime.settings.max_request_bytes,
        larger={f"{BASE_PATH}/config:apply": runtime.settings.max_config_bytes},
    )
    problems.install(app, problems.allowed_methods(contract()["paths"], BASE_PATH))
    return app


@functools.cache
def contract() -> dict[str, Any]:
    """The OpenAPI contract, read once per process (with libyaml: Connexion's own reading,
    in pure Python, took a third of a second for every app built)."""
    return yaml.load(SPEC.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
