"""Valid sample properties for filling an emulator account: one Postgres destination, Freshdesk sources.

Load tests, benchmarks and the scale harness create hundreds of sources with these; they pass the
connector validators and name no real host or credential.
"""

from __future__ import annotations

from typing import Any

#: Destination type of :data:`SAMPLE_DESTINATION`.
SAMPLE_DESTINATION_TYPE = "postgres"
SAMPLE_DESTINATION: dict[str, Any] = {
    "host": "warehouse.example.com",
    "port": 5432,
    "username": "loader",
    "password": "not-a-real-password",
    "database": "analytics",
    "encryption_type": "none",
    "ssl": "false",
}
#: Source type of :data:`SAMPLE_SOURCE_PROPERTIES`.
SAMPLE_SOURCE_TYPE = "platform.freshdesk"
SAMPLE_SOURCE_PROPERTIES: dict[str, Any] = {
    "api_key": "not-a-real-key",
    "domain": "acme",
    "start_date": "2024-01-01T00:00:00Z",
}

__all__ = ["SAMPLE_DESTINATION", "SAMPLE_DESTINATION_TYPE", "SAMPLE_SOURCE_PROPERTIES", "SAMPLE_SOURCE_TYPE"]
