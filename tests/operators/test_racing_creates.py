"""Two processes running the same create at once, over HTTP against one emulator: one object, two successes.

Both racers pass a barrier, then look up the name; the emulator holds each create for a moment, so both
look-ups see nothing and both really create.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from tests.testkit.operators import (
    POSTGRES_DESTINATION_PROPERTIES,
    POSTGRES_SOURCE_PROPERTIES,
    connection_json,
)

#: Real seconds the emulator holds each create, so that both racers' look-ups come first.
CREATE_HOLD = 2.0


def race(emulator: Any, operator_name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the operator in two processes at once; the outcomes in process order."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(2)
    connection = connection_json(emulator)
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [
            pool.submit(_run, connection, operator_name, {**arguments, "task_id": f"racer_{index}"}, barrier)
            for index in range(2)
        ]
        return [future.result(timeout=300) for future in futures]


def _run(*args: Any) -> dict[str, Any]:
    from tests.operators.race_workers import run_create

    return run_create(*args)


def hold_creates(emulator: Any, pattern: str) -> None:
    emulator.control.set_faults(pattern=pattern, method="POST", action="delay", delay=CREATE_HOLD, times=2)


def live(emulator: Any, kind: str) -> list[int]:
    """Ids of the live objects of one kind, as the API lists them."""
    from airflow_provider_stitch.api.client import StitchClient

    with StitchClient(emulator.token, base_url=emulator.base_url, client_id=emulator.client_id) as client:
        listed: list[Any] = {
            "destinations": client.list_destinations,
            "sources": client.list_sources,
            "custom emails": client.list_custom_emails,
            "post-load hooks": client.list_post_load_hooks,
        }[kind]()
    return sorted(o.id for o in listed if getattr(o, "deleted_at", None) is None)


def assert_both_got(outcomes: list[dict[str, Any]], live_ids: list[int]) -> None:
    assert [o.get("error") for o in outcomes] == [None, None]
    assert len(live_ids) == 1, live_ids
    assert [o["id"] for o in outcomes] == live_ids * 2


@pytest.mark.parametrize("destination_limit", [1, 5], ids=["plan-limit-1", "plan-limit-5"])
def test_racing_destination_creates_end_with_one_destination(emulator, destination_limit):
    emulator.control.configure(destination_limit=destination_limit)
    hold_creates(emulator, r"^/v4/destinations$")
    arguments = {
        "destination_type": "postgres",
        "name": "Warehouse",
        "properties": dict(POSTGRES_DESTINATION_PROPERTIES),
    }
    outcomes = race(emulator, "StitchCreateDestinationOperator", arguments)
    assert_both_got(outcomes, live(emulator, "destinations"))
    assert emulator.control.faults()[0]["hits"] == 2  # both racers did send a create


def test_racing_source_creates_end_with_one_source_and_the_loser_adopts_it(emulator):
    hold_creates(emulator, r"^/v4/sources$")
    arguments = {
        "source_type": "platform.postgres",
        "display_name": "Shop DB",
        "properties": dict(POSTGRES_SOURCE_PROPERTIES),
        "if_exists": "fail",
    }
    outcomes = race(emulator, "StitchCreateSourceOperator", arguments)
    assert_both_got(outcomes, live(emulator, "sources"))
    assert emulator.control.faults()[0]["hits"] == 2


def test_racing_custom_email_creates_end_with_one_recipient(emulator):
    hold_creates(emulator, r"/custom-emails$")
    outcomes = race(emulator, "StitchCustomEmailOperator", {"email_address": "ops@example.com"})
    assert_both_got(outcomes, live(emulator, "custom emails"))
    assert emulator.control.faults()[0]["hits"] == 2


def test_racing_post_load_hook_creates_end_with_one_hook(emulator):
    hold_creates(emulator, r"/hooks$")
    outcomes = race(emulator, "StitchPostLoadHookOperator", {"url": "https://hooks.example.com/stitch/k3y"})
    assert_both_got(outcomes, live(emulator, "post-load hooks"))
    assert emulator.control.faults()[0]["hits"] == 2
