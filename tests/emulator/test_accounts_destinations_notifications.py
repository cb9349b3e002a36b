"""Accounts, OAuth, sessions, destinations (v4 and v3), notifications and Import API tokens."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.models import CustomEmail, Destination, PostLoadHook
from airflow_provider_stitch.emulator import StitchEmulator

PG_DESTINATION = {
    "host": "warehouse",
    "port": "5432",
    "username": "stitch",
    "database": "analytics",
    "password": "dest-secret",
    "ssl": False,
}
ACCOUNT = {
    "first_name": "Stitch",
    "last_name": "Tester",
    "company": "Example",
    "region": "us-east-1",
    "email": "tester@example.com",
}


def test_partner_creates_account_with_its_own_token(emu: StitchEmulator) -> None:
    body = {"partner_id": emu.partner_id, "partner_secret": emu.partner_secret, **ACCOUNT}
    created = httpx.post(f"{emu.base_url}/v3/accounts", json=body).json()
    assert created["access_token"].startswith("ac_") and created["stitch_account_id"] != emu.client_id
    headers = {"Authorization": f"Bearer {created['access_token']}"}
    assert httpx.get(f"{emu.base_url}/v4/sources", headers=headers).json() == []
    again = httpx.post(f"{emu.base_url}/v3/accounts", json=body)
    assert again.json() == {
        "code": "ExistingUser",
        "message": "This email address is already associated with an active user.",
    }


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"partner_id": "oc_other"}, {"partner_id": "required"}),
        ({"partner_secret": "x"}, {"partner_secret": "required"}),
    ],
)
def test_account_partner_errors(emu: StitchEmulator, change: dict, errors: dict) -> None:
    body = {"partner_id": emu.partner_id, "partner_secret": emu.partner_secret, **ACCOUNT, **change}
    response = httpx.post(f"{emu.base_url}/v3/accounts", json=body)
    assert (response.status_code, response.json()) == (
        400,
        {"code": "BadRequest", "message": "Invalid form data.", "errors": errors},
    )
    malformed = httpx.post(f"{emu.base_url}/v3/accounts", content=b"nope")
    assert malformed.json()["errors"] == {}


def test_oauth_code_exchange(emu: StitchEmulator, client: StitchClient) -> None:
    consent = httpx.get(
        f"{emu.base_url}/oauth/authorization",
        params={"client_id": emu.partner_id, "redirect_uri": "http://127.0.0.1:9/cb"},
    )
    assert consent.status_code == 302
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    token = client.exchange_oauth_code(code, emu.partner_secret)
    assert (token.token_type, token.access_token, token.stitch_account_id) == (
        "bearer",
        emu.token,
        emu.client_id,
    )
    reused = httpx.post(
        f"{emu.base_url}/oauth/token",
        data={"code": code, "client_secret": emu.partner_secret, "grant_type": "authorization_code"},
    )
    assert reused.json() == {"error": "invalid_grant"}


def test_ephemeral_session(client: StitchClient, emu: StitchEmulator) -> None:
    assert client.create_ephemeral_session().ephemeral_token
    assert httpx.post(f"{emu.base_url}/v3/sessions/ephemeral").status_code == 401


def test_destination_crud(emu: StitchEmulator, client: StitchClient, http: httpx.Client) -> None:
    created = http.post(
        "/v4/destinations",
        json={"type": "postgres", "name": "Staging", "description": "staging", "properties": PG_DESTINATION},
    ).json()
    destination = Destination.model_validate(created)
    assert "password" not in destination.properties
    assert destination.properties["ssl"] == "false" and destination.properties["encryption_type"] == "none"
    assert destination.report_card.current_step_type == "fully_configured"
    limit = http.post("/v4/destinations", json={"type": "postgres", "properties": PG_DESTINATION})
    assert (limit.status_code, limit.json()) == (400, "you are at your destination limit")
    updated = client.update_destination(destination.id, properties={"username": "stitch_admin"})
    assert updated.properties["username"] == "stitch_admin"
    retype = http.put(f"/v4/destinations/{destination.id}", json={"type": "redshift", "properties": {}})
    assert retype.json() == "this API endpoint does not support modifying destination type"
    assert http.put("/v4/destinations/5", json={"properties": {}}).json() == "invalid connection id"
    emu.control.advance(5)
    assert client.get_destination_last_connection_check(destination.id).status == "succeeded"
    assert [d.id for d in client.list_destinations()] == [destination.id]
    assert http.get("/v4/destinations", params={"page": "2"}).json() == (
        "GET may only include the params: source_id and/or destination_id"
    )
    assert http.delete(f"/v4/destinations/{destination.id}").json() == {}
    again = http.delete(f"/v4/destinations/{destination.id}")
    assert again.json() == f"Unable to locate dest ({destination.id}) for client (116078) to delete"
    assert http.delete("/v4/destinations/abc").status_code == 404


def test_destination_body_errors_and_v3(http: httpx.Client, emu: StitchEmulator) -> None:
    bad = http.post("/v4/destinations", json={"type": "postgres", "properties": {}, "color": 1})
    assert bad.json() == (
        "POST body may only include a type, a name, a description, map of properties, and boolean for unmapped sources"
    )
    v3_bad = http.post("/v3/destinations", json={"type": "bigquery_v2", "connection": {}})
    assert v3_bad.json() == (
        "body must be a map with type = redshift, postgres, or snowflake. required-keys = type, connection"
    )
    v3 = http.post("/v3/destinations", json={"type": "postgres", "connection": PG_DESTINATION}).json()
    assert "last_check" in v3 and "password" not in v3["connection"]
    assert len(http.get("/v3/destinations").json()) == 1
    path = f"/v3/destinations/{v3['id']}"
    changed = http.put(path, json={"connection": {"username": "stitch_admin"}})
    assert changed.status_code == 200 and changed.json()["connection"]["username"] == "stitch_admin"
    assert http.put(path, json={"type": "redshift"}).json() == (
        "this API endpoint does not support modifying destination type"
    )
    assert http.put(path, json={"connection": "x"}).json() == v3_bad.json()
    assert http.put("/v3/destinations/5", json={"connection": {}}).json() == "invalid connection id"


def test_custom_emails(client: StitchClient, http: httpx.Client) -> None:
    email = client.create_custom_email("ops@example.com")
    assert isinstance(email, CustomEmail) and email.client_id == 116078
    invalid = http.post("/notifications/public/v1/api/custom-emails", json={"email_address": "nope"})
    assert invalid.json() == {
        "error": {"message": {"email_address": "Required. Must be valid email address format."}}
    }
    for index in range(9):
        client.create_custom_email(f"ops{index}@example.com")
    limit = http.post("/notifications/public/v1/api/custom-emails", json={"email_address": "x@example.com"})
    assert limit.json() == {
        "error": {
            "message": "Account not authorized to create additional custom notification email addresses."
        }
    }
    disabled = http.put(
        f"/notifications/public/v1/api/custom-emails/{email.id}", json={"disabled_at": "2019-06-01T00:00:00Z"}
    )
    assert disabled.json() == {"disabled_at": "2019-06-01T00:00:00Z"}
    assert client.enable_custom_email(email.id).disabled_at is None
    bad_value = http.put(
        f"/notifications/public/v1/api/custom-emails/{email.id}", json={"disabled_at": "soon"}
    )
    assert (bad_value.status_code, bad_value.json()) == (400, {"disabled_at": "soon"})
    missing = http.put("/notifications/public/v1/api/custom-emails/9999", json={"disabled_at": None})
    assert (missing.status_code, missing.json()) == (404, {"status": "NOT FOUND"})
    assert http.delete(f"/notifications/public/v1/api/custom-emails/{email.id}").json() == [1]
    assert len(client.list_custom_emails()) == 9


def test_feature_flags_of_notifications(emu: StitchEmulator, http: httpx.Client) -> None:
    emu.control.configure(custom_emails_enabled=False, hooks_enabled=False)
    emails = http.post("/notifications/public/v1/api/custom-emails", json={"email_address": "a@example.com"})
    assert emails.json() == {
        "error": {"message": "Account not authorized to create custom notification email addresses."}
    }
    hooks = http.post(
        "/notifications/public/v1/api/hooks", json={"type": "post_load", "config": {"url": "https://x"}}
    )
    assert hooks.json() == {"error": {"message": "Client does not have access to hooks."}}


def test_post_load_hooks(client: StitchClient, http: httpx.Client) -> None:
    hook = client.create_post_load_hook("https://hooks.example.com/a", destination_id=12345)
    assert isinstance(hook, PostLoadHook) and hook.url == "https://hooks.example.com/a" and hook.version == 1
    listed = http.get("/notifications/public/v1/api/hooks").json()
    assert list(listed) == ["post_load"] and listed["post_load"][0]["id"] == hook.id
    assert client.disable_post_load_hook(hook.id).disabled_at is not None
    assert client.enable_post_load_hook(hook.id).disabled_at is None
    bad_put = http.put(f"/notifications/public/v1/api/hooks/{hook.id}", json={"enable": "yes"})
    assert bad_put.json() == {
        "data": {"message": "PUT body must only contain boolean 'enable' key"},
        "error": "InvalidBody",
    }
    bad_post = http.post("/notifications/public/v1/api/hooks", json={"type": "other"})
    assert bad_post.json() == {"data": {"message": "Invalid POST body"}, "error": "InvalidBody"}
    for index in range(9):
        client.create_post_load_hook(f"https://hooks.example.com/{index}")
    limit = http.post(
        "/notifications/public/v1/api/hooks", json={"type": "post_load", "config": {"url": "https://x"}}
    )
    assert limit.json() == {"error": {"message": "You have exceeded the limit of 10 hooks."}}
    deleted = http.delete(f"/notifications/public/v1/api/hooks/{hook.id}")
    assert (deleted.status_code, deleted.json()) == (200, None)
    assert http.delete(f"/notifications/public/v1/api/hooks/{hook.id}").json() == {"error": "NotFound"}


def test_import_api_tokens(client: StitchClient, http: httpx.Client) -> None:
    source = client.create_source(type="import_api", display_name="Import API")
    first = client.create_import_token(source.id)
    assert first.access_token
    second = client.create_import_token(source.id)
    third = http.post(f"/v4/sources/{source.id}/tokens")
    assert third.status_code == 400
    listed = http.get(f"/v4/sources/{source.id}/tokens").json()
    assert [row["token_id"] for row in listed] == [first.id, second.id]
    assert all("access_token" not in row for row in listed)
    assert client.revoke_import_token(source.id, first.id).id == source.id
    assert [t.id for t in client.list_import_tokens(source.id)] == [second.id]
