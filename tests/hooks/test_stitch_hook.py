"""StitchHook: connection from the environment, budgets, test_connection and provider metadata."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import responses

from airflow_provider_stitch import get_provider_info
from airflow_provider_stitch.api.aclient import AsyncStitchClient
from airflow_provider_stitch.api.budget import InMemoryBudgetBackend
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.hooks.stitch import StitchHook

TOKEN = "ac_HookSecretToken987"


def set_connection(monkeypatch, conn_id: str = "stitch_default", **fields) -> None:
    conn = {"conn_type": "stitch", "password": TOKEN, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_builds_a_client_from_an_env_connection(monkeypatch, tmp_path):
    set_connection(
        monkeypatch,
        host="http://127.0.0.1:8765",
        extra={
            "stitch_client_id": "116078",
            "jobs_budget": 12,
            "budget_location": str(tmp_path / "b.sqlite"),
        },
    )
    hook = StitchHook()
    client = hook.get_client()
    assert isinstance(client, StitchClient)
    assert client.base_url == "http://127.0.0.1:8765" and client.client_id == 116078
    budget = hook.get_budget()
    assert budget.limit == 12 and isinstance(budget.backend, SQLiteBudgetBackend)
    assert budget.backend.path == str(tmp_path / "b.sqlite")
    assert hook.get_client() is client
    assert TOKEN not in repr(client)


def test_defaults(monkeypatch):
    set_connection(monkeypatch, extra={"stitch_client_id": 5, "budget_backend": "memory"})
    client = StitchHook().get_client()
    assert client.base_url == "https://api.stitchdata.com"
    assert isinstance(client.jobs_budget.backend, InMemoryBudgetBackend) and client.jobs_budget.limit == 30


def test_host_without_scheme_means_https(monkeypatch):
    set_connection(monkeypatch, host="api.eu.example.com", extra={"budget_backend": "memory"})
    assert StitchHook().get_client().base_url == "https://api.eu.example.com"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"budget_backend": "memcached"}, "budget_backend must be one of"),
        ({"budget_backend": "memory", "jobs_budget": 31}, "between 1 and 30"),
        (
            {"budget_backend": "memory", "emulator_speed": 0.5},
            "emulator_speed must be a number of at least 1",
        ),
        ({"budget_backend": "memory", "emulator_speed": "fast"}, "at least 1, not 'fast'"),
    ],
)
def test_bad_extras_are_explained(monkeypatch, extra, message):
    set_connection(monkeypatch, extra=extra)
    with pytest.raises(ValueError, match=message):
        StitchHook().get_client()


def test_emulator_speed_shortens_the_budget_window_for_a_loopback_emulator(monkeypatch):
    with StitchEmulator(speed=20, client_id=7) as emulator:
        set_connection(
            monkeypatch,
            host=emulator.base_url,
            extra={"stitch_client_id": 7, "budget_backend": "memory", "emulator_speed": "20"},
        )
        budget = StitchHook().get_budget()
    assert budget.window == 600 / 20 + 10  # the emulator's 600 s in real seconds, plus the latency margin
    assert budget.limit == 30


def test_emulator_speed_is_refused_for_stitch_itself(monkeypatch):
    set_connection(monkeypatch, extra={"budget_backend": "memory", "emulator_speed": 20})
    with pytest.raises(ValueError, match="only for the offline emulator on a loopback host"):
        StitchHook().get_client()
    set_connection(
        monkeypatch, extra={"stitch_client_id": 7, "budget_backend": "memory", "emulator_speed": 1}
    )
    assert StitchHook().get_budget().window == 610


def test_remote_plain_http_is_refused(monkeypatch):
    set_connection(monkeypatch, host="http://stitch.example.com", extra={"budget_backend": "memory"})
    with pytest.raises(ValueError, match="plain http"):
        StitchHook().get_client()


def test_missing_token(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_DEFAULT", json.dumps({"conn_type": "stitch"}))
    with pytest.raises(ValueError, match="no API access token"):
        StitchHook().get_client()


def test_secrets_are_masked(monkeypatch):
    masked: list[str] = []
    monkeypatch.setattr("airflow_provider_stitch.hooks.stitch.mask_secret", masked.append)
    set_connection(monkeypatch, extra={"partner_secret": "oc_partner_secret", "budget_backend": "memory"})
    StitchHook().get_client()
    assert masked == [TOKEN, "oc_partner_secret"]


@responses.activate
def test_test_connection(monkeypatch):
    set_connection(monkeypatch, extra={"budget_backend": "memory"})
    responses.get("https://api.stitchdata.com/v4/sources", json=[{"id": 1}])
    ok, message = StitchHook().test_connection()
    assert ok is True and "1 source(s)" in message
    assert "Authorization" in responses.calls[0].request.headers


@responses.activate
def test_test_connection_explains_a_bad_token(monkeypatch):
    set_connection(monkeypatch, extra={"budget_backend": "memory"})
    responses.get("https://api.stitchdata.com/v4/sources", status=401, body=f"bad token {TOKEN}")
    ok, message = StitchHook().test_connection()
    assert ok is False and "401" in message and "revoked" in message
    assert TOKEN not in message


def test_async_client_from_connection(monkeypatch):
    set_connection(
        monkeypatch, host="http://localhost:9999", extra={"stitch_client_id": 7, "budget_backend": "memory"}
    )

    async def scenario():
        client = await StitchHook().aget_client()
        async with client:
            return client

    client = asyncio.run(scenario())
    assert isinstance(client, AsyncStitchClient) and client.base_url == "http://localhost:9999"


def test_ui_field_behaviour_comes_from_provider_info():
    behaviour = StitchHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == ["schema", "login", "port"]
    assert behaviour["relabeling"] == {
        "password": "API access token (Stitch: Account settings > API access keys)",
        "host": "Base URL (optional; with its scheme, e.g. https://)",
    }


def _airflow_schema(name: str) -> dict:
    import airflow

    return json.loads((Path(airflow.__file__).parent / name).read_text())


def test_provider_info_validates_against_airflow_schema():
    info = get_provider_info()
    jsonschema.validate(info, _airflow_schema("provider_info.schema.json"))
    assert info["package-name"] == "airflow-provider-stitch"
    (entry,) = [c for c in info["connection-types"] if c["connection-type"] == "stitch"]
    assert entry["hook-class-name"] == "airflow_provider_stitch.hooks.stitch.StitchHook"
    yaml_schema = _airflow_schema("provider.yaml.schema.json")
    conn_item = yaml_schema["properties"]["connection-types"]["items"]
    jsonschema.validate(entry, conn_item)
    assert set(entry["conn-fields"]) == {
        "stitch_client_id",
        "partner_id",
        "partner_secret",
        "jobs_budget",
        "budget_backend",
        "budget_location",
        "emulator_speed",
    }
    assert entry["conn-fields"]["partner_secret"]["schema"]["format"] == "password"


def test_airflow_cli_lists_the_stitch_connection_type():
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "hooks", "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(result.stdout[result.stdout.index("[{") :])
    stitch = [row for row in rows if row.get("connection_type") == "stitch"]
    assert stitch and stitch[0]["class"] == "airflow_provider_stitch.hooks.stitch.StitchHook"
