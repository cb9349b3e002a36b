"""Apache Airflow provider for the Stitch Connect API."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """Describe this provider to Airflow's provider manager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-stitch",
        "name": "Stitch",
        "description": "Run the Stitch Connect API from Airflow: sources, destinations, streams, "
        "replication jobs and their extractions and loads.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Stitch",
                "external-doc-url": "https://www.stitchdata.com/docs/developers/stitch-connect/api",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "Stitch", "python-modules": ["airflow_provider_stitch.hooks.stitch"]},
        ],
        "operators": [
            {
                "integration-name": "Stitch",
                "python-modules": [
                    "airflow_provider_stitch.operators.sources",
                    "airflow_provider_stitch.operators.destinations",
                    "airflow_provider_stitch.operators.streams",
                    "airflow_provider_stitch.operators.notifications",
                    "airflow_provider_stitch.operators.accounts",
                    "airflow_provider_stitch.operators.replication",
                ],
            },
        ],
        "sensors": [
            {"integration-name": "Stitch", "python-modules": ["airflow_provider_stitch.sensors.replication"]},
        ],
        "triggers": [
            {
                "integration-name": "Stitch",
                "python-modules": [
                    "airflow_provider_stitch.triggers.connection_check",
                    "airflow_provider_stitch.triggers.replication",
                ],
            },
        ],
        "extra-links": [
            "airflow_provider_stitch.links.StitchSourceLink",
            "airflow_provider_stitch.links.StitchExtractionLogsLink",
            "airflow_provider_stitch.links.StitchDestinationLink",
        ],
        "connection-types": [
            {
                "connection-type": "stitch",
                "hook-class-name": "airflow_provider_stitch.hooks.stitch.StitchHook",
                "hook-name": "Stitch",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port"],
                    "relabeling": {
                        "password": "API access token (Stitch: Account settings > API access keys)",
                        "host": "Base URL (optional; with its scheme, e.g. https://)",
                    },
                    "placeholders": {
                        "host": "https://api.stitchdata.com",
                        "password": "the whole token Stitch showed when it was created",
                        "budget_location": "redis://127.0.0.1:6379/0 or /var/lib/airflow/stitch_budget.sqlite",
                    },
                },
                # No "default" in these schemas: the form would store it in every saved connection, and a
                # default frozen there no longer follows the provider (the hook applies its own defaults).
                "conn-fields": {
                    "stitch_client_id": {
                        "label": "Stitch client id",
                        "description": "Account id used in Jobs paths; read from the account when empty. "
                        "Test checks that it is the token's account.",
                        "schema": {"type": ["integer", "null"], "minimum": 1},
                    },
                    "partner_id": {
                        "label": "Partner id",
                        "description": "Only for partners creating accounts or exchanging OAuth codes.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "partner_secret": {
                        "label": "Partner secret",
                        "description": "The secret Stitch gave the partner with the partner id; only for "
                        "creating accounts and exchanging OAuth codes. Masked in logs.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "jobs_budget": {
                        "label": "Jobs requests per 10 minutes",
                        "description": "Share of Stitch's 30 Jobs requests per 10 minutes this connection may "
                        "use; empty means all 30.",
                        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 30},
                    },
                    "budget_backend": {
                        "label": "Jobs budget store",
                        "description": "memory: one process; sqlite: processes of one host; redis: many hosts. "
                        "Empty means sqlite.",
                        "schema": {"type": ["string", "null"], "enum": ["memory", "sqlite", "redis", None]},
                    },
                    "budget_location": {
                        "label": "Jobs budget location",
                        "description": "SQLite file path, or a Redis URL such as redis://127.0.0.1:6379/0 "
                        "(rediss:// for TLS); empty means a file under AIRFLOW_HOME.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "emulator_speed": {
                        "label": "Emulator speed",
                        "description": "Leave empty: a loopback emulator reports its own speed and the Jobs "
                        "budget follows it. When set, it must match the speed the emulator reports.",
                        "schema": {"type": ["number", "null"], "minimum": 1},
                    },
                },
            }
        ],
    }
