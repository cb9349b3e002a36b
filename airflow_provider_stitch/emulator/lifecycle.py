"""Source set-up and time: report-card steps, connection checks, schedules, settling jobs lazily."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from airflow_provider_stitch.connectors import ConnectorSpec, get_connector
from airflow_provider_stitch.emulator import jobs
from airflow_provider_stitch.emulator.catalog_streams import discover_streams
from airflow_provider_stitch.emulator.clock import iso, parse_timestamp
from airflow_provider_stitch.emulator.report_cards import missing_required
from airflow_provider_stitch.emulator.state import (
    AccountRecord,
    CheckRecord,
    DestinationRecord,
    EmulatorState,
    SourceRecord,
)

#: A credential (or password) property with this value makes the connection check fail.
WRONG_CREDENTIAL = "wrong"
#: Most scheduled runs replayed in one settle when the clock jumped far ahead.
MAX_REPLAYED_RUNS = 200


def has_field_selection(connector: ConnectorSpec) -> bool:
    """True when the type's report card has a ``field_selection`` step."""
    return "field_selection" in connector.steps


def start_check(state: EmulatorState, account: AccountRecord, item_id: int, now: float) -> CheckRecord:
    """Begin a connection check (and discovery) job for a source or destination."""
    return CheckRecord(
        name=jobs.job_name(account.client_id, item_id, "check"),
        started_at=now,
        duration=float(state.setting("check_seconds")),
    )


def _check_failure(connector: ConnectorSpec, properties: dict[str, Any], arranged: str | None) -> str | None:
    """Why a check fails (a wrong credential or an arranged message), or None when it succeeds."""
    if arranged:
        return arranged
    missing = missing_required(connector, "form", properties)
    if missing:
        return "the connection cannot be tested without: " + ", ".join(missing)
    for spec in connector.properties:
        if (spec.credential or "password" in spec.name) and properties.get(spec.name) == WRONG_CREDENTIAL:
            if connector.is_database or connector.kind == "destination":
                user = properties.get("user") or properties.get("username") or "stitch"
                return f'FATAL:  password authentication failed for user "{user}"'
            return "401 Client Error: Unauthorized (the API rejected the credentials)"
    return None


def check_json(check: CheckRecord | None, now: float) -> dict[str, Any] | None:
    """A connection check object as the API returns it."""
    if check is None:
        return None
    done = check.finished and (check.completed_at or 0) <= now
    return {
        "name": check.name,
        "mode": "check",
        "status": ("failed" if check.failed else "succeeded") if done else "running",
        "start_time": iso(check.started_at),
        "completion_time": iso(check.completed_at) if done else None,
        "error": bool(done and check.failed),
        "check_exit_status": (None if check.failed else 0) if done else None,
        "discovery_exit_status": (1 if check.failed else 0) if done else None,
        "tap_exit_status": None,
        "target_exit_status": None,
        "discovery_error_message": check.error_message if done else None,
        "tap_error_message": None,
        "target_error_message": None,
    }


def _finish_check(
    check: CheckRecord, connector: ConnectorSpec, properties: dict[str, Any], arranged: str | None
) -> None:
    check.finished = True
    check.completed_at = check.started_at + check.duration
    check.error_message = _check_failure(connector, properties, arranged)
    check.failed = check.error_message is not None


def advance_step(state: EmulatorState, account: AccountRecord, source: SourceRecord, now: float) -> None:
    """Move a source through ``form`` and ``oauth`` as far as its properties allow, then queue it.

    Reaching ``discover_schema`` starts a connection check and discovery.
    """
    _advance_through_property_steps(state, account, source, now)
    track(state, account, source)


def _advance_through_property_steps(
    state: EmulatorState, account: AccountRecord, source: SourceRecord, now: float
) -> None:
    connector = get_connector(source.type)
    while source.step in ("form", "oauth"):
        if source.step == "form" and missing_required(connector, "form", source.properties):
            return
        if (
            source.step == "oauth"
            and not source.oauth_authorized
            and missing_required(connector, "oauth", source.properties)
        ):
            return
        index = connector.steps.index(source.step)
        source.step = connector.steps[index + 1]
        if source.step == "discover_schema":
            source.check = start_check(state, account, source.id, now)
        if source.step == "fully_configured":
            if source.streams is None:
                source.streams = discover_streams(
                    connector,
                    source.properties,
                    lambda: state.next_id("stream"),
                    extra_tables=int(source.scenario.get("extra_tables", 0)),
                )
            reschedule(source, now, state)


def rediscover(state: EmulatorState, source: SourceRecord) -> None:
    """Run discovery again (after a scenario changed the catalog); earlier selections are dropped."""
    connector = get_connector(source.type)
    source.streams = discover_streams(
        connector,
        source.properties,
        lambda: state.next_id("stream"),
        extra_tables=int(source.scenario.get("extra_tables", 0)),
    )


def settle_check(state: EmulatorState, source: SourceRecord, now: float) -> None:
    """Finish a source's check when its time is up; success moves ``discover_schema`` on."""
    check = source.check
    if check is None or check.finished or now < check.started_at + check.duration:
        return
    connector = get_connector(source.type)
    _finish_check(check, connector, source.properties, source.scenario.pop("check_error", None))
    if check.failed or source.step != "discover_schema":
        return
    if source.streams is None:
        rediscover(state, source)
    source.step = "field_selection" if has_field_selection(connector) else "fully_configured"
    if source.step == "fully_configured":
        reschedule(source, now, state)


def settle_destination_check(destination: DestinationRecord, now: float) -> None:
    """Finish a destination's check when its time is up."""
    check = destination.check
    if check is None or check.finished or now < check.started_at + check.duration:
        return
    _finish_check(check, get_connector(destination.type), destination.properties, None)


# ------------------------------------------------------------------------------------------ schedules
def _quartz_to_cron(expression: str) -> str:
    """A Quartz expression (seconds first, ``?`` days, optional year) as a five-field cron line."""
    fields = expression.split()
    minute, hour, day, month, weekday = fields[1:6]
    return " ".join("*" if value == "?" else value for value in (minute, hour, day, month, weekday))


def schedule_json(source: SourceRecord, state: EmulatorState) -> dict[str, Any] | None:
    """The ``schedule`` object of a source (None when paused or deleted)."""
    if source.paused_at is not None or source.deleted_at is not None:
        return None
    cron = source.properties.get("cron_expression")
    next_fire = iso(source.next_fire_at) if source.next_fire_at is not None else None
    if isinstance(cron, str) and cron.strip():
        return {"type": "cron", "cron_expression": cron, "next_fire_time": next_fire}
    return {
        "type": "interval",
        "unit": "minute",
        "interval": float(frequency_minutes(source)),
        "next_fire_time": next_fire,
    }


def frequency_minutes(source: SourceRecord) -> int:
    """The source's replication frequency in minutes (the type's default when not set)."""
    value = source.properties.get("frequency_in_minutes")
    try:
        return max(1, int(str(value)))
    except ValueError:
        connector = get_connector(source.type)
        return connector.default_frequency_in_minutes or 60


def next_fire_after(source: SourceRecord, after: float) -> float | None:
    """The first scheduled run strictly after ``after`` (emulator epoch seconds)."""
    cron = source.properties.get("cron_expression")
    if isinstance(cron, str) and cron.strip():
        from croniter import croniter

        try:
            start = datetime.fromtimestamp(after, tz=timezone.utc)
            return float(croniter(_quartz_to_cron(cron), start).get_next(float))
        except Exception:  # croniter rejects Quartz-only syntax (L, W, #): no next run then
            return None
    interval = frequency_minutes(source) * 60.0
    anchor = parse_timestamp(source.properties.get("anchor_time"))
    base = anchor if anchor is not None else source.created_at
    if after < base:
        return base
    return base + (math.floor((after - base) / interval) + 1) * interval


def schedulable(source: SourceRecord, state: EmulatorState) -> bool:
    """True when Stitch would run this source on its schedule."""
    return (
        bool(state.setting("run_schedules"))
        and source.step == "fully_configured"
        and source.paused_at is None
        and source.deleted_at is None
    )


def reschedule(source: SourceRecord, now: float, state: EmulatorState) -> None:
    """Recompute the next scheduled run from ``now`` (and queue the source for it)."""
    source.next_fire_at = next_fire_after(source, now) if schedulable(source, state) else None
    owner = state.source_owners.get(source.id)
    if owner is not None:
        track(state, owner, source)


# ------------------------------------------------------------------------------------------ settling
def settle_source(state: EmulatorState, account: AccountRecord, source: SourceRecord, now: float) -> None:
    """Bring one source up to ``now``: finish its check, end its job, start due scheduled runs."""
    settle_check(state, source, now)
    connector = get_connector(source.type)
    selection = has_field_selection(connector)
    for _ in range(MAX_REPLAYED_RUNS):
        job = source.job
        fire = source.next_fire_at if schedulable(source, state) else None
        if job is not None and job.end_time <= now and (fire is None or job.end_time <= fire):
            jobs.settle_job(account, source, job, job.end_time, selection)
            continue
        if fire is not None and fire <= now:
            if job is None:
                jobs.start_job(account, source, fire, state.setting("phase_seconds"))
            source.next_fire_at = next_fire_after(source, fire)
            continue
        return
    # The clock jumped further than the replay limit: skip to the present.
    if source.job is not None and source.job.end_time <= now:
        jobs.settle_job(account, source, source.job, source.job.end_time, selection)
    reschedule(source, now, state)


def next_due(source: SourceRecord, state: EmulatorState) -> float | None:
    """When the source next needs settling: its check or job ends, or its schedule fires (None: never)."""
    times = []
    check = source.check
    if check is not None and not check.finished:
        times.append(check.started_at + check.duration)
    if source.job is not None:
        times.append(source.job.end_time)
    if source.next_fire_at is not None and schedulable(source, state):
        times.append(source.next_fire_at)
    return min(times) if times else None


def track(state: EmulatorState, account: AccountRecord, source: SourceRecord) -> None:
    """Queue the source for its next due time; call after anything that may bring that time forward.

    :param state: the emulator state holding the queue.
    :param account: the source's account.
    :param source: the source.
    """
    state.source_owners[source.id] = account
    due = next_due(source, state)
    if due is None or (source.due_at is not None and source.due_at <= due):
        # Nothing to wait for, or an entry that comes up no later is queued (it re-queues the source).
        return
    source.due_at = due
    state.wakeups.push(due, source.id)


def settle_due(state: EmulatorState, now: float) -> None:
    """Bring every source whose check, job or schedule came due by ``now`` up to ``now``.

    The cost follows the number of due sources, not the size of the accounts.
    """
    settled = []
    for due, source_id in state.wakeups.pop_due(now):
        account = state.source_owners.get(source_id)
        source = account.sources.get(source_id) if account is not None else None
        if account is None or source is None or source.due_at != due:
            continue  # superseded by a later entry, or the state was reset
        source.due_at = None
        actual = next_due(source, state)
        if actual is not None and actual <= now:
            # Entries outlive what they were queued for (settle_all, a stopped job): settle only if due.
            settle_source(state, account, source, now)
        settled.append((account, source))
    for account, source in settled:
        track(state, account, source)


def settle_destinations(account: AccountRecord, now: float) -> None:
    """Finish the connection checks of an account's destinations that are due."""
    for destination in account.destinations.values():
        settle_destination_check(destination, now)


def settle_all(state: EmulatorState, now: float) -> None:
    """Bring every source and destination of every account up to ``now`` (the control API's view)."""
    for account in list(state.accounts.values()):
        for source in account.sources.values():
            settle_source(state, account, source, now)
            track(state, account, source)
        settle_destinations(account, now)


def track_all(state: EmulatorState) -> None:
    """Queue every source again (after a setting changed what is schedulable)."""
    for account in list(state.accounts.values()):
        for source in account.sources.values():
            track(state, account, source)
