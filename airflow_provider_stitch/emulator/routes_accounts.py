"""Partner endpoints (account creation, the OAuth code exchange and consent page) and sessions."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from airflow_provider_stitch.emulator.responses import ApiAnswer, json_answer
from airflow_provider_stitch.emulator.runtime import authenticate, read_json, runtime_of
from airflow_provider_stitch.emulator.state import AccountRecord, new_access_token

router = APIRouter()

ACCOUNT_FIELDS = ("partner_id", "partner_secret", "first_name", "last_name", "company", "email", "region")
REGIONS = ("us-east-1", "eu-central-1")
#: Seconds an authorisation code stays valid (emulator time).
CODE_LIFETIME = 300.0
DEFAULT_REDIRECT = "http://127.0.0.1/stitch-callback"


def _bad_request(errors: dict[str, str]) -> ApiAnswer:
    return ApiAnswer(
        json_answer({"code": "BadRequest", "message": "Invalid form data.", "errors": errors}, 400)
    )


@router.post("/v3/accounts")
async def create_account(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await read_json(request)
    with runtime.state.lock:
        if not isinstance(body, dict):
            raise _bad_request({})
        if body.get("partner_id") != runtime.settings.partner_id:
            raise _bad_request({"partner_id": "required"})
        if not secrets.compare_digest(
            str(body.get("partner_secret", "")), str(runtime.settings.partner_secret)
        ):
            raise _bad_request({"partner_secret": "required"})
        missing = {
            name: "required"
            for name in ACCOUNT_FIELDS
            if not isinstance(body.get(name), str) or not body[name]
        }
        if missing or body["region"] not in REGIONS:
            raise _bad_request(missing)
        email = body["email"].strip().lower()
        if any((a.email or "").lower() == email for a in runtime.state.accounts.values()):
            raise ApiAnswer(
                json_answer(
                    {
                        "code": "ExistingUser",
                        "message": "This email address is already associated with an active user.",
                    },
                    400,
                )
            )
        account = runtime.state.add_account(
            AccountRecord(
                client_id=runtime.state.next_id("client"),
                token=new_access_token(),
                email=email,
                first_name=body["first_name"],
                last_name=body["last_name"],
                company=body["company"],
                region=body["region"],
            )
        )
        return json_answer({"access_token": account.token, "stitch_account_id": account.client_id})


@router.get("/oauth/authorization")
async def authorize(request: Request) -> Response:
    """The consent page, approved at once: redirects to ``redirect_uri`` with a single-use code."""
    runtime = runtime_of(request)
    params = request.query_params
    if params.get("client_id") != runtime.settings.partner_id:
        return json_answer({"error": "invalid_client"}, 400)
    redirect_uri = params.get("redirect_uri") or DEFAULT_REDIRECT
    email = (params.get("email") or "").strip().lower()
    with runtime.state.lock:
        account = next(
            (a for a in runtime.state.accounts.values() if email and (a.email or "") == email), None
        )
        if account is None and email:
            account = runtime.state.add_account(
                AccountRecord(
                    client_id=runtime.state.next_id("client"), token=new_access_token(), email=email
                )
            )
        if account is None:
            account = next(iter(runtime.state.accounts.values()))
        code = secrets.token_urlsafe(16)
        runtime.state.oauth_codes[code] = (account.client_id, runtime.clock.now() + CODE_LIFETIME)
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode({'code': code})}", status_code=302)


@router.post("/oauth/token")
async def exchange_code(request: Request) -> Response:
    runtime = runtime_of(request)
    form = {
        key: values[-1] for key, values in parse_qs((await request.body()).decode("utf-8", "replace")).items()
    }
    with runtime.state.lock:
        if form.get("grant_type") != "authorization_code":
            return json_answer({"error": "unsupported_grant_type"}, 400)
        secret = str(form.get("client_secret") or "")
        if not secrets.compare_digest(secret, str(runtime.settings.partner_secret)):
            return json_answer({"error": "invalid_client"}, 401)
        entry = runtime.state.oauth_codes.pop(str(form.get("code") or ""), None)
        if entry is None or entry[1] < runtime.clock.now():
            return json_answer({"error": "invalid_grant"}, 400)
        account = runtime.state.account_by_client_id(entry[0])
        if account is None:
            return json_answer({"error": "invalid_grant"}, 400)
        return json_answer(
            {"token_type": "bearer", "access_token": account.token, "stitch_account_id": account.client_id}
        )


@router.post("/v3/sessions/ephemeral")
async def create_ephemeral_session(request: Request) -> Response:
    authenticate(request)
    return json_answer({"ephemeral_token": secrets.token_urlsafe(24)})
