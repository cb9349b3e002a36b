"""Notifications: custom email recipients and post-load hooks."""

from __future__ import annotations

import re

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from airflow_provider_stitch.emulator.clock import parse_timestamp
from airflow_provider_stitch.emulator.responses import ApiAnswer, json_answer, message_error, source_error
from airflow_provider_stitch.emulator.runtime import authenticate, read_json
from airflow_provider_stitch.emulator.state import CustomEmailRecord, HookRecord
from airflow_provider_stitch.emulator.views import custom_email_json, hook_json

#: Where Stitch serves the notifications API (the emulator's own copy of the documented path).
NOTIFICATIONS_PREFIX = "/notifications/public/v1/api"
router = APIRouter(prefix=NOTIFICATIONS_PREFIX)

CUSTOM_EMAIL_LIMIT = 10
HOOK_LIMIT = 10
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NOT_FOUND_BODY = {"status": "NOT FOUND"}


def _custom_email_id(value: str) -> int:
    if not value.isdigit():
        raise ApiAnswer(json_answer(NOT_FOUND_BODY, 404))
    return int(value)


@router.get("/custom-emails")
async def list_custom_emails(request: Request) -> Response:
    _, account, _ = authenticate(request)
    return json_answer([custom_email_json(r, account) for r in account.custom_emails.values()])


@router.post("/custom-emails")
async def create_custom_email(request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        if not runtime.state.setting("custom_emails_enabled"):
            raise message_error("Account not authorized to create custom notification email addresses.")
        address = body.get("email_address") if isinstance(body, dict) else None
        if not isinstance(address, str) or not EMAIL_PATTERN.match(address):
            raise message_error({"email_address": "Required. Must be valid email address format."})
        if len(account.custom_emails) >= CUSTOM_EMAIL_LIMIT:
            raise message_error(
                "Account not authorized to create additional custom notification email addresses."
            )
        record = CustomEmailRecord(
            id=runtime.state.next_id("custom_email"), email_address=address, created_at=now, modified_at=now
        )
        account.custom_emails[record.id] = record
        return json_answer(custom_email_json(record, account))


@router.put("/custom-emails/{custom_email_id}")
async def update_custom_email(custom_email_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        record = account.custom_emails.get(_custom_email_id(custom_email_id))
        if record is None:
            raise ApiAnswer(json_answer(NOT_FOUND_BODY, 404))
        if not isinstance(body, dict) or set(body) != {"disabled_at"}:
            shown = body.get("disabled_at") if isinstance(body, dict) else None
            raise ApiAnswer(json_answer({"disabled_at": shown}, 400))
        value = body["disabled_at"]
        if value is not None and parse_timestamp(value) is None:
            raise ApiAnswer(json_answer({"disabled_at": value}, 400))
        record.disabled_at = value
        record.modified_at = now
        return json_answer({"disabled_at": value})


@router.delete("/custom-emails/{custom_email_id}")
async def delete_custom_email(custom_email_id: str, request: Request) -> Response:
    runtime, account, _ = authenticate(request)
    with runtime.state.lock:
        if account.custom_emails.pop(_custom_email_id(custom_email_id), None) is None:
            raise ApiAnswer(json_answer(NOT_FOUND_BODY, 404))
        return json_answer([1])


@router.get("/hooks")
async def list_hooks(request: Request) -> Response:
    _, account, _ = authenticate(request)
    return json_answer({"post_load": [hook_json(r, account) for r in account.hooks.values()]})


@router.post("/hooks")
async def create_hook(request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        if not runtime.state.setting("hooks_enabled"):
            raise message_error("Client does not have access to hooks.")
        config = body.get("config") if isinstance(body, dict) else None
        destination_id = body.get("destination_id") if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or set(body) - {"type", "destination_id", "config"}
            or body.get("type") != "post_load"
            or not isinstance(config, dict)
            or set(config) - {"url"}
            or not isinstance(config.get("url"), str)
            or not config["url"].strip()
            or (
                destination_id is not None
                and (isinstance(destination_id, bool) or not isinstance(destination_id, int))
            )
        ):
            raise source_error("InvalidBody", "Invalid POST body")
        if len(account.hooks) >= HOOK_LIMIT:
            raise message_error(f"You have exceeded the limit of {HOOK_LIMIT} hooks.")
        record = HookRecord(
            id=runtime.state.next_id("hook"),
            url=config["url"],
            destination_id=destination_id,
            created_at=now,
            modified_at=now,
        )
        account.hooks[record.id] = record
        return json_answer(hook_json(record, account))


@router.put("/hooks/{hook_id}")
async def update_hook(hook_id: str, request: Request) -> Response:
    runtime, account, now = authenticate(request)
    body = await read_json(request)
    with runtime.state.lock:
        record = account.hooks.get(int(hook_id)) if hook_id.isdigit() else None
        if record is None:
            raise ApiAnswer(json_answer({"error": "NotFound"}, 404))
        if not isinstance(body, dict) or set(body) != {"enable"} or not isinstance(body["enable"], bool):
            raise source_error("InvalidBody", "PUT body must only contain boolean 'enable' key")
        record.disabled_at = None if body["enable"] else now
        record.modified_at = now
        return json_answer(hook_json(record, account))


@router.delete("/hooks/{hook_id}")
async def delete_hook(hook_id: str, request: Request) -> Response:
    runtime, account, _ = authenticate(request)
    with runtime.state.lock:
        removed = account.hooks.pop(int(hook_id), None) if hook_id.isdigit() else None
        if removed is None:
            raise ApiAnswer(json_answer({"error": "NotFound"}, 400))
        return json_answer(None)
