"""Wait, without blocking the triggerer, until a source's connection check (and discovery) has finished.

The last-connection-check endpoint is not a Jobs endpoint, so polling it costs nothing from the Jobs budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_stitch.defaults import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_provider_stitch.api.models import ConnectionCheck

CHECK_RUNNING = "running"
CHECK_SUCCEEDED = "success"
CHECK_FAILED = "failed"
CHECK_TIMED_OUT = "timeout"
CHECK_ERROR = "error"
#: Stitch's error code for an unknown source id (a 404 without it means "no check yet").
UNKNOWN_SOURCE_CODE = "InvalidId"


@dataclass(frozen=True)
class CheckOutcome:
    """Where a source's connection check stands.

    :param state: ``running``, ``success`` or ``failed``.
    :param message: Stitch's error message for a failed check; a note otherwise.
    :param check_name: the check job's name, when Stitch reported one.
    """

    state: str
    message: str
    check_name: str | None = None


def read_connection_check(
    check: ConnectionCheck | None, source_id: int, expected_name: str | None = None
) -> CheckOutcome:
    """Judge a last-connection-check answer.

    :param check: the check Stitch returned, or None when there is none yet.
    :param source_id: the source, for messages.
    :param expected_name: the check job the source announced (``check_job_name``); an older check with
        another name means the new one has not shown up yet.
    """
    if check is None or (check.name is None and check.status is None and check.start_time is None):
        return CheckOutcome(CHECK_RUNNING, f"source {source_id} has no connection check yet")
    if expected_name and check.name and check.name != expected_name:
        return CheckOutcome(
            CHECK_RUNNING, f"connection check {expected_name} has not started yet", check.name
        )
    if check.is_running:
        return CheckOutcome(CHECK_RUNNING, f"connection check {check.name} is running", check.name)
    statuses = (check.check_exit_status, check.discovery_exit_status, check.tap_exit_status)
    failed = check.status == "failed" or bool(check.error) or any(s not in (None, 0) for s in statuses)
    if not failed:
        return CheckOutcome(CHECK_SUCCEEDED, f"connection check {check.name} succeeded", check.name)
    reason = (
        check.discovery_error_message
        or check.tap_error_message
        or check.target_error_message
        or "Stitch gave no error message (exit statuses: check {}, discovery {}, tap {})".format(*statuses)
    )
    return CheckOutcome(
        CHECK_FAILED, f"connection check {check.name} of source {source_id} failed: {reason}", check.name
    )


class StitchConnectionCheckTrigger(BaseTrigger):
    """Fire once the connection check of a source has succeeded or failed, or the deadline passed.

    :param source_id: the source whose check is awaited.
    :param deadline: wall-clock time (epoch seconds) after which the trigger gives up.
    :param stitch_conn_id: Airflow connection of type ``stitch``.
    :param poll_interval: seconds between two looks at the check.
    :param check_job_name: the check job announced by the source; earlier checks are ignored.
    :param hook_params: JSON-safe arguments of the Stitch hook (``timeout``, ``max_attempts``...).
    """

    def __init__(
        self,
        source_id: int,
        deadline: float,
        stitch_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 15.0,
        check_job_name: str | None = None,
        hook_params: dict[str, Any] | None = None,
    ) -> None:
        from airflow_provider_stitch.triggers.replication import json_safe_hook_params

        super().__init__()
        self.source_id = int(source_id)
        self.deadline = float(deadline)
        self.stitch_conn_id = stitch_conn_id
        self.poll_interval = float(poll_interval)
        self.check_job_name = check_job_name
        self.hook_params = json_safe_hook_params(hook_params)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and primitive arguments, so the triggerer can rebuild this trigger."""
        kwargs: dict[str, Any] = {
            "source_id": self.source_id,
            "deadline": self.deadline,
            "stitch_conn_id": self.stitch_conn_id,
            "poll_interval": self.poll_interval,
            "check_job_name": self.check_job_name,
        }
        if self.hook_params:
            kwargs["hook_params"] = dict(self.hook_params)
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    def _event(self, state: str, message: str, check_name: str | None = None) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": state,
                "source_id": self.source_id,
                "check_job_name": check_name or self.check_job_name,
                "message": message,
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll the last connection check until it is decided or the deadline passes."""
        from airflow_provider_stitch.api.errors import StitchError, StitchNotFoundError
        from airflow_provider_stitch.hooks.stitch import StitchHook

        hook = StitchHook(self.stitch_conn_id, **self.hook_params)
        try:
            client = await hook.aget_client()
        except (StitchError, ValueError) as error:
            yield self._event(CHECK_ERROR, f"could not reach Stitch: {error}")
            return
        try:
            while True:
                try:
                    check = await client.get_last_connection_check(self.source_id)
                except StitchNotFoundError as error:
                    if error.code == UNKNOWN_SOURCE_CODE:
                        yield self._event(CHECK_ERROR, f"could not read the connection check: {error}")
                        return
                    check = None
                except StitchError as error:
                    yield self._event(CHECK_ERROR, f"could not read the connection check: {error}")
                    return
                outcome = read_connection_check(check, self.source_id, self.check_job_name)
                if outcome.state != CHECK_RUNNING:
                    yield self._event(outcome.state, outcome.message, outcome.check_name)
                    return
                remaining = self.deadline - time.time()
                if remaining <= 0:
                    yield self._event(
                        CHECK_TIMED_OUT,
                        f"gave up waiting for the connection check of source {self.source_id}: "
                        f"{outcome.message}",
                        outcome.check_name,
                    )
                    return
                await asyncio.sleep(min(self.poll_interval, remaining))
        finally:
            await client.aclose()
