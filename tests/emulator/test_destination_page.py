"""The emulator's read-only destination page: what the destination is, its check, properties, sources."""

from __future__ import annotations

from typing import Any

import httpx

from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.emulator.pages import destination_page_path, source_page_path
from tests.emulator.emulator_helpers import create_postgres
from tests.emulator.test_pages import _parse

WAREHOUSE = {
    "host": "warehouse.internal",
    "port": "5432",
    "username": "loader",
    "password": "s3cret-warehouse-pass",
    "database": "analytics",
    "ssl": "false",
    "encryption_type": "none",
}
HOSTILE = "<script>alert('x')</script>"


def create_destination(http: httpx.Client, name: str = "Warehouse", **extra: Any) -> dict[str, Any]:
    answer = http.post(
        "/v4/destinations", json={"type": "postgres", "name": name, "properties": dict(WAREHOUSE), **extra}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_destination_page_shows_what_it_is_its_check_properties_and_the_sources_loading_there(
    emu: StitchEmulator, http: httpx.Client
) -> None:
    destination = create_destination(http, description="the analytics warehouse")
    source = create_postgres(http, "Orders DB")
    emu.control.advance(5)  # the destination's connection check ends
    page = httpx.get(emu.base_url + destination_page_path(destination["id"]))
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src" not in page.headers["content-security-policy"]
    parsed = _parse(page)
    text = " | ".join(parsed.text)
    assert parsed.heading == "Warehouse"
    assert f"Destination id | {destination['id']}" in text
    assert "Type | postgres" in text and "Description | the analytics warehouse" in text
    assert f"Account (client id) | {emu.client_id}" in text
    assert "Last connection check | succeeded" in text
    # Non-credential values as the API shows them; the credential by name only.
    assert "host | warehouse.internal" in text and "username | loader" in text
    assert "database | analytics" in text and "port | 5432" in text
    assert "password | credential, not shown" in text
    assert WAREHOUSE["password"] not in page.text
    # The account's source loads here, linked to its own page.
    assert "Orders DB" in text and source_page_path(source["id"]) in parsed.links


def test_destination_page_escapes_names_and_check_messages(emu: StitchEmulator, http: httpx.Client) -> None:
    destination = create_destination(http, name=HOSTILE, description="<img src=x onerror=alert(1)>")
    create_postgres(http, "</td><script>steal()</script>")
    emu.control.advance(5)
    page = httpx.get(emu.base_url + destination_page_path(destination["id"]))
    parsed = _parse(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert parsed.heading == HOSTILE
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
    assert any(chunk == "<img src=x onerror=alert(1)>" for chunk in parsed.text)
    assert any(chunk == "</td><script>steal()</script>" for chunk in parsed.text)


def test_a_failed_destination_check_shows_stitchs_message_and_no_credential_value(
    emu: StitchEmulator, http: httpx.Client
) -> None:
    destination = create_destination(http)
    emu.control.advance(5)
    changed = http.put(
        f"/v4/destinations/{destination['id']}",
        json={"properties": {"password": "wrong", "host": "other.internal"}},
    )
    assert changed.status_code == 200, changed.text
    running = " | ".join(_parse(httpx.get(emu.base_url + destination_page_path(destination["id"]))).text)
    assert "host | other.internal" in running and "Last connection check | running" in running
    emu.control.advance(5)
    page = httpx.get(emu.base_url + destination_page_path(destination["id"]))
    parsed = _parse(page)
    text = " | ".join(parsed.text)
    assert 'Last connection check | failed: FATAL:  password authentication failed for user "loader"' in text
    assert "password | credential, not shown" in text
    assert "wrong" not in parsed.text and WAREHOUSE["password"] not in page.text


def test_unknown_destinations_answer_404_in_html(emu: StitchEmulator, http: httpx.Client) -> None:
    destination = create_destination(http)
    assert http.delete(f"/v4/destinations/{destination['id']}").status_code == 200
    answers = [
        httpx.get(emu.base_url + destination_page_path(destination["id"])),  # deleted
        httpx.get(emu.base_url + destination_page_path(999999)),
        httpx.get(emu.base_url + "/_emulator/destinations/not-a-number"),
    ]
    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert all(answer.headers["content-type"].startswith("text/html") for answer in answers)
    assert "This emulator has no destination 999999." in answers[1].text


def test_the_destination_page_is_not_an_api_request(emu: StitchEmulator, http: httpx.Client) -> None:
    destination = create_destination(http)
    before = emu.control.stats(include_log=False)["requests"]["total"]
    emu.control.set_faults(pattern=".*", status=500)
    assert httpx.get(emu.base_url + destination_page_path(destination["id"])).status_code == 200
    emu.control.clear_faults()
    assert emu.control.stats(include_log=False)["requests"]["total"] == before
