"""Deferrable triggers; importing this package loads no HTTP client or API model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_stitch.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from airflow_provider_stitch.triggers.connection_check import StitchConnectionCheckTrigger
    from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger, StitchLoadTrigger

#: Public class name -> module (relative to this package) that defines it.
_MODULES = {
    "StitchExtractionTrigger": ".replication",
    "StitchLoadTrigger": ".replication",
    "StitchConnectionCheckTrigger": ".connection_check",
}
__all__ = ["StitchConnectionCheckTrigger", "StitchExtractionTrigger", "StitchLoadTrigger"]

__getattr__ = lazy_getattr(__name__, _MODULES, globals())
