"""Replication jobs (start, stop) and the rate-limited Jobs endpoints: extractions, logs, loads."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from airflow_provider_stitch.connectors import get_connector
from airflow_provider_stitch.emulator import jobs
from airflow_provider_stitch.emulator.lifecycle import has_field_selection, track
from airflow_provider_stitch.emulator.responses import (
    encode_json,
    encoded_answer,
    job_error,
    json_answer,
    json_array,
    not_found,
    unauthorized,
)
from airflow_provider_stitch.emulator.runtime import authenticate, runtime_of
from airflow_provider_stitch.emulator.state import AccountRecord

router = APIRouter()
#: The rate-limited Jobs endpoints (extractions, extraction logs, loads); the emulator counts and limits
#: requests by matching these routes, never the client's endpoint table.
jobs_router = APIRouter()

PAGE_SIZE = 100
#: Where extraction logs are served; the 302 of the logs endpoint points here.
LOGS_PREFIX = "/__logs__"


def _source_for_sync(account: AccountRecord, source_id: str) -> Any:
    source = account.sources.get(int(source_id)) if source_id.isdigit() else None
    if source is None:
        raise job_error(
            "invalid_source", f"Unable to locate source({source_id}) for client ({account.client_id})"
        )
    if source.deleted_at is not None:
        raise job_error("invalid_source", "Integration is deleted.")
    return source


@router.post("/v4/sources/{source_id}/sync")
async def start_sync(source_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    with runtime.state.lock:
        source = _source_for_sync(account, source_id)
        if source.job is not None:
            return json_answer(
                {
                    "error": {
                        "type": "already_running",
                        "message": f"Did not create job for client-id: {account.client_id}; "
                        f"connection-id: {source.id} because one already exists",
                    }
                }
            )
        if source.step != "fully_configured":
            raise job_error(
                "generic",
                f"Could not create job for client-id: {account.client_id}; connection-id: {source.id} "
                f"(the source is not fully configured; it is at {source.step})",
            )
        job = jobs.start_job(account, source, now, runtime.state.setting("phase_seconds"))
        track(runtime.state, account, source)
        return json_answer({"job_name": job.job_name})


@router.delete("/v4/sources/{source_id}/sync")
async def stop_sync(source_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    with runtime.state.lock:
        source = _source_for_sync(account, source_id)
        if source.job is not None:
            jobs.stop_job(account, source, source.job, now, has_field_selection(get_connector(source.type)))
        return json_answer({"status": 200})


def _jobs_account(request: Request, client_id: str) -> tuple[AccountRecord, float]:
    _, account, now = authenticate(request)
    if not client_id.isdigit() or int(client_id) != account.client_id:
        raise unauthorized("this access token does not belong to that client id")
    return account, now


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and int(raw) >= 1 else 1


def page_envelope(rows: list[bytes], total: int, page: int, path: str) -> bytes:
    """The Jobs page envelope: the page's encoded rows, total, and relative ``next``/``previous`` links."""
    start = (page - 1) * PAGE_SIZE
    links: dict[str, str] = {}
    if total > PAGE_SIZE:
        if start + PAGE_SIZE < total:
            links["next"] = f"{path}?page={page + 1}"
        if page > 1:
            links["previous"] = f"{path}?page={page - 1}"
    rest = encode_json({"page": page, "total": total, "links": links})
    return b'{"data":' + json_array(rows) + b"," + rest[1:]


def _listing(request: Request, client_id: str, which: str) -> Response:
    account, now = _jobs_account(request, client_id)
    page = _page_number(request)
    table = account.extractions if which == "extractions" else account.loads
    with runtime_of(request).state.lock:
        rows, total = table.page(page, PAGE_SIZE, listed_after=now - jobs.LISTING_HORIZON)
    return encoded_answer(page_envelope(rows, total, page, request.url.path))


@jobs_router.get("/v4/{client_id}/extractions")
async def list_extractions(client_id: str, request: Request) -> Response:
    return _listing(request, client_id, "extractions")


@jobs_router.get("/v4/{client_id}/loads")
async def list_loads(client_id: str, request: Request) -> Response:
    return _listing(request, client_id, "loads")


@jobs_router.get("/v4/{client_id}/extractions/{job_name}")
async def extraction_logs(client_id: str, job_name: str, request: Request) -> Response:
    account, _ = _jobs_account(request, client_id)
    runtime = runtime_of(request)
    job = account.jobs.get(job_name)
    if job is None:
        raise not_found(f"no extraction job {job_name}")
    signature = secrets.token_hex(12)
    runtime.state.log_signatures[signature] = (account.client_id, job_name)
    location = f"{str(request.base_url).rstrip('/')}{LOGS_PREFIX}/{job_name}?signature={signature}"
    return Response(status_code=302, headers={"Location": location, "Content-Length": "0"})


@router.get(LOGS_PREFIX + "/{job_name}")
async def download_logs(job_name: str, request: Request) -> Response:
    if "authorization" in request.headers:
        return PlainTextResponse(
            "only one authentication mechanism is allowed: the signed URL already authorises this "
            "download, so send no Authorization header",
            status_code=400,
        )
    runtime = runtime_of(request)
    owner = runtime.state.log_signatures.get(request.query_params.get("signature", ""))
    if owner is None or owner[1] != job_name:
        return PlainTextResponse("the signature of this log URL is missing or not valid", status_code=403)
    account = runtime.state.account_by_client_id(owner[0])
    job = account.jobs.get(job_name) if account is not None else None
    if job is None:
        return PlainTextResponse("no such log file", status_code=404)
    return PlainTextResponse("\n".join(job.log_lines) + "\n")
