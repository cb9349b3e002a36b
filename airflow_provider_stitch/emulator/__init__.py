"""Offline Stitch Connect API emulator: a real HTTP server that behaves like the API.

Public API:
    StitchEmulator(port=0, token=None, client_id=None, speed=1.0, clock="real", ...)  context manager
    EmulatorControl                    its ``.control`` client (reset, state, stats, advance, faults, ...)
    create_app(settings) -> ASGI app   for mounting elsewhere
    server.main(argv) -> int           the ``airflow-stitch emulator`` command
Importing this package is cheap; the server modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_stitch.emulator.app import create_app
    from airflow_provider_stitch.emulator.harness import EmulatorControl, StitchEmulator
    from airflow_provider_stitch.emulator.state import EmulatorSettings

__all__ = ["EmulatorControl", "EmulatorSettings", "StitchEmulator", "create_app"]

_HOMES = {
    "StitchEmulator": "airflow_provider_stitch.emulator.harness",
    "EmulatorControl": "airflow_provider_stitch.emulator.harness",
    "EmulatorSettings": "airflow_provider_stitch.emulator.state",
    "create_app": "airflow_provider_stitch.emulator.app",
}


def __getattr__(name: str) -> Any:
    """Load public names on first use."""
    if name not in _HOMES:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
