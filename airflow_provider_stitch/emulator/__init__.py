"""Offline Stitch Connect API emulator: a real HTTP server that behaves like the API.

Public API:
    StitchEmulator(port=0, token=None, client_id=None, speed=1.0, clock="real", ...)  context manager
    EmulatorControl                    its ``.control`` client (reset, state, stats, advance, faults, ...)
    create_app(settings) -> ASGI app   for mounting elsewhere
    server.main(argv) -> int           the ``airflow-stitch emulator`` command
Importing this package is cheap; the server modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_stitch.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from airflow_provider_stitch.emulator.app import create_app
    from airflow_provider_stitch.emulator.harness import EmulatorControl, StitchEmulator
    from airflow_provider_stitch.emulator.state import EmulatorSettings

__all__ = ["EmulatorControl", "EmulatorSettings", "StitchEmulator", "create_app"]

#: Public name -> module (relative to this package) that defines it.
_EXPORTS = {
    "StitchEmulator": ".harness",
    "EmulatorControl": ".harness",
    "EmulatorSettings": ".state",
    "create_app": ".app",
}

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
