"""The connection form (what the UI reads from the provider info) and the Test button against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_stitch import get_provider_info
from airflow_provider_stitch.hooks.stitch import StitchHook
from tests.testkit.operators import POSTGRES_SOURCE_PROPERTIES


def stitch_form() -> dict[str, Any]:
    return next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == "stitch")


def test_saving_the_form_freezes_no_default_into_the_connection():
    fields = stitch_form()["conn-fields"]
    assert [name for name, field in fields.items() if "default" in field["schema"]] == []
    assert None in fields["budget_backend"]["schema"]["enum"]  # empty stays possible


def test_the_form_explains_the_token_partner_secret_and_budget_location():
    form = stitch_form()
    behaviour, fields = form["ui-field-behaviour"], form["conn-fields"]
    assert "API access keys" in behaviour["relabeling"]["password"]
    assert behaviour["placeholders"]["password"]
    assert "partner" in fields["partner_secret"]["description"]
    assert "redis://127.0.0.1:6379/0" in fields["budget_location"]["description"]
    assert behaviour["placeholders"]["budget_location"].startswith("redis://")
    assert StitchHook.get_ui_field_behaviour()["placeholders"] == behaviour["placeholders"]


def use_connection(monkeypatch: pytest.MonkeyPatch, host: str, token: str, **extra: Any) -> None:
    connection = {
        "conn_type": "stitch",
        "host": host,
        "password": token,
        "extra": {"budget_backend": "memory", **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_FORM", json.dumps(connection))


def test_the_test_button_confirms_the_client_id(emulator, monkeypatch):
    from airflow_provider_stitch.api.client import StitchClient

    with StitchClient(emulator.token, base_url=emulator.base_url, client_id=emulator.client_id) as client:
        client.create_source("platform.postgres", "Shop", dict(POSTGRES_SOURCE_PROPERTIES))
    use_connection(monkeypatch, emulator.base_url, emulator.token, stitch_client_id=emulator.client_id)
    ok, message = StitchHook("stitch_form").test_connection()
    assert (ok, message) == (True, f"Connected to Stitch at {emulator.base_url}: 1 source(s) visible")

    use_connection(monkeypatch, emulator.base_url, emulator.token, stitch_client_id=999)
    ok, message = StitchHook("stitch_form").test_connection()
    assert ok is False
    assert message == (
        f"stitch_client_id 999 is not the account of this token at {emulator.base_url} (its objects belong "
        f"to client {emulator.client_id}); correct stitch_client_id or leave it empty"
    )


def test_the_test_button_names_the_url_and_the_cause(emulator, monkeypatch):
    use_connection(monkeypatch, emulator.base_url, "not-the-token")
    ok, message = StitchHook("stitch_form").test_connection()
    assert ok is False
    assert message.startswith(f"Stitch at {emulator.base_url} refused the API access token (HTTP 401)")
    assert "not-the-token" not in message


def test_a_host_without_a_scheme_gets_a_hint(emulator, monkeypatch):
    host = emulator.base_url.removeprefix("http://")
    use_connection(monkeypatch, host, emulator.token)
    ok, message = StitchHook("stitch_form", max_attempts=1, timeout=5).test_connection()
    assert ok is False
    assert f"https://{host}" in message
    assert f"the host {host!r} has no scheme, so https:// was assumed" in message
    assert emulator.token not in message
