"""Sensors; importing this package loads no HTTP client or API model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_stitch.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from airflow_provider_stitch.sensors.replication import StitchExtractionSensor, StitchLoadSensor

#: Public class name -> module (relative to this package) that defines it.
_MODULES = {
    "StitchExtractionSensor": ".replication",
    "StitchLoadSensor": ".replication",
}
__all__ = ["StitchExtractionSensor", "StitchLoadSensor"]

__getattr__ = lazy_getattr(__name__, _MODULES, globals())
