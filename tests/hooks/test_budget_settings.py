"""The budget settings of a connection: parsed once, every problem at once, the speed the emulator confirms,
one store per process and location, and a long-running process following a changed connection."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from airflow_provider_stitch.api import budget as budget_module
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.emulator_speed import forget_reported_speeds
from airflow_provider_stitch.api.jobs import amonitor_for_client, monitor_for_client
from airflow_provider_stitch.api.settings import BudgetSettings, StitchSettingsError
from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.hooks.stitch import StitchHook

TOKEN = "ac_SettingsSecretToken321"


def set_connection(monkeypatch, **fields) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_STITCH_DEFAULT", json.dumps({"conn_type": "stitch", "password": TOKEN, **fields})
    )


def test_every_problem_of_the_budget_extras_is_listed_at_once():
    with pytest.raises(StitchSettingsError) as caught:
        BudgetSettings.from_extras(
            {"budget_backend": "memcached", "jobs_budget": 31, "emulator_speed": "fast"}, loopback=True
        )
    assert len(caught.value.problems) == 3
    message = str(caught.value)
    assert "budget_backend must be one of memory, sqlite, redis, not 'memcached'" in message
    assert "jobs_budget must be a whole number between 1 and 30" in message
    assert "emulator_speed must be a number of at least 1, not 'fast'" in message


def test_a_redis_location_is_never_echoed():
    with pytest.raises(StitchSettingsError) as caught:
        BudgetSettings.from_extras(
            {"budget_backend": "redis", "budget_location": "http://user:s3cr3t-pw@cache:6379"}, loopback=False
        )
    assert "budget_location must be a redis://" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)
    settings = BudgetSettings.from_extras(
        {"budget_backend": "redis", "budget_location": "redis://user:s3cr3t-pw@cache:6379/0"}, loopback=False
    )
    assert "s3cr3t-pw" not in settings.where and "cache:6379" in settings.where


def test_the_same_extras_are_parsed_once():
    extras = {"jobs_budget": "12", "budget_backend": "memory"}
    assert BudgetSettings.from_extras(extras, loopback=False) is BudgetSettings.from_extras(
        dict(extras), loopback=False
    )


def test_one_memory_store_per_process_and_one_sqlite_store_per_location(monkeypatch, tmp_path):
    set_connection(monkeypatch, extra={"stitch_client_id": 7, "budget_backend": "memory"})
    assert StitchHook().get_budget().backend is budget_module.process_backend()
    assert StitchHook().get_budget().backend is budget_module.process_backend()
    location = str(tmp_path / "shared.sqlite")
    set_connection(monkeypatch, extra={"stitch_client_id": 7, "budget_location": location})
    first, second = StitchHook().get_budget(), StitchHook().get_budget()
    assert isinstance(first.backend, SQLiteBudgetBackend) and first.backend is second.backend


def test_the_budget_uses_the_speed_the_emulator_reports(monkeypatch):
    with StitchEmulator(speed=20, client_id=7) as emulator:
        set_connection(
            monkeypatch, host=emulator.base_url, extra={"stitch_client_id": 7, "budget_backend": "memory"}
        )
        assert StitchHook().get_budget().window == 600 / 20 + 10


def test_a_configured_speed_the_emulator_does_not_confirm_is_refused(monkeypatch):
    with StitchEmulator(speed=1, client_id=7) as emulator:
        set_connection(
            monkeypatch,
            host=emulator.base_url,
            extra={"stitch_client_id": 7, "budget_backend": "memory", "emulator_speed": 10},
        )
        with pytest.raises(ValueError, match="emulator_speed is 10, but the emulator reports speed 1"):
            StitchHook().get_client()


class _Plain404(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_configured_speed_on_a_server_that_reports_none_is_refused(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Plain404)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        set_connection(
            monkeypatch,
            host=f"http://127.0.0.1:{server.server_port}",
            extra={"stitch_client_id": 7, "budget_backend": "memory", "emulator_speed": "10"},
        )
        with pytest.raises(ValueError, match="emulator_speed is 10, but the server does not report a speed"):
            StitchHook().get_client()
    finally:
        server.shutdown()
        server.server_close()


def test_a_configured_speed_with_nothing_listening_cannot_be_confirmed(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    set_connection(
        monkeypatch,
        host=f"http://127.0.0.1:{port}",
        extra={"stitch_client_id": 7, "budget_backend": "memory", "emulator_speed": "10"},
    )
    with pytest.raises(ValueError, match="emulator_speed cannot be confirmed: the server at"):
        StitchHook().get_client()


def test_a_long_running_process_follows_a_changed_connection(monkeypatch, tmp_path):
    """Budget size, store, location and the emulator's speed all follow; the monitor paces with them."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    first_file = str(tmp_path / "first.sqlite")
    with StitchEmulator(port=port, speed=1, client_id=7) as emulator:
        set_connection(
            monkeypatch,
            host=emulator.base_url,
            extra={"stitch_client_id": 7, "jobs_budget": 10, "budget_location": first_file},
        )
        client = StitchHook().get_client()
        monitor = monitor_for_client(client)
        assert (monitor.budget.limit, monitor.budget.window) == (10, 610.0)
        assert monitor.budget.backend is client.jobs_budget.backend
        assert isinstance(monitor.budget.backend, SQLiteBudgetBackend)
        assert monitor.budget.backend.path == first_file
    forget_reported_speeds()  # what a triggerer notices within 30 s of the emulator's restart
    with StitchEmulator(port=port, speed=20, client_id=7) as emulator:
        set_connection(
            monkeypatch,
            host=emulator.base_url,
            extra={"stitch_client_id": 7, "jobs_budget": 5, "budget_backend": "memory"},
        )

        async def follow():  # noqa: ANN202
            async with await StitchHook().aget_client() as aclient:
                return await amonitor_for_client(aclient), await aclient.ajobs_budget()

        followed, paid_from = asyncio.run(follow())
    assert followed is monitor
    assert (monitor.budget.limit, monitor.budget.window) == (5, 600 / 20 + 10)
    assert monitor.budget.backend is budget_module.process_backend() is paid_from.backend
    assert monitor.budget.same_as(paid_from)
