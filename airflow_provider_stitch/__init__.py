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
        "connection-types": [
            {
                "connection-type": "stitch",
                "hook-class-name": "airflow_provider_stitch.hooks.stitch.StitchHook",
                "hook-name": "Stitch",
            }
        ],
    }
