"""Everything one running emulator holds, and the per-request helpers its routes share."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from airflow_provider_stitch.emulator.clock import EmulatorClock
from airflow_provider_stitch.emulator.faults import FaultRegistry
from airflow_provider_stitch.emulator.jobs_limit import JobsLimiter, JobsLimitSettings
from airflow_provider_stitch.emulator.lifecycle import settle_destinations, settle_due
from airflow_provider_stitch.emulator.responses import not_found, unauthorized
from airflow_provider_stitch.emulator.state import AccountRecord, EmulatorSettings, EmulatorState
from airflow_provider_stitch.emulator.stats import RequestStats

#: Marks a request body that is missing or not JSON.
NO_JSON = object()


@dataclass
class EmulatorRuntime:
    """State, clock, counters, faults and the Jobs limiter of one emulator."""

    settings: EmulatorSettings
    clock: EmulatorClock
    state: EmulatorState
    stats: RequestStats = field(default_factory=RequestStats)
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    limiter: JobsLimiter = field(default_factory=JobsLimiter)
    stopping: threading.Event = field(default_factory=threading.Event)
    #: Counts resets; a request that arrived before the latest one is neither processed nor counted.
    generation: int = 0

    @classmethod
    def create(cls, settings: EmulatorSettings) -> EmulatorRuntime:
        """A fresh runtime for these settings."""
        clock = EmulatorClock(settings.clock_mode, settings.speed)
        return cls(settings=settings, clock=clock, state=EmulatorState(settings, clock))

    def reset(self) -> None:
        """Back to a fresh primary account; faults, counters and limit mode cleared (the clock keeps going)."""
        self.generation += 1
        self.state.reset()
        self.stats.reset()
        self.faults.clear()
        self.limiter.configure(JobsLimitSettings())


def runtime_of(request: Request) -> EmulatorRuntime:
    """The runtime of the app serving this request."""
    return request.app.state.runtime  # type: ignore[no-any-return]


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(request: Request) -> tuple[EmulatorRuntime, AccountRecord, float]:
    """The runtime, the token's account (settled up to now) and the current emulator time.

    :raises ApiAnswer: 401 for a missing or unknown token.
    """
    runtime = runtime_of(request)
    account = runtime.state.account_for_token(bearer_token(request))
    if account is None:
        raise unauthorized()
    now = runtime.clock.now()
    with runtime.state.lock:
        settle_due(runtime.state, now)
        settle_destinations(account, now)
    return runtime, account, now


async def read_json(request: Request) -> Any:
    """The decoded JSON body, or :data:`NO_JSON` when empty or not JSON."""
    raw = await request.body()
    if not raw.strip():
        return NO_JSON
    try:
        return json.loads(raw)
    except ValueError:
        return NO_JSON


def numeric_id(value: str, what: str = "resource") -> int:
    """A path id as an integer; a non-numeric id is a 404 (as Stitch answers)."""
    if not value.isdigit():
        raise not_found(f"{what} ids are numbers")
    return int(value)
