"""Sources and source types against the emulator: shapes, lifecycle and every documented error."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.models import ReportCard, Source
from airflow_provider_stitch.emulator import StitchEmulator
from tests.emulator.emulator_helpers import PG_PROPERTIES, create_postgres


def test_missing_or_unknown_token_is_401(emu: StitchEmulator) -> None:
    assert httpx.get(f"{emu.base_url}/v4/sources").status_code == 401
    response = httpx.get(f"{emu.base_url}/v4/sources", headers={"Authorization": "Bearer ac_nope"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"


def test_create_source_shape_hides_credentials(client: StitchClient) -> None:
    source = client.create_source(
        type="platform.hp-postgres", display_name="Shop DB!", properties=dict(PG_PROPERTIES)
    )
    assert isinstance(source, Source)
    assert source.name == "shop_db"
    assert source.stitch_client_id == 116078
    assert "password" not in source.properties
    assert source.properties["frequency_in_minutes"] == "60"
    assert source.properties["image_version"] == "1.latest"
    assert source.report_card is not None
    assert source.report_card.current_step_type == "discover_schema"
    assert source.check_job_name.startswith(f"116078.{source.id}.check.")
    form = source.report_card.step("form")
    assert form is not None
    password = next(p for p in form.properties if p.name == "password")
    assert (password.is_required, password.is_credential, password.provided) == (True, True, True)
    assert source.schedule is not None and source.schedule.interval == 60.0


def test_list_includes_paused_and_deleted(client: StitchClient, http: httpx.Client) -> None:
    first = create_postgres(http, "One")
    second = create_postgres(http, "Two")
    paused = client.pause_source(first["id"])
    assert paused.paused_at is not None and paused.schedule is None
    deleted = client.delete_source(second["id"])
    assert deleted.deleted_at is not None
    listed = {s.id: s for s in client.list_sources()}
    assert listed[first["id"]].is_paused and listed[second["id"]].is_deleted
    assert client.get_source(second["id"]).is_deleted
    assert client.unpause_source(first["id"]).paused_at is None


def test_pause_keeps_the_given_timestamp(http: httpx.Client) -> None:
    source = create_postgres(http)
    body = http.put(f"/v4/sources/{source['id']}", json={"paused_at": "2019-06-01T00:00:00Z"}).json()
    assert body["paused_at"] == "2019-06-01T00:00:00Z"


def test_update_merges_partial_properties(http: httpx.Client) -> None:
    source = create_postgres(http)
    body = http.put(
        f"/v4/sources/{source['id']}", json={"properties": {"frequency_in_minutes": "360"}}
    ).json()
    assert body["properties"]["frequency_in_minutes"] == "360"
    assert body["properties"]["host"] == "db.internal"
    assert body["schedule"]["interval"] == 360.0


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"type": "platform.nope", "display_name": "X"},
            "InvalidType",
            "invalid source type (platform.nope)",
        ),
        (
            {"type": "platform.hp-postgres", "display_name": "####"},
            "InvalidDisplayName",
            "invalid name after deriving it from display_name (#### -> )",
        ),
        (
            {"type": "platform.hp-postgres", "display_name": "X", "color": "red"},
            "InvalidBody",
            "POST body may only include a non-empty type, a non-empty display_name and map of string properties",
        ),
        (
            {"type": "platform.hp-postgres", "display_name": "X", "name": "Bad Name"},
            "InvalidName",
            "The name field must be under 50 characters, and can only contain lowercase letters, numbers, "
            "underscores, or dollar signs. It must begin with a letter or an underscore.",
        ),
        (
            {
                "type": "platform.hp-postgres",
                "display_name": "X",
                "properties": {"cron_expression": "* * * * * *"},
            },
            "InvalidCronExpression",
            'cron_expression "* * * * * *" is invalid: Support for specifying both a day-of-week AND a '
            "day-of-month parameter is not implemented.",
        ),
    ],
)
def test_create_errors(http: httpx.Client, body: dict, code: str, message: str) -> None:
    response = http.post("/v4/sources", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": code, "data": {"message": message}}


def test_name_collisions(http: httpx.Client) -> None:
    create_postgres(http, "Sales")
    same_display = http.post("/v4/sources", json={"type": "platform.hp-postgres", "display_name": "Sales"})
    assert same_display.json()["data"]["message"] == "non-unique name (Sales)"
    derived = http.post("/v4/sources", json={"type": "platform.hp-postgres", "display_name": "SALES!!!"})
    assert derived.json() == {
        "error": "InvalidName",
        "data": {"message": "non-unique name after deriving it from display_name (SALES!!! -> sales)"},
    }


def test_invalid_properties_lists_bad_ones_with_report_card(http: httpx.Client) -> None:
    response = http.post(
        "/v4/sources",
        json={
            "type": "platform.hp-postgres",
            "display_name": "X",
            "properties": {"port": "not-a-port", "host": "", "hots": "typo"},
        },
    )
    assert response.status_code == 400
    data = response.json()["data"]
    assert data["message"] == "properties do not match schema"
    assert set(data["bad_properties"]) == {"port", "host", "hots"}
    assert data["report_card"]["type"] == "platform.hp-postgres"


def test_cron_access_denied_when_plan_lacks_it(emu: StitchEmulator, http: httpx.Client) -> None:
    emu.control.configure(cron_scheduling=False)
    response = http.post(
        "/v4/sources",
        json={
            "type": "platform.hp-postgres",
            "display_name": "X",
            "properties": {"cron_expression": "0 0 12 ? * MON-FRI *"},
        },
    )
    assert response.json() == {
        "error": "AccessDenied",
        "data": {"message": "access to cron_expression based scheduling is not permitted"},
    }


def test_deprecated_type_denied_when_configured(emu: StitchEmulator, http: httpx.Client) -> None:
    emu.control.configure(allow_deprecated_types=False)
    response = http.post("/v4/sources", json={"type": "platform.postgres", "display_name": "Old"})
    assert response.json() == {
        "error": "AccessDenied",
        "data": {"message": "you do not have access to source type (platform.postgres)"},
    }
    card = http.get("/v4/source-types/platform.postgres").json()
    assert card["details"]["access"] is False


def test_update_errors(http: httpx.Client) -> None:
    source = create_postgres(http)
    bad_keys = http.put(f"/v4/sources/{source['id']}", json={"type": "platform.mysql"})
    assert bad_keys.json() == {
        "error": "InvalidBody",
        "data": {"message": "PUT body many only include the keys: display_name, properties, and paused_at"},
    }
    bad_name = http.put(f"/v4/sources/{source['id']}", json={"display_name": ""})
    assert bad_name.json() == {"error": "InvalidDisplayName", "data": {"message": "invalid display_name ()"}}
    for method in ("PUT", "DELETE"):
        missing = http.request(method, "/v4/sources/999", json={"display_name": "x"})
        assert missing.status_code == 400
        assert missing.json() == {"error": "InvalidId", "data": {"message": "source not found (999)"}}


def test_source_types_from_catalog(client: StitchClient) -> None:
    cards = client.list_source_types()
    assert all(isinstance(card, ReportCard) for card in cards)
    hubspot = client.get_source_type("platform.hubspot")
    assert [s.type for s in hubspot.steps] == [
        "form",
        "oauth",
        "discover_schema",
        "field_selection",
        "fully_configured",
    ]
    assert hubspot.current_step_type == "form"
    assert hubspot.details["default_scheduling_interval"] == 30
    oauth = hubspot.step("oauth")
    assert oauth is not None and all(p.is_credential for p in oauth.properties)
    assert all(p.provided is False for p in hubspot.properties)
    assert {c.type for c in client.list_destination_types()} >= {"postgres", "redshift", "snowflake"}


def test_unknown_type_and_method_are_404(http: httpx.Client) -> None:
    assert http.get("/v4/source-types/platform.nope").status_code == 404
    assert http.patch("/v4/sources").status_code == 404
    assert http.get("/v4/sources/abc").status_code == 404


def test_more_than_100_sources_listed(client: StitchClient, http: httpx.Client) -> None:
    for index in range(105):
        response = http.post("/v4/sources", json={"type": "import_api", "display_name": f"Import {index}"})
        assert response.status_code == 200
    sources = client.list_sources()
    assert len(sources) == 105
    assert sources[0].report_card.current_step_type == "fully_configured"
