"""Deferrable triggers; importing this package loads no HTTP client or API model."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_stitch.triggers.replication import StitchExtractionTrigger, StitchLoadTrigger

__all__ = ["StitchExtractionTrigger", "StitchLoadTrigger"]


def __getattr__(name: str) -> Any:
    """Import a trigger class from its module the first time it is asked for."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(".replication", __name__), name)
    globals()[name] = value
    return value
