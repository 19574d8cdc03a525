"""The Connexion application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from connexion import AsyncApp
from connexion.options import SwaggerUIOptions
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from statuschecker.runtime import Runtime
from web import problems

SPEC = Path(__file__).resolve().parents[1] / "openapispec.yaml"


def create_app(runtime: Runtime, *, validate_responses: bool = False) -> AsyncApp:
    """Build the ASGI app serving the API under /v1 and /metrics for `runtime`.

    The app's lifespan starts the runtime (its poller) and closes it on shutdown; each request
    finds the runtime in its state.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: object) -> AsyncIterator[dict]:
        runtime.start()
        try:
            yield {"runtime": runtime}
        finally:
            await run_in_threadpool(runtime.close)

    async def metrics(_: Request) -> Response:
        body = await run_in_threadpool(generate_latest, runtime.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app = AsyncApp(__name__, lifespan=lifespan, specification_dir=SPEC.parent)
    app.add_api(
        SPEC.name,
        base_path="/v1",
        strict_validation=True,
        validate_responses=validate_responses,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui"),
    )
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
    problems.install(app)
    return app
