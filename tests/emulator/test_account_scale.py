"""A large account costs a request only what the request needs: no settling of idle sources, no
re-rendering of stored rows; and settling only what is due ends in the same state as settling everything."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_provider_stitch.emulator import StitchEmulator, lifecycle
from airflow_provider_stitch.emulator.job_rows import JobRows
from tests.emulator.emulator_helpers import PG_PROPERTIES, create_postgres

SELECT_CUSTOMERS = {
    "streams": [
        {
            "tap_stream_id": "shop-public-customers",
            "metadata": [
                {"breadcrumb": [], "metadata": {"selected": True, "replication-method": "FULL_TABLE"}}
            ],
        }
    ]
}


def _synced_sources(emu: StitchEmulator, http: httpx.Client, count: int, **properties: Any) -> list[int]:
    ids = [int(create_postgres(http, f"Shop {index:03d}", **properties)["id"]) for index in range(count)]
    emu.control.advance(5)
    for source_id in ids:
        assert http.put(f"/v4/sources/{source_id}/streams/metadata", json=SELECT_CUSTOMERS).status_code == 200
        assert "job_name" in http.post(f"/v4/sources/{source_id}/sync").json()
    emu.control.advance(60)
    return ids


def test_requests_on_an_idle_account_settle_no_source(
    emu: StitchEmulator, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _synced_sources(emu, http, 150)
    settled: list[int] = []
    original = lifecycle.settle_source

    def counting(state: Any, account: Any, source: Any, now: float) -> None:
        settled.append(source.id)
        original(state, account, source, now)

    monkeypatch.setattr(lifecycle, "settle_source", counting)
    for _ in range(5):
        assert http.get(f"/v4/sources/{ids[7]}").status_code == 200
        assert http.get(f"/v4/{emu.client_id}/extractions").json()["total"] == 150
        assert http.get(f"/v4/{emu.client_id}/loads").json()["total"] == 150
    assert settled == []
    # A sync that ends is settled by the first request after its end, and only that source.
    http.post(f"/v4/sources/{ids[3]}/sync")
    emu.runtime.clock.advance(60)
    rows = http.get(f"/v4/{emu.client_id}/extractions").json()["data"]
    assert settled == [ids[3]]
    assert {row["source_id"] for row in rows} == set(ids[:100])


def _observable(http: httpx.Client, client_id: int) -> dict[str, Any]:
    """What a client can see: every source and every extraction and load row (job names aside)."""
    extractions: list[dict[str, Any]] = []
    loads: list[dict[str, Any]] = []
    for path, rows in ((f"/v4/{client_id}/extractions", extractions), (f"/v4/{client_id}/loads", loads)):
        page = 1
        while True:
            body = http.get(path, params={"page": page}).json()
            rows.extend(body["data"])
            if "next" not in body["links"]:
                break
            page += 1
    for row in extractions:
        row.pop("job_name")
    return {"sources": http.get("/v4/sources").json(), "extractions": extractions, "loads": loads}


def test_settling_what_is_due_matches_settling_everything(emu: StitchEmulator, http: httpx.Client) -> None:
    emu.control.configure(run_schedules=True)
    half_hourly = _synced_sources(emu, http, 3, frequency_in_minutes="30")
    hourly = [
        int(create_postgres(http, f"Hourly {index}", frequency_in_minutes="60")["id"]) for index in range(2)
    ]
    steps: list[tuple[str, Any]] = [
        ("time", 5),
        ("select", hourly),
        ("time", 1799),
        ("time", 2),
        ("pause", half_hourly[0]),
        ("time", 3600 * 3 + 17),
        ("sync", half_hourly[0]),
        ("time", 4),
        ("unpause", half_hourly[0]),
        ("schedules", False),
        ("time", 7200),
        ("schedules", True),
        ("time", 61),
    ]
    seen_starts: set[str] = set()
    for action, argument in steps:
        if action == "time":
            emu.runtime.clock.advance(argument)  # moves time without the control API's settle-everything
        elif action == "select":
            for source_id in argument:
                http.put(f"/v4/sources/{source_id}/streams/metadata", json=SELECT_CUSTOMERS)
        elif action == "pause":
            http.put(f"/v4/sources/{argument}", json={"paused_at": "2020-01-01T00:00:00Z"})
        elif action == "unpause":
            http.put(f"/v4/sources/{argument}", json={"paused_at": None})
        elif action == "sync":
            http.post(f"/v4/sources/{argument}/sync")
        else:
            emu.control.configure(run_schedules=argument)
        due_only = _observable(http, emu.client_id)
        emu.control.state()  # settles every source of every account
        assert _observable(http, emu.client_id) == due_only, f"after {action} {argument}"
        seen_starts |= {row["start_time"] for row in due_only["extractions"]}
    # The schedules really ran: many distinct runs were seen on the way.
    assert len(seen_starts) >= 6
    assert {row["source_id"] for row in due_only["extractions"]} == set(half_hourly + hourly)


def test_the_source_list_is_the_sources_one_by_one(emu: StitchEmulator, http: httpx.Client) -> None:
    created = [create_postgres(http, f"Shop {index}") for index in range(3)]
    emu.control.advance(5)
    listing = http.get("/v4/sources")
    assert listing.headers["content-type"] == "application/json"
    one_by_one = [http.get(f"/v4/sources/{source['id']}").json() for source in created]
    assert listing.json() == one_by_one
    assert [source["report_card"]["current_step_type"] for source in one_by_one] == ["field_selection"] * 3
    assert json.loads(listing.content.decode()) == one_by_one


def test_source_objects_show_no_destination_id(emu: StitchEmulator, http: httpx.Client) -> None:
    body = {
        "type": "platform.hp-postgres",
        "display_name": "Into a named destination",
        "properties": PG_PROPERTIES,
        "destination_id": 300001,
    }
    created = http.post("/v4/sources", json=body).json()
    assert "destination_id" not in created
    assert "destination_id" not in http.get(f"/v4/sources/{created['id']}").json()
    assert all("destination_id" not in source for source in http.get("/v4/sources").json())


def _row(time: float, **values: Any) -> dict[str, Any]:
    return {"_time": time, **values}


def test_job_rows_list_in_order_and_leave_out_rows_past_the_horizon() -> None:
    rows: JobRows[tuple[str, str]] = JobRows(lambda key: (key[1], key[0]))
    rows[("shop", "orders")] = _row(100.0, stream_name="orders", source_name="shop")
    rows[("crm", "orders")] = _row(200.0, stream_name="orders", source_name="crm")
    rows[("shop", "accounts")] = _row(300.0, stream_name="accounts", source_name="shop")

    def names(encoded: list[bytes]) -> list[tuple[str, str]]:
        return [(json.loads(item)["source_name"], json.loads(item)["stream_name"]) for item in encoded]

    page, total = rows.page(1, 2, listed_after=0.0)
    assert (names(page), total) == ([("shop", "accounts"), ("crm", "orders")], 3)
    page, total = rows.page(2, 2, listed_after=0.0)
    assert (names(page), total) == ([("shop", "orders")], 3)
    assert all(b"_time" not in item for item in rows.page(1, 10, listed_after=0.0)[0])
    # Rows at or before the horizon are not listed; a rewritten row is listed with its new time.
    page, total = rows.page(1, 10, listed_after=150.0)
    assert (names(page), total) == ([("shop", "accounts"), ("crm", "orders")], 2)
    rows[("shop", "orders")] = _row(400.0, stream_name="orders", source_name="shop")
    page, total = rows.page(1, 10, listed_after=150.0)
    assert (names(page), total) == ([("shop", "accounts"), ("crm", "orders"), ("shop", "orders")], 3)
    assert len(rows) == 3 and rows.get(("crm", "orders")) == _row(
        200.0, stream_name="orders", source_name="crm"
    )


def test_job_rows_rewritten_many_times_keep_listing_the_latest() -> None:
    rows: JobRows[int] = JobRows(lambda key: key)
    for write in range(5000):
        rows[write % 3] = _row(float(write), source_id=write % 3, write=write)
    page, total = rows.page(1, 100, listed_after=4990.0)
    assert total == 3
    assert [json.loads(item)["write"] for item in page] == [4998, 4999, 4997]
    page, total = rows.page(1, 100, listed_after=4997.5)
    assert [json.loads(item)["write"] for item in page] == [4998, 4999] and total == 2
