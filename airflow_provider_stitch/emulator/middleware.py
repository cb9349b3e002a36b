"""ASGI middleware in front of the API: request counting, the Jobs limit, and arranged faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_stitch.api.endpoints import JOBS
from airflow_provider_stitch.emulator.faults import FaultRule
from airflow_provider_stitch.emulator.runtime import EmulatorRuntime
from airflow_provider_stitch.emulator.stats import classify

#: Paths that are never counted, limited or faulted.
UNTOUCHED_PREFIX = "/__emulator__"
_POLL = 0.05
#: Scope key under which the app keeps the server's ``send`` (bound to uvicorn's request cycle).
TRANSPORT_SEND_KEY = "stitch_emulator.server_send"


async def _send_json(send: Send, status: int, body: Any) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _drop_connection(scope: Scope) -> None:
    """Close the TCP connection without answering (uvicorn's ``send`` is bound to its request cycle)."""
    cycle = getattr(scope.get(TRANSPORT_SEND_KEY), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("the emulator dropped this request")
    transport.abort()
    await asyncio.sleep(0.01)


class EmulatorMiddleware:
    """Counts every API request, applies the Jobs limit, then arranged faults, then the app."""

    def __init__(self, app: ASGIApp, runtime: EmulatorRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNTOUCHED_PREFIX):
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        method, path = scope["method"], scope["path"]
        arrived = runtime.clock.now()
        group, client_id = classify(method, path)
        outcome: dict[str, Any] = {"status": "no answer", "blocked": False, "recorded": False}

        def finish() -> None:
            """Count the request once (before a dropped connection lets the client move on)."""
            if outcome["recorded"]:
                return
            outcome["recorded"] = True
            runtime.stats.record(
                method=method,
                path=path,
                status=outcome["status"],
                time=arrived,
                group=group,
                client_id=client_id,
                blocked=outcome["blocked"],
            )

        outcome["finish"] = finish

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
            await send(message)

        try:
            if group == JOBS and client_id is not None:
                wait = runtime.limiter.admit(client_id, arrived)
                if wait is not None:
                    outcome["blocked"] = True
                    limit = runtime.limiter.settings
                    message = (
                        f"more than {limit.limit} Jobs requests in {int(limit.window_seconds)} seconds for "
                        f"client {client_id}; the window frees up in {wait:.0f} s"
                    )
                    await _send_json(
                        counting_send, limit.status, {"error": {"type": "rate_limited", "message": message}}
                    )
                    return
            fault = runtime.faults.pick(method, path)
            if fault is not None:
                await self._apply_fault(fault, scope, receive, counting_send, outcome)
                return
            await self.app(scope, receive, counting_send)
        finally:
            finish()

    async def _wait(self, seconds: float | None) -> bool:
        """Sleep ``seconds`` (forever when None) unless the server stops; True when it is stopping."""
        waited = 0.0
        while not self.runtime.stopping.is_set():
            if seconds is not None and waited >= seconds:
                return False
            step = _POLL if seconds is None else min(_POLL, seconds - waited)
            await asyncio.sleep(step)
            waited += step
        return True

    async def _apply_fault(
        self,
        fault: FaultRule,
        scope: Scope,
        receive: Receive,
        counting_send: Send,
        outcome: dict[str, Any],
    ) -> None:
        if fault.delay and await self._wait(fault.delay):
            outcome["status"] = "dropped"
            outcome["finish"]()
            await _drop_connection(scope)
            return
        if fault.action == "delay":
            await self.app(scope, receive, counting_send)
        elif fault.action == "status":
            body = (
                fault.body
                if fault.body is not None
                else {
                    "error": {"type": "emulated_fault", "message": f"arranged fault answering {fault.status}"}
                }
            )
            await _send_json(counting_send, fault.status, body)
        elif fault.action == "malformed":
            payload = b'{"data": [{"source_id": 1, '
            await counting_send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await counting_send({"type": "http.response.body", "body": payload})
        elif fault.action == "hang":
            outcome["status"] = "hung"
            outcome["finish"]()
            await self._wait(None)
            await _drop_connection(scope)
        else:
            outcome["status"] = "dropped"
            outcome["finish"]()
            await _drop_connection(scope)
