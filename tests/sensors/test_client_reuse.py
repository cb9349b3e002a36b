"""A poking sensor reuses its hook's client across pokes, yet follows a connection changed while it waits.

The sensor pokes a manual-clock emulator over loopback; the connection is an Airflow connection in the
environment, changed between pokes the way an operator of the deployment would change it.
"""

from __future__ import annotations

import json
import logging
import os

import pytest
from airflow.providers.common.compat.sdk import PokeReturnValue

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.jobs import monitor_for_client
from airflow_provider_stitch.hooks import stitch as hook_module
from airflow_provider_stitch.hooks.stitch import StitchHook
from airflow_provider_stitch.sensors import StitchExtractionSensor
from tests.testkit.jobs import CONN_ID, make_sources, start_jobs

ENV_NAME = f"AIRFLOW_CONN_{CONN_ID.upper()}"


class Counted:
    """Counts the clients the hook builds and closes, and the connection lookups it makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.built: list[StitchClient] = []
        self.closed: list[StitchClient] = []
        self.lookups = 0
        counted = self

        class CountedClient(StitchClient):
            def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
                super().__init__(*args, **kwargs)
                counted.built.append(self)

            def close(self) -> None:
                counted.closed.append(self)
                super().close()

        original = StitchHook.get_connection.__func__  # type: ignore[attr-defined]

        def get_connection(cls, conn_id):  # noqa: ANN001, ANN202
            counted.lookups += 1
            return original(cls, conn_id)

        monkeypatch.setattr(hook_module, "StitchClient", CountedClient)
        monkeypatch.setattr(StitchHook, "get_connection", classmethod(get_connection))


def change_connection(monkeypatch: pytest.MonkeyPatch, **extra: object) -> None:
    """Rewrite the test connection in the environment with these extras added."""
    value = json.loads(os.environ[ENV_NAME])
    value["extra"] = {**(value.get("extra") or {}), **extra}
    monkeypatch.setenv(ENV_NAME, json.dumps(value))


def running_sensor(env, tap_seconds: float = 300.0) -> StitchExtractionSensor:
    (source_id,) = make_sources(env.emulator, env.client, 1)
    started = env.now()
    job_name = start_jobs(env.emulator, env.client, [source_id], lambda _: tap_seconds)[source_id]
    return StitchExtractionSensor(
        task_id="wait", stitch_conn_id=CONN_ID, source_id=source_id, job_name=job_name, after=started
    )


def test_a_poking_sensor_builds_one_client_across_its_pokes(env, monkeypatch):
    monkeypatch.setattr(StitchHook, "connection_recheck_seconds", 0.0)  # read the connection every poke
    counted = Counted(monkeypatch)
    waiting = running_sensor(env, tap_seconds=100.0)
    answers = []
    for _ in range(6):
        answers.append(waiting.poke({}))
        env.advance(30)
    assert answers[0] is False and isinstance(answers[-1], PokeReturnValue) and answers[-1].is_done
    assert counted.lookups == 6
    assert len(counted.built) == 1 and counted.closed == []


def test_a_poking_sensor_follows_a_connection_changed_while_it_waits(env, monkeypatch, caplog):
    monkeypatch.setattr(StitchHook, "connection_recheck_seconds", 0.0)
    counted = Counted(monkeypatch)
    waiting = running_sensor(env)
    assert waiting.poke({}) is False
    first = waiting.client
    assert first.jobs_budget.limit == 30
    env.advance(30)
    change_connection(monkeypatch, jobs_budget=10)
    with caplog.at_level(logging.INFO, logger="airflow_provider_stitch.hooks"):
        assert waiting.poke({}) is False
    followed = waiting.client
    assert followed is not first and counted.closed == [first]
    assert followed.jobs_budget.limit == 10 and waiting.hook.get_budget().limit == 10
    assert monitor_for_client(followed).budget.limit == 10  # the monitor paces with the new budget
    assert f"connection {CONN_ID!r} changed; its new settings apply from now on" in caplog.text
    assert env.emulator.token not in caplog.text
    env.advance(30)
    assert waiting.poke({}) is False and waiting.client is followed and len(counted.built) == 2


def test_within_the_recheck_interval_the_connection_is_read_once(env, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(hook_module, "monotonic", lambda: now[0])
    counted = Counted(monkeypatch)
    hook = StitchHook(CONN_ID)
    client = hook.get_client()
    now[0] += StitchHook.connection_recheck_seconds - 1
    change_connection(monkeypatch, jobs_budget=12)
    assert hook.get_client() is client and counted.lookups == 1
    now[0] += 2
    assert hook.get_client().jobs_budget.limit == 12 and counted.lookups == 2


def test_a_connection_that_cannot_be_read_again_keeps_the_client(env, monkeypatch, caplog):
    monkeypatch.setattr(StitchHook, "connection_recheck_seconds", 0.0)
    hook = StitchHook(CONN_ID)
    client = hook.get_client()
    monkeypatch.delenv(ENV_NAME)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_stitch.hooks"):
        assert hook.get_client() is client
    assert f"connection {CONN_ID!r} could not be read again" in caplog.text
    assert env.emulator.token not in caplog.text


def test_a_connection_changed_into_a_wrong_one_fails_each_time(env, monkeypatch):
    monkeypatch.setattr(StitchHook, "connection_recheck_seconds", 0.0)
    hook = StitchHook(CONN_ID)
    hook.get_client()
    value = json.loads(os.environ[ENV_NAME])
    value.pop("password")
    monkeypatch.setenv(ENV_NAME, json.dumps(value))
    for _ in range(2):
        with pytest.raises(ValueError, match=f"connection {CONN_ID!r} has no API access token"):
            hook.get_client()


def test_the_fingerprint_shows_no_credential_and_differs_per_field(env):
    conn = StitchHook.get_connection(CONN_ID)
    fingerprint = hook_module.connection_fingerprint(conn)
    assert env.emulator.token not in fingerprint and len(fingerprint) == 32
    conn.password = conn.password + "x"
    assert hook_module.connection_fingerprint(conn) != fingerprint
