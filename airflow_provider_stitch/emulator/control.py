"""Control endpoints under ``/__emulator__/`` (no auth): reset, state, clock, stats, faults, scenarios."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from airflow_provider_stitch.connectors import credential_properties
from airflow_provider_stitch.emulator import jobs
from airflow_provider_stitch.emulator.clock import SPEED_HEADER, iso
from airflow_provider_stitch.emulator.faults import FaultRule, FaultSpecError
from airflow_provider_stitch.emulator.jobs_limit import JobsLimitSettings
from airflow_provider_stitch.emulator.lifecycle import (
    advance_step,
    check_json,
    rediscover,
    settle_all,
    track_all,
)
from airflow_provider_stitch.emulator.responses import ApiAnswer, json_answer
from airflow_provider_stitch.emulator.runtime import EmulatorRuntime, read_json, runtime_of
from airflow_provider_stitch.emulator.state import AccountRecord, SourceRecord

CONTROL_PREFIX = "/__emulator__"
router = APIRouter(prefix=CONTROL_PREFIX)

MASK = "***"
SETTABLE = {
    "destination_limit": int,
    "run_schedules": bool,
    "cron_scheduling": bool,
    "allow_deprecated_types": bool,
    "custom_emails_enabled": bool,
    "hooks_enabled": bool,
    "check_seconds": float,
    "phase_seconds": dict,
}
SCENARIO_KEYS = {"source_id", "fail", "load_error", "durations", "check_error", "extra_tables", "clear"}


def _bad(message: str) -> ApiAnswer:
    return ApiAnswer(json_answer({"error": message}, 400))


def _masked(connection_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    hidden = credential_properties(connection_type)
    return {
        name: (MASK if name in hidden and value not in (None, "") else value)
        for name, value in properties.items()
    }


def _source_state(source: SourceRecord, now: float) -> dict[str, Any]:
    job = source.job
    return {
        "id": source.id,
        "type": source.type,
        "name": source.name,
        "display_name": source.display_name,
        "step": source.step,
        "properties": _masked(source.type, source.properties),
        "paused_at": source.paused_at,
        "deleted_at": iso(source.deleted_at),
        "next_fire_time": iso(source.next_fire_at),
        "check": check_json(source.check, now),
        "streams": len(source.streams or []),
        "selected_streams": [s.tap_stream_id for s in source.streams or [] if s.selected],
        "running_job": None
        if job is None
        else {"job_name": job.job_name, "phase": jobs.phase_at(job, now), "started_at": iso(job.started_at)},
        "scenario": source.scenario,
    }


def _account_state(account: AccountRecord, now: float) -> dict[str, Any]:
    return {
        "client_id": account.client_id,
        "token": MASK,
        "email": account.email,
        "sources": [_source_state(s, now) for s in account.sources.values()],
        "destinations": [
            {
                "id": d.id,
                "type": d.type,
                "name": d.name,
                "properties": _masked(d.type, d.properties),
                "check": check_json(d.check, now),
            }
            for d in account.destinations.values()
        ],
        "jobs": [
            {
                "job_name": job.job_name,
                "source_id": job.source_id,
                "started_at": iso(job.started_at),
                "phase": jobs.phase_at(job, now),
                "stopped": job.stopped_at is not None,
            }
            for job in account.jobs.values()
        ],
        "extractions": len(account.extractions),
        "loads": len(account.loads),
    }


@router.post("/reset")
async def reset(request: Request) -> Response:
    runtime_of(request).reset()
    return json_answer({"reset": True})


@router.get("/state")
async def state(request: Request) -> Response:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.state.lock:
        settle_all(runtime.state, now)
        return json_answer(
            {
                "now": now,
                "accounts": [_account_state(a, now) for a in runtime.state.accounts.values()],
                "jobs_limit": runtime.limiter.settings.as_dict(),
                "faults": runtime.faults.list(),
            }
        )


@router.get("/clock")
async def clock(request: Request) -> Response:
    return json_answer(runtime_of(request).clock.describe())


@router.get("/speed")
async def speed(request: Request) -> Response:
    """The clock's speed, as the ``X-Stitch-Emulator-Speed`` header of every answer reports it."""
    clock = runtime_of(request).clock
    return json_answer({"speed": clock.speed, "header": SPEED_HEADER, "mode": clock.mode})


@router.post("/clock/advance")
async def advance(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise _bad('send {"seconds": N} with N >= 0')
    runtime.clock.advance(float(seconds))
    with runtime.state.lock:
        settle_all(runtime.state, runtime.clock.now())
    return json_answer(runtime.clock.describe())


@router.get("/stats")
async def stats(request: Request) -> Response:
    include_log = request.query_params.get("log", "true").lower() != "false"
    return json_answer(runtime_of(request).stats.snapshot(include_log=include_log))


@router.post("/faults")
async def add_faults(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    specs = body.get("faults") if isinstance(body, dict) and "faults" in body else [body]
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise _bad('send one fault object or {"faults": [...]}')
    try:
        rules = [FaultRule.from_mapping(spec) for spec in specs]
    except FaultSpecError as problem:
        raise _bad(str(problem)) from None
    return json_answer({"faults": [runtime.faults.add(rule).as_dict() for rule in rules]})


@router.get("/faults")
async def list_faults(request: Request) -> Response:
    return json_answer({"faults": runtime_of(request).faults.list()})


@router.delete("/faults")
async def clear_faults(request: Request) -> Response:
    runtime_of(request).faults.clear()
    return json_answer({"faults": []})


@router.get("/jobs-limit")
async def get_jobs_limit(request: Request) -> Response:
    return json_answer(runtime_of(request).limiter.settings.as_dict())


@router.post("/jobs-limit")
async def set_jobs_limit(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"mode", "limit", "window_seconds", "status"}:
        raise _bad('send {"mode": "off"|"count"|"block"} with optional limit, window_seconds, status')
    try:
        settings = JobsLimitSettings(**body)
    except (TypeError, ValueError) as problem:
        raise _bad(str(problem)) from None
    runtime.limiter.configure(settings)
    return json_answer(settings.as_dict())


@router.post("/settings")
async def change_settings(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - set(SETTABLE):
        raise _bad("settable: " + ", ".join(sorted(SETTABLE)))
    for name, value in body.items():
        if not isinstance(value, SETTABLE[name]) and not (SETTABLE[name] is float and isinstance(value, int)):
            raise _bad(f"{name} must be of type {SETTABLE[name].__name__}")
    with runtime.state.lock:
        runtime.state.feature_overrides.update(body)
        if "run_schedules" in body:
            track_all(runtime.state)
    return json_answer({name: runtime.state.setting(name) for name in SETTABLE})


def _scenario_source(runtime: EmulatorRuntime, source_id: Any) -> tuple[AccountRecord, SourceRecord]:
    found = runtime.state.find_source(source_id) if isinstance(source_id, int) else None
    if found is None:
        raise ApiAnswer(json_answer({"error": f"no source {source_id}"}, 404))
    return found


@router.post("/scenario")
async def scenario(request: Request) -> Response:
    """Arrange what happens to one source: failures of its next job or check, load errors, durations."""
    runtime = runtime_of(request)
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - SCENARIO_KEYS:
        raise _bad("scenario keys: " + ", ".join(sorted(SCENARIO_KEYS)))
    with runtime.state.lock:
        account, source = _scenario_source(runtime, body.get("source_id"))
        if body.get("clear"):
            source.scenario.clear()
        fail = body.get("fail")
        if fail is not None:
            if not isinstance(fail, dict) or fail.get("phase") not in jobs.PHASES:
                raise _bad("fail needs a phase: discovery, tap or target (plus message, exit_status)")
            source.scenario["fail"] = {
                "phase": fail["phase"],
                "message": fail.get("message"),
                "exit_status": int(fail.get("exit_status", 1)),
            }
        load_error = body.get("load_error")
        if load_error is not None:
            if not isinstance(load_error, dict):
                raise _bad('load_error must be {"message": ..., "streams": [...]}')
            source.scenario["load_error"] = {
                "message": load_error.get("message"),
                "streams": list(load_error.get("streams") or []),
            }
        durations = body.get("durations")
        if durations is not None:
            if not isinstance(durations, dict) or set(durations) - set(jobs.PHASES):
                raise _bad("durations maps discovery, tap and target to seconds")
            source.scenario["durations"] = {k: float(v) for k, v in durations.items()}
        if body.get("check_error") is not None:
            source.scenario["check_error"] = str(body["check_error"])
        if body.get("extra_tables") is not None:
            source.scenario["extra_tables"] = int(body["extra_tables"])
            if source.streams is not None:
                rediscover(runtime.state, source)
        return json_answer(
            {"source_id": source.id, "client_id": account.client_id, "scenario": source.scenario}
        )


@router.post("/sources/{source_id}/authorize")
async def authorize_source(source_id: int, request: Request) -> Response:
    """Complete a source's OAuth step, as if its user approved access in Stitch's pop-up."""
    runtime = runtime_of(request)
    with runtime.state.lock:
        account, source = _scenario_source(runtime, source_id)
        source.oauth_authorized = True
        advance_step(runtime.state, account, source, runtime.clock.now())
        return json_answer({"source_id": source.id, "step": source.step})
