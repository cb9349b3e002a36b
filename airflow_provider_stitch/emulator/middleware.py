"""ASGI middleware in front of the API: request counting, the Jobs limit, and arranged faults."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_stitch.emulator.faults import FaultRule
from airflow_provider_stitch.emulator.request_groups import classify
from airflow_provider_stitch.emulator.runtime import EmulatorRuntime
from airflow_provider_stitch.emulator.stats import JOBS

#: Paths that are never counted, limited or faulted: the control API and the read-only HTML pages.
UNTOUCHED_PREFIXES = ("/__emulator__", "/_emulator/")
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


@dataclass
class Exchange:
    """One API request on its way through the middleware, and how it ended."""

    method: str
    path: str
    arrived: float
    group: str
    client_id: int | None
    generation: int
    status: int | str = "no answer"
    blocked: bool = False
    recorded: bool = False


class EmulatorMiddleware:
    """Counts every API request, applies the Jobs limit, then arranged faults, then the app."""

    def __init__(self, app: ASGIApp, runtime: EmulatorRuntime) -> None:
        self.app = app
        self.runtime = runtime

    def _finish(self, exchange: Exchange, status: int | str | None = None) -> None:
        """Count the request once (before a dropped connection lets the client move on); a request that
        arrived before a reset is not counted."""
        if status is not None:
            exchange.status = status
        if exchange.recorded or exchange.generation != self.runtime.generation:
            return
        exchange.recorded = True
        self.runtime.stats.record(
            method=exchange.method,
            path=exchange.path,
            status=exchange.status,
            time=exchange.arrived,
            group=exchange.group,
            client_id=exchange.client_id,
            blocked=exchange.blocked,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNTOUCHED_PREFIXES):
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        method, path = scope["method"], scope["path"]
        group, client_id = classify(method, path)
        exchange = Exchange(method, path, runtime.clock.now(), group, client_id, runtime.generation)

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            await send(message)

        try:
            if group == JOBS and client_id is not None:
                wait = runtime.limiter.admit(client_id, exchange.arrived)
                if wait is not None:
                    exchange.blocked = True
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
                await self._apply_fault(fault, scope, receive, counting_send, exchange)
                return
            await self.app(scope, receive, counting_send)
        finally:
            self._finish(exchange)

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

    async def _drop(self, scope: Scope, exchange: Exchange, status: str) -> None:
        self._finish(exchange, status)
        await _drop_connection(scope)

    async def _apply_fault(
        self,
        fault: FaultRule,
        scope: Scope,
        receive: Receive,
        counting_send: Send,
        exchange: Exchange,
    ) -> None:
        if fault.delay:
            stopping = await self._wait(fault.delay)
            if stopping or exchange.generation != self.runtime.generation:
                # The server is stopping, or the test that sent this request has reset the emulator.
                await self._drop(scope, exchange, "dropped")
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
        elif fault.action == "lose":
            await self._process_and_lose_answer(scope, receive, exchange)
        elif fault.action == "hang":
            self._finish(exchange, "hung")
            await self._wait(None)
            await _drop_connection(scope)
        else:
            await self._drop(scope, exchange, "dropped")

    async def _process_and_lose_answer(self, scope: Scope, receive: Receive, exchange: Exchange) -> None:
        """Let the app handle the request, keep its answer from the client, and cut the connection."""
        answered: list[int] = []

        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.append(message["status"])

        await self.app(scope, receive, swallow)
        await self._drop(scope, exchange, f"lost {answered[0]}" if answered else "lost")
