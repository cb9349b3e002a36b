"""Read-only HTML pages of the emulator, where a task's links point when its connection is on the emulator.

* ``/_emulator/sources/{source_id}``: the source, its report card, streams, recent extractions and loads.
* ``/_emulator/extractions/{source_id}/{job_name}/logs``: one extraction's log text.
* ``/_emulator/destinations/{destination_id}``: the destination, its last connection check, its properties
  and the sources that load into it.

Plain server-rendered HTML, no script: every name, message and log line is user data and is escaped,
and the Content-Security-Policy forbids scripts besides. Credential values are never shown: the pages show
the values the API shows, and a destination's page names its credential properties without their values.
The pages need no token, are not counted as API requests and no arranged fault applies to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse

from airflow_provider_stitch.connectors import credential_properties
from airflow_provider_stitch.emulator import jobs
from airflow_provider_stitch.emulator.clock import iso
from airflow_provider_stitch.emulator.lifecycle import (
    check_json,
    schedule_json,
    settle_destination_check,
    settle_due,
)
from airflow_provider_stitch.emulator.runtime import runtime_of
from airflow_provider_stitch.emulator.state import (
    AccountRecord,
    DestinationRecord,
    EmulatorState,
    JobRecord,
    SourceRecord,
)
from airflow_provider_stitch.emulator.views import source_json, visible_properties

PAGES_PREFIX = "/_emulator"
router = APIRouter(prefix=PAGES_PREFIX)

#: How many of a source's most recent extractions its page lists.
RECENT_EXTRACTIONS = 10
#: No script, no frames, no requests to anywhere; inline styles only.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}pre{background:#f7f7f7;padding:1em;white-space:pre-wrap}.note{color:#666}"
)


def source_page_path(source_id: int) -> str:
    """The path of a source's page."""
    return f"{PAGES_PREFIX}/sources/{source_id}"


def logs_page_path(source_id: int, job_name: str) -> str:
    """The path of an extraction's log page."""
    return f"{PAGES_PREFIX}/extractions/{source_id}/{quote(job_name, safe='')}/logs"


def destination_page_path(destination_id: int) -> str:
    """The path of a destination's page."""
    return f"{PAGES_PREFIX}/destinations/{destination_id}"


def _text(value: Any) -> str:
    """A value as escaped HTML text (None as a dash)."""
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """A table of already-escaped cells, or a note when there are no rows."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="note">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A whole HTML document; ``title`` is plain text, ``body`` already-escaped HTML."""
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · Stitch emulator</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(document, status_code=status, headers=headers)


def _not_found(message: str) -> HTMLResponse:
    return _page("Not found", f"<h1>Not found</h1><p>{escape(message)}</p>", status=404)


def _find(request: Request, source_id: str) -> tuple[AccountRecord, SourceRecord, float] | None:
    """The source (of any account) brought up to now, with its account and the emulator time."""
    if not source_id.isdigit():
        return None
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.state.lock:
        settle_due(runtime.state, now)
        found = runtime.state.find_source(int(source_id))
    return (found[0], found[1], now) if found is not None else None


def _find_destination(
    request: Request, destination_id: str
) -> tuple[AccountRecord, DestinationRecord] | None:
    """The destination (of any account) with its account."""
    if not destination_id.isdigit():
        return None
    state = runtime_of(request).state
    with state.lock:
        for account in state.accounts.values():
            destination = account.destinations.get(int(destination_id))
            if destination is not None:
                return account, destination
    return None


def job_outcome(job: JobRecord, now: float) -> str:
    """A job's state in words: running (and its phase), stopped, failed in a phase, or succeeded."""
    if not job.settled:
        return f"running ({jobs.phase_at(job, now)})"
    if job.stopped_at is not None:
        return "stopped on request"
    if job.fail_phase is not None:
        return f"failed in {job.fail_phase}: {job.fail_message or 'the phase exited with an error'}"
    return "succeeded"


def _summary(source: SourceRecord, account: AccountRecord, now: float, state: EmulatorState) -> str:
    schedule = schedule_json(source, state)
    if schedule is None:
        planned = "none (paused or deleted)"
    elif schedule["type"] == "cron":
        planned = f"cron {schedule['cron_expression']}, next run {schedule['next_fire_time'] or 'none'}"
    else:
        planned = (
            f"every {int(schedule['interval'])} minutes, next run {schedule['next_fire_time'] or 'none'}"
        )
    rows = [
        ("Source id", source.id),
        ("Type", source.type),
        ("Name (destination schema)", source.name),
        ("Account (client id)", account.client_id),
        ("Set-up step", source.step),
        ("Paused at", source.paused_at),
        ("Deleted at", iso(source.deleted_at)),
        ("Schedule", planned),
        ("Last connection check", _check_text(check_json(source.check, now))),
        ("Created", iso(source.created_at)),
        ("Updated", iso(source.updated_at)),
    ]
    return _table(("", ""), [(escape(label), _text(value)) for label, value in rows], "")


def _report_card(card: dict[str, Any]) -> str:
    current = card["current_step_type"]
    rows = []
    for step in card["steps"]:
        marker = " (current)" if step["type"] == current else ""
        properties = ", ".join(
            f"{prop['name']}{' *' if prop['is_required'] else ''}{' ✓' if prop['provided'] else ''}"
            for prop in step["properties"]
        )
        rows.append((_text(step["type"] + marker), _text(properties or None)))
    legend = '<p class="note">* required, ✓ provided</p>'
    return _table(("Step", "Properties"), rows, "No steps.") + legend


def _properties(shown: dict[str, Any]) -> str:
    rows = [(_text(name), _text(value)) for name, value in shown.items()]
    return _table(("Property", "Value"), rows, "No properties are set (credentials are never shown).")


def _streams(source: SourceRecord) -> str:
    rows = []
    for stream in source.streams or []:
        meta = stream.stream_metadata
        method = meta.get("replication-method") or meta.get("forced-replication-method")
        selected = (
            "never selected"
            if stream.selected is None
            else ("selected" if stream.selected else "not selected")
        )
        rows.append(
            (
                _text(stream.stream_name),
                _text(stream.tap_stream_id),
                _text(selected),
                _text(method),
                _text(meta.get("replication-key")),
            )
        )
    return _table(
        ("Stream", "tap_stream_id", "Selection", "Replication method", "Replication key"),
        rows,
        "No streams discovered yet.",
    )


def _extractions(source: SourceRecord, account: AccountRecord, now: float) -> str:
    runs = [job for job in account.jobs.values() if job.source_id == source.id]
    runs.sort(key=lambda job: job.started_at, reverse=True)
    rows = []
    for job in runs[:RECENT_EXTRACTIONS]:
        ended = job.stopped_at if job.stopped_at is not None else (job.end_time if job.settled else None)
        link = f'<a href="{_text(logs_page_path(source.id, job.job_name))}">logs</a>'
        rows.append(
            (
                _text(job.job_name),
                _text(iso(job.started_at)),
                _text(iso(ended)),
                _text(job_outcome(job, now)),
                link,
            )
        )
    return _table(("Job", "Started", "Ended", "Outcome", ""), rows, "No extraction has run yet.")


def _loads(source: SourceRecord, account: AccountRecord) -> str:
    rows = []
    for row in account.loads.values():
        if row["source_name"] != source.name:
            continue
        error = row.get("error_state") or {}
        message = (error.get("notification_data") or {}).get("warehouse_message") if error else None
        rows.append((_text(row["stream_name"]), _text(row["last_batch_loaded_at"]), _text(message)))
    return _table(
        ("Stream", "Last batch loaded at", "Warehouse error"), rows, "No load has been reported yet."
    )


def _check_text(check: dict[str, Any] | None) -> str:
    """A connection check's state in words, with the error message of a failed one."""
    if check is None:
        return "none yet"
    text = str(check["status"])
    if check["discovery_error_message"]:
        text += f": {check['discovery_error_message']}"
    return text


def _destination_summary(destination: DestinationRecord, account: AccountRecord, now: float) -> str:
    rows = [
        ("Destination id", destination.id),
        ("Type", destination.type),
        ("Name", destination.name),
        ("Description", destination.description),
        ("Account (client id)", account.client_id),
        ("Last connection check", _check_text(check_json(destination.check, now))),
        ("Created", iso(destination.created_at)),
        ("Updated", iso(destination.updated_at)),
    ]
    return _table(("", ""), [(escape(label), _text(value)) for label, value in rows], "")


def _destination_properties(destination: DestinationRecord) -> str:
    """Every property set: a value where the API shows it, only the name for a credential."""
    shown = visible_properties(destination.type, destination.properties)
    credentials = credential_properties(destination.type)
    rows = []
    for name in sorted(destination.properties):
        if name in credentials:
            rows.append((_text(name), '<span class="note">credential, not shown</span>'))
        elif name in shown:
            rows.append((_text(name), _text(shown[name])))
    return _table(("Property", "Value"), rows, "No properties are set.")


def _loading_sources(destination: DestinationRecord, account: AccountRecord) -> str:
    """The account's live sources that load into this destination, each linked to its page."""
    rows = []
    for source in account.sources.values():
        if source.deleted_at is not None or source.destination_id not in (None, destination.id):
            continue
        link = f'<a href="{_text(source_page_path(source.id))}">{_text(source.display_name)}</a>'
        rows.append((link, _text(source.type), _text(source.step)))
    return _table(("Source", "Type", "Set-up step"), rows, "No source loads into this destination yet.")


@router.get("/sources/{source_id}")
async def source_page(source_id: str, request: Request) -> HTMLResponse:
    """A source as a person reads it: set-up, report card, streams, recent extractions and loads."""
    found = _find(request, source_id)
    if found is None:
        return _not_found(f"This emulator has no source {source_id}.")
    account, source, now = found
    state = runtime_of(request).state
    with state.lock:
        shown = source_json(source, account, state)
        body = (
            f"<h1>{_text(source.display_name)}</h1>"
            f'<p class="note">Stitch emulator · emulator time {_text(iso(now))} · read-only</p>'
            f"{_summary(source, account, now, state)}"
            f"<h2>Report card</h2>{_report_card(shown['report_card'])}"
            f"<h2>Properties</h2>{_properties(shown['properties'])}"
            f"<h2>Streams</h2>{_streams(source)}"
            f"<h2>Recent extractions</h2>{_extractions(source, account, now)}"
            f"<h2>Loads</h2>{_loads(source, account)}"
        )
    return _page(f"{source.display_name} (source {source.id})", body)


@router.get("/extractions/{source_id}/{job_name}/logs")
async def logs_page(source_id: str, job_name: str, request: Request) -> HTMLResponse:
    """The log text of one extraction of a source."""
    found = _find(request, source_id)
    job = found[0].jobs.get(job_name) if found is not None else None
    if found is None or job is None or job.source_id != found[1].id:
        return _not_found(f"Source {source_id} has no extraction {job_name}.")
    account, source, now = found
    back = f'<a href="{_text(source_page_path(source.id))}">{_text(source.display_name)}</a>'
    body = (
        f"<h1>Extraction logs</h1>"
        f"<p>{_text(job.job_name)} of {back} · {_text(job_outcome(job, now))}</p>"
        f"<pre>{_text(chr(10).join(job.log_lines))}</pre>"
    )
    return _page(f"Logs of {job.job_name}", body)


@router.get("/destinations/{destination_id}")
async def destination_page(destination_id: str, request: Request) -> HTMLResponse:
    """A destination as a person reads it: what it is, its last check, its properties, what loads into it."""
    found = _find_destination(request, destination_id)
    if found is None:
        return _not_found(f"This emulator has no destination {destination_id}.")
    account, destination = found
    runtime = runtime_of(request)
    now = runtime.clock.now()
    with runtime.state.lock:
        settle_destination_check(destination, now)
        body = (
            f"<h1>{_text(destination.name)}</h1>"
            f'<p class="note">Stitch emulator · emulator time {_text(iso(now))} · read-only</p>'
            f"{_destination_summary(destination, account, now)}"
            f"<h2>Properties</h2>{_destination_properties(destination)}"
            f"<h2>Sources loading here</h2>{_loading_sources(destination, account)}"
        )
    return _page(f"{destination.name} (destination {destination.id})", body)
