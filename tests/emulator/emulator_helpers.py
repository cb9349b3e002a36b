"""Helpers shared by the emulator tests: set up sources through plain HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from airflow_provider_stitch.emulator import StitchEmulator

PG_PROPERTIES = {
    "host": "db.internal",
    "port": "5432",
    "user": "stitch",
    "password": "s3cret-pg",
    "dbname": "shop",
    "include_schemas_in_destination_stream_name": "true",
}


def create_postgres(http: httpx.Client, display_name: str = "Shop DB", **extra: Any) -> dict[str, Any]:
    """Create a hp-postgres source; returns the response body."""
    body = {
        "type": "platform.hp-postgres",
        "display_name": display_name,
        "properties": {**PG_PROPERTIES, **extra},
    }
    response = http.post("/v4/sources", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def configured_postgres(
    emu: StitchEmulator, http: httpx.Client, display_name: str = "Shop DB"
) -> dict[str, Any]:
    """A hp-postgres source through discovery with ``public.customers`` selected (fully configured)."""
    source = create_postgres(http, display_name)
    emu.control.advance(5)
    database = "shop"
    response = http.put(
        f"/v4/sources/{source['id']}/streams/metadata",
        json={
            "streams": [
                {
                    "tap_stream_id": f"{database}-public-customers",
                    "metadata": [
                        {
                            "breadcrumb": [],
                            "metadata": {
                                "selected": True,
                                "replication-method": "INCREMENTAL",
                                "replication-key": "updated_at",
                            },
                        }
                    ],
                }
            ]
        },
    )
    assert response.json() == {"status": 200}
    return http.get(f"/v4/sources/{source['id']}").json()
