"""The emulator's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from airflow_provider_stitch.emulator import (
    control,
    pages,
    routes_accounts,
    routes_destinations,
    routes_jobs,
    routes_notifications,
    routes_sources,
    routes_streams,
)
from airflow_provider_stitch.emulator.clock import SPEED_HEADER, speed_text
from airflow_provider_stitch.emulator.middleware import TRANSPORT_SEND_KEY, EmulatorMiddleware
from airflow_provider_stitch.emulator.responses import ApiAnswer, json_answer
from airflow_provider_stitch.emulator.runtime import EmulatorRuntime
from airflow_provider_stitch.emulator.state import EmulatorSettings


async def _answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiAnswer)
    return exc.response


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods: 404, as Stitch answers both."""
    assert isinstance(exc, StarletteHTTPException)
    status = 404 if exc.status_code in (404, 405) else exc.status_code
    return json_answer({"error": {"type": "not_found", "message": "no such endpoint"}}, status)


class EmulatorApp(FastAPI):
    """FastAPI that stamps its speed on every answer and keeps the server's own ``send`` in the scope
    (so a fault can cut the connection)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope[TRANSPORT_SEND_KEY] = send
        runtime: EmulatorRuntime = self.state.runtime
        speed = (SPEED_HEADER.lower().encode(), speed_text(runtime.clock.speed).encode())

        async def send_with_speed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), speed]}
            await send(message)

        await super().__call__(scope, receive, send_with_speed)


def create_app(
    settings: EmulatorSettings | None = None, runtime: EmulatorRuntime | None = None
) -> EmulatorApp:
    """Build the emulator app.

    :param settings: emulator settings (defaults used when None).
    :param runtime: an existing runtime to serve (its settings win over ``settings``).
    """
    runtime = runtime or EmulatorRuntime.create(settings or EmulatorSettings())
    app = EmulatorApp(
        title="Stitch Connect API emulator",
        docs_url="/__emulator__/docs",
        redoc_url=None,
        openapi_url="/__emulator__/openapi.json",
    )
    app.state.runtime = runtime
    for module in (
        control,
        pages,
        routes_accounts,
        routes_sources,
        routes_streams,
        routes_destinations,
        routes_notifications,
        routes_jobs,
    ):
        app.include_router(module.router)
    app.include_router(routes_jobs.jobs_router)
    app.add_exception_handler(ApiAnswer, _answer)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(EmulatorMiddleware, runtime=runtime)
    return app
