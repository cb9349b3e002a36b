"""Child-process side of the race tests: run one create operator against the emulator, report the outcome."""

from __future__ import annotations

import os
from typing import Any


class _TaskInstance:
    def xcom_push(self, key: str, value: Any) -> None:
        """The race tests read return values, not XCom."""


def run_create(
    connection: str, operator_name: str, arguments: dict[str, Any], barrier: Any
) -> dict[str, Any]:
    """Build the operator, wait for the other racer, execute; return its id or its failure text.

    :param connection: the ``stitch_default`` connection as JSON.
    :param operator_name: a class name from ``airflow_provider_stitch.operators``.
    :param arguments: the operator's arguments.
    :param barrier: a multiprocessing barrier shared by the racers.
    """
    os.environ["AIRFLOW_CONN_STITCH_DEFAULT"] = connection
    from airflow_provider_stitch import operators
    from airflow_provider_stitch.hooks.stitch import StitchHook

    operator = getattr(operators, operator_name)(**arguments)
    # Imports and the connection lookup come before the barrier: on a busy machine they take seconds, and a
    # racer still importing would send its look-up after the other's held create ended (no race at all).
    StitchHook().get_client()
    barrier.wait(timeout=120)
    try:
        return {"id": operator.execute({"ti": _TaskInstance()})}
    except Exception as error:  # the test reports any failure of a racer
        return {"error": f"{type(error).__name__}: {error}"}
