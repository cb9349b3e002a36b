"""Stitch operators; each class is imported from its module on first use, so DAG parsing stays cheap."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_stitch.operators.accounts import StitchCreateAccountOperator
    from airflow_provider_stitch.operators.destinations import (
        StitchCreateDestinationOperator,
        StitchDeleteDestinationOperator,
        StitchUpdateDestinationOperator,
    )
    from airflow_provider_stitch.operators.notifications import (
        StitchCustomEmailOperator,
        StitchPostLoadHookOperator,
    )
    from airflow_provider_stitch.operators.replication import (
        StitchStartReplicationOperator,
        StitchStopReplicationOperator,
    )
    from airflow_provider_stitch.operators.sources import (
        StitchCreateSourceOperator,
        StitchDeleteSourceOperator,
        StitchPauseSourceOperator,
        StitchUnpauseSourceOperator,
        StitchUpdateSourceOperator,
    )
    from airflow_provider_stitch.operators.streams import StitchSelectStreamsOperator

#: Public class name -> module (relative to this package) that defines it.
_OPERATOR_MODULES = {
    "StitchCreateAccountOperator": ".accounts",
    "StitchCreateDestinationOperator": ".destinations",
    "StitchUpdateDestinationOperator": ".destinations",
    "StitchDeleteDestinationOperator": ".destinations",
    "StitchCustomEmailOperator": ".notifications",
    "StitchPostLoadHookOperator": ".notifications",
    "StitchStartReplicationOperator": ".replication",
    "StitchStopReplicationOperator": ".replication",
    "StitchCreateSourceOperator": ".sources",
    "StitchUpdateSourceOperator": ".sources",
    "StitchPauseSourceOperator": ".sources",
    "StitchUnpauseSourceOperator": ".sources",
    "StitchDeleteSourceOperator": ".sources",
    "StitchSelectStreamsOperator": ".streams",
}

__all__ = [
    "StitchCreateAccountOperator",
    "StitchCreateDestinationOperator",
    "StitchCreateSourceOperator",
    "StitchCustomEmailOperator",
    "StitchDeleteDestinationOperator",
    "StitchDeleteSourceOperator",
    "StitchPauseSourceOperator",
    "StitchPostLoadHookOperator",
    "StitchSelectStreamsOperator",
    "StitchStartReplicationOperator",
    "StitchStopReplicationOperator",
    "StitchUnpauseSourceOperator",
    "StitchUpdateDestinationOperator",
    "StitchUpdateSourceOperator",
]


def __getattr__(name: str) -> Any:
    """Import an operator class from its module the first time it is asked for."""
    module_name = _OPERATOR_MODULES.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
