"""Simulated replication jobs: discovery, tap and target phases timed by the emulator clock."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from airflow_provider_stitch.emulator.catalog_streams import field_is_replicated
from airflow_provider_stitch.emulator.clock import iso
from airflow_provider_stitch.emulator.state import AccountRecord, JobRecord, SourceRecord, StreamRecord

PHASES = ("discovery", "tap", "target")
TERMINATED = "Terminated"
#: Extractions and loads older than this are no longer listed (seconds).
LISTING_HORIZON = 60 * 24 * 3600


def job_name(client_id: int, source_id: int, mode: str = "sync") -> str:
    """A job name like Stitch's: ``<client>.<source>.<mode>.<uuid>``."""
    return f"{client_id}.{source_id}.{mode}.{uuid.uuid1()}"


def tap_name(source_type: str) -> str:
    """The tap name Stitch reports as ``source_type`` in extraction rows (``tap-recurly``)."""
    return "tap-" + source_type.split(".")[-1].replace("_", "-")


def log_time(epoch: float) -> str:
    """A log-line timestamp: ``2017-11-17 16:44:41,159Z``."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S,") + f"{moment.microsecond // 1000:03d}Z"


def replicated_streams(source: SourceRecord, has_field_selection: bool) -> list[StreamRecord]:
    """Streams a job of this source replicates: the selected ones, or all when the type selects nothing."""
    streams = source.streams or []
    if not has_field_selection:
        return list(streams)
    return [stream for stream in streams if stream.selected]


def start_job(
    account: AccountRecord, source: SourceRecord, now: float, default_phases: dict[str, float]
) -> JobRecord:
    """Start a job now; one-shot scenario entries (failures, load errors) are used up by it.

    :param account: the source's account.
    :param source: the source.
    :param now: emulator time.
    :param default_phases: default durations per phase, overridden by the source's ``durations`` scenario.
    """
    durations = {phase: float(default_phases.get(phase, 0.0)) for phase in PHASES}
    durations.update({k: float(v) for k, v in (source.scenario.get("durations") or {}).items()})
    failure = source.scenario.pop("fail", None) or {}
    job = JobRecord(
        job_name=job_name(account.client_id, source.id),
        source_id=source.id,
        started_at=now,
        durations=durations,
        fail_phase=failure.get("phase"),
        fail_message=failure.get("message"),
        fail_exit_status=int(failure.get("exit_status", 1)),
        load_error=source.scenario.pop("load_error", None),
    )
    job.log_lines.append(f"{log_time(now)} main INFO Starting {job.job_name} for {source.type}")
    account.jobs[job.job_name] = job
    source.job = job
    return job


def phase_at(job: JobRecord, now: float) -> str:
    """The phase running at ``now`` (``discovery``, ``tap``, ``target``) or ``done``."""
    if job.stopped_at is not None and now >= job.stopped_at:
        return "done"
    boundary = job.started_at
    for phase in PHASES:
        boundary += job.durations[phase]
        if now < boundary:
            return phase
        if phase == job.fail_phase == "discovery":
            return "done"
    return "done"


def _exit_statuses(job: JobRecord) -> dict[str, tuple[int | None, str | None]]:
    """Exit status and description of each phase of a job that ran to its end."""
    outcome: dict[str, tuple[int | None, str | None]] = {phase: (0, None) for phase in PHASES}
    if job.fail_phase in PHASES:
        message = job.fail_message or f"the {job.fail_phase} phase failed"
        outcome[str(job.fail_phase)] = (job.fail_exit_status, message)
        if job.fail_phase == "discovery":
            outcome["tap"] = (None, None)
            outcome["target"] = (None, None)
    return outcome


def _extraction_row(
    account: AccountRecord, source: SourceRecord, job: JobRecord, end: float
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "job_name": job.job_name,
        "stitch_client_id": account.client_id,
        "source_id": source.id,
        "source_type": tap_name(source.type),
        "start_time": iso(job.started_at),
        "completion_time": iso(end),
    }
    if job.stopped_at is not None:
        for phase in PHASES:
            row[f"{phase}_exit_status"] = None
            row[f"{phase}_description"] = TERMINATED
        return row
    for phase, (status, description) in _exit_statuses(job).items():
        row[f"{phase}_exit_status"] = status
        row[f"{phase}_description"] = description
    return row


def load_error_state(message: str) -> dict[str, Any]:
    """An ``error_state`` object of a failed load, in the observed shape."""
    return {
        "notification_data": {
            "message": "load data into your data warehouse",
            "exception_message": "load data into your data warehouse",
            "warehouse_error_code": 500151,
            "error": "LOADER_WAREHOUSE_ERROR",
            "new_column": None,
            "status": "ERROR",
            "warehouse_sql_state": "HY000",
            "action": "load",
            "warehouse_message": message,
            "column": None,
        },
        "exception_chain": [
            {
                "class": "clojure.lang.ExceptionInfo",
                "message": "load data into your data warehouse",
                "chain_sequence_num": 0,
                "action": "load",
            }
        ],
    }


def _update_loads(
    account: AccountRecord, source: SourceRecord, job: JobRecord, end: float, has_field_selection: bool
) -> None:
    load_error = job.load_error or None
    failing = set(load_error.get("streams") or []) if load_error else set()
    for stream in replicated_streams(source, has_field_selection):
        key = (source.name, stream.stream_name)
        fails = load_error is not None and (not failing or stream.stream_name in failing)
        fields = sum(1 for meta in stream.field_metadata.values() if field_is_replicated(meta))
        if fails and load_error is not None:
            message = str(load_error.get("message") or "the warehouse rejected the load")
            account.loads[key] = {
                "stitch_client_id": account.client_id,
                "source_name": source.name,
                "stream_name": stream.stream_name,
                "last_batch_loaded_at": None,
                "error_state": load_error_state(message),
                "_time": end,
            }
            job.log_lines.append(
                f"{log_time(end)} target ERROR loading {stream.stream_name} failed: {message}"
            )
        else:
            account.loads[key] = {
                "stitch_client_id": account.client_id,
                "source_name": source.name,
                "stream_name": stream.stream_name,
                "last_batch_loaded_at": iso(end),
                "error_state": None,
                "_time": end,
            }
            job.log_lines.append(
                f"{log_time(end)} target INFO loaded {stream.stream_name} ({fields} replicated fields)"
            )


def settle_job(
    account: AccountRecord, source: SourceRecord, job: JobRecord, end: float, has_field_selection: bool
) -> None:
    """Record a finished or stopped job: replace the source's extraction row, update loads, write logs.

    :param account: the source's account.
    :param source: the source.
    :param job: the job that ended.
    :param end: emulator time it ended.
    :param has_field_selection: the source type selects streams (else every discovered stream is loaded).
    """
    if job.settled:
        return
    job.settled = True
    row = _extraction_row(account, source, job, end)
    account.extractions[source.id] = {**row, "_time": end}
    if job.stopped_at is None:
        phase_end = job.started_at
        for phase in PHASES:
            phase_end += job.durations[phase]
            status = row[f"{phase}_exit_status"]
            if status is None:
                continue
            level = "INFO" if status == 0 else "ERROR"
            where = "target" if phase == "target" else "tap"
            detail = row[f"{phase}_description"] or "finished"
            job.log_lines.append(
                f"{log_time(min(phase_end, end))} {where} {level} {phase} exited with {status}: {detail}"
            )
        if row["tap_exit_status"] == 0 and row["target_exit_status"] == 0:
            for stream in replicated_streams(source, has_field_selection):
                job.log_lines.append(
                    f"{log_time(end)} tap INFO replicated {stream.stream_metadata.get('row-count', 25)} "
                    f'records from "{stream.stream_name}" endpoint'
                )
            _update_loads(account, source, job, end, has_field_selection)
    else:
        job.log_lines.append(f"{log_time(end)} main INFO job stopped on request: {TERMINATED}")
    job.log_lines.append(f"{log_time(end)} main INFO {job.job_name} finished")
    if source.job is job:
        source.job = None


def stop_job(
    account: AccountRecord, source: SourceRecord, job: JobRecord, now: float, has_field_selection: bool
) -> None:
    """Stop a running job now; its extraction row reads ``Terminated``."""
    job.stopped_at = now
    settle_job(account, source, job, now, has_field_selection)
