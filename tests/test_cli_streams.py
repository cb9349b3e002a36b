"""``airflow-stitch streams``: a source's streams, read through a real Airflow connection from the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_stitch import cli
from airflow_provider_stitch.api.stream_selection import (
    DiscoveredStream,
    StreamRequest,
    StreamSelectionError,
    resolve_names,
)
from airflow_provider_stitch.emulator import StitchEmulator

DATABASE = "shop"


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[StitchEmulator]:
    with StitchEmulator(clock="manual", client_id=116078) as emulator:
        yield emulator


@pytest.fixture
def emu(emulator_server: StitchEmulator, monkeypatch: pytest.MonkeyPatch) -> StitchEmulator:
    emulator_server.control.reset()
    connection = {
        "conn_type": "stitch",
        "host": emulator_server.base_url,
        "password": emulator_server.token,
        "extra": {"stitch_client_id": emulator_server.client_id, "budget_backend": "memory"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_CLI", json.dumps(connection))
    return emulator_server


@pytest.fixture
def source_id(emu: StitchEmulator) -> int:
    """A discovered hp-postgres source with public.customers selected (INCREMENTAL on updated_at)."""
    with httpx.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.token}"}) as http:
        properties = {
            "host": "db.internal",
            "port": "5432",
            "user": "stitch",
            "password": "pg-password-1",
            "dbname": DATABASE,
            "include_schemas_in_destination_stream_name": "true",
        }
        created = http.post(
            "/v4/sources",
            json={"type": "platform.hp-postgres", "display_name": "Shop", "properties": properties},
        )
        assert created.status_code == 200, created.text
        source = created.json()["id"]
        emu.control.advance(5)
        metadata = {"selected": True, "replication-method": "INCREMENTAL", "replication-key": "updated_at"}
        body = {
            "streams": [
                {
                    "tap_stream_id": f"{DATABASE}-public-customers",
                    "metadata": [{"breadcrumb": [], "metadata": metadata}],
                }
            ]
        }
        answer = http.put(f"/v4/sources/{source}/streams/metadata", json=body)
        assert answer.json() == {"status": 200}, answer.text
    return int(source)


def streams_json(source: int, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert cli.main(["streams", "--conn-id", "stitch_cli", str(source), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_lists_every_stream_with_selection_and_method(
    source_id: int, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = streams_json(source_id, capsys)
    by_id = {row["tap_stream_id"]: row for row in rows}
    assert by_id[f"{DATABASE}-public-customers"] == {
        "name": "customers",
        "tap_stream_id": f"{DATABASE}-public-customers",
        "stream_id": by_id[f"{DATABASE}-public-customers"]["stream_id"],
        "selected": True,
        "replication_method": "INCREMENTAL",
    }
    assert [row["tap_stream_id"] for row in rows if row["selected"]] == [f"{DATABASE}-public-customers"]
    # "orders" exists in two schemas, so each is listed under the id that names it unambiguously.
    assert by_id[f"{DATABASE}-public-orders"]["name"] == f"{DATABASE}-public-orders"
    assert by_id[f"{DATABASE}-sales-orders"]["name"] == f"{DATABASE}-sales-orders"
    assert by_id[f"{DATABASE}-public-orders"]["replication_method"] is None
    assert len(rows) == len(by_id) >= 5


def test_every_listed_name_resolves_to_its_stream_and_ambiguity_still_suggests_ids(
    source_id: int, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = streams_json(source_id, capsys)
    discovered = [
        DiscoveredStream(
            stream_id=row["stream_id"],
            tap_stream_id=row["tap_stream_id"],
            stream_name=row["tap_stream_id"].rsplit("-", 1)[-1],
        )
        for row in rows
    ]
    for row in rows:
        resolved = resolve_names({row["name"]: StreamRequest()}, discovered)
        assert list(resolved) == [row["tap_stream_id"]]
    with pytest.raises(StreamSelectionError) as info:
        resolve_names({"orders": StreamRequest()}, discovered)
    assert f"'{DATABASE}-public-orders', '{DATABASE}-sales-orders'" in str(info.value)


def test_the_table_form_has_one_line_per_stream(source_id: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["streams", "--conn-id", "stitch_cli", str(source_id)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "SELECTED", "METHOD", "TAP_STREAM_ID"]
    assert ["customers", "yes", "INCREMENTAL", f"{DATABASE}-public-customers"] in [
        line.split() for line in lines
    ]
    assert [f"{DATABASE}-sales-orders", "no", "-", f"{DATABASE}-sales-orders"] in [
        line.split() for line in lines
    ]


def test_errors_are_one_line_without_the_token(
    emu: StitchEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["streams", "--conn-id", "stitch_cli", "987654"]) == cli.EXIT_STITCH
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "987654" in err
    assert emu.token not in err
    assert cli.main(["streams", "--conn-id", "no_such_connection", "1"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == "error: no Airflow connection 'no_such_connection'\n"
    assert cli.main(["streams", "--conn-id", "stitch_cli", "not-a-number"]) == cli.EXIT_USAGE


def test_a_separate_process_reads_the_connection_from_the_environment(source_id: int) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_stitch.cli",
            "streams",
            "--conn-id",
            "stitch_cli",
            str(source_id),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["NAME", "SELECTED", "METHOD", "TAP_STREAM_ID"]  # Airflow's own logs go to stderr
    assert ["customers", "yes", "INCREMENTAL", f"{DATABASE}-public-customers"] in lines
