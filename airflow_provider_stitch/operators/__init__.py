"""Stitch operators; each class is imported from its module on first use, so DAG parsing stays cheap."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_stitch.lazy_exports import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _OPERATOR_MODULES, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
