"""Operators that create, update, pause, unpause and delete Stitch sources."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.defaults import default_deferrable
from airflow_provider_stitch.links import StitchSourceLink, push_stitch_source
from airflow_provider_stitch.operators.base import (
    IF_EXISTS_CHOICES,
    StitchBaseOperator,
    StitchPropertiesOperator,
    contains_template,
    naming_the_task,
    require_choice,
    require_id,
    require_mapping,
    require_text,
    stitch_errors,
)
from airflow_provider_stitch.operators.credentials import scrub

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_stitch.api.models import Source

DEFAULT_CHECK_TIMEOUT = 900.0
DEFAULT_CHECK_POLL_INTERVAL = 15.0
#: Report-card steps before discovery: while a source sits at one, no connection check will run.
STEPS_BEFORE_CHECK = ("form", "oauth")

CREATE_SOURCE_HINTS = {
    "non-unique name": "Stitch derives the schema name from display_name and another source, possibly a "
    "deleted one, already uses that name; choose another display_name.",
    "AccessDenied": "The Stitch account's plan does not allow this; check the plan or the source type.",
    "InvalidCronExpression": "Stitch reads cron_expression as a Quartz expression (seconds first, '?' for "
    "the unused day field).",
}


def _missing_step_properties(source: Source) -> list[str]:
    """Required properties of the source's current step that Stitch has not received yet."""
    card = source.report_card
    if card is None or card.current_step_type is None:
        return []
    step = card.step(card.current_step_type)
    if step is None:
        return []
    return [p.name for p in step.properties if p.is_required and p.provided is False]


class _SourceWithConnectionCheck(StitchPropertiesOperator):
    """A source operator that can wait for the source's connection check after writing it.

    :param wait_for_connection_check: wait until Stitch's connection check and discovery have finished,
        and fail with Stitch's message when they failed.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param connection_check_timeout: seconds to wait for the check before failing.
    :param poll_interval: seconds between two looks at the check.
    """

    operator_extra_links = (StitchSourceLink(),)
    credential_kind = "source"

    def __init__(
        self,
        *,
        wait_for_connection_check: bool = False,
        deferrable: bool | None = None,
        connection_check_timeout: float = DEFAULT_CHECK_TIMEOUT,
        poll_interval: float = DEFAULT_CHECK_POLL_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if connection_check_timeout <= 0 or poll_interval <= 0:
            raise ValueError(
                f"task {self.task_id}: connection_check_timeout and poll_interval must be positive numbers "
                "of seconds"
            )
        self.wait_for_connection_check = wait_for_connection_check
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.connection_check_timeout = float(connection_check_timeout)
        self.poll_interval = float(poll_interval)

    def _finish(self, context: Context, source: Source) -> int:
        """Publish the link, wait for the check when asked, and return the source id."""
        push_stitch_source(context, source.stitch_client_id, source.id, api_url=self.client.base_url)
        if not self.wait_for_connection_check:
            return source.id
        step = source.report_card.current_step_type if source.report_card else None
        if step in STEPS_BEFORE_CHECK:
            missing = _missing_step_properties(source)
            detail = f" (not yet provided: {', '.join(missing)})" if missing else ""
            raise AirflowException(
                f"Source {source.id} waits at the {step!r} step{detail}; Stitch starts the connection check "
                "only after that step is complete, so there is nothing to wait for."
            )
        from airflow_provider_stitch.triggers.connection_check import (
            CHECK_RUNNING,
            StitchConnectionCheckTrigger,
        )

        deadline = time.time() + self.connection_check_timeout
        outcome = self._read_check(source.id, source.check_job_name)
        if outcome.state == CHECK_RUNNING and self.deferrable:
            self.defer(
                trigger=StitchConnectionCheckTrigger(
                    source_id=source.id,
                    deadline=deadline,
                    stitch_conn_id=self.stitch_conn_id,
                    poll_interval=self.poll_interval,
                    check_job_name=source.check_job_name,
                    hook_params=self.hook_params,  # the trigger keeps the JSON-safe ones
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.connection_check_timeout + 60),
            )
        while outcome.state == CHECK_RUNNING:
            if time.time() >= deadline:
                raise AirflowException(
                    f"Gave up after {self.connection_check_timeout:g} s waiting for the connection check of "
                    f"source {source.id}: {outcome.message}"
                )
            self.log.info(
                "Waiting for the connection check of source %s: %s",
                source.id,
                scrub(outcome.message, self._secrets),
            )
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.time())))
            outcome = self._read_check(source.id, source.check_job_name)
        return self._conclude(source.id, outcome.state, outcome.message)

    def _read_check(self, source_id: int, check_job_name: str | None) -> Any:
        """One look at the last connection check (a missing check counts as not started)."""
        from airflow_provider_stitch.api.errors import StitchNotFoundError
        from airflow_provider_stitch.triggers.connection_check import (
            UNKNOWN_SOURCE_CODE,
            read_connection_check,
        )

        with stitch_errors(f"read the connection check of source {source_id}", secrets=self._secrets):
            try:
                check = self.client.get_last_connection_check(source_id)
            except StitchNotFoundError as error:
                if error.code == UNKNOWN_SOURCE_CODE:
                    raise
                check = None
        return read_connection_check(check, source_id, check_job_name)

    def _conclude(self, source_id: int, state: str, message: str) -> int:
        from airflow_provider_stitch.triggers.connection_check import CHECK_SUCCEEDED

        message = scrub(message, self._secrets)
        if state != CHECK_SUCCEEDED:
            raise AirflowException(f"Source {source_id}: {message}")
        self.log.info("Source %s: %s", source_id, message)
        return source_id

    def execute_complete(self, context: Context, event: dict[str, Any]) -> int:
        """Resume after the connection-check trigger fired; return the source id."""
        return self._conclude(int(event["source_id"]), str(event["status"]), str(event.get("message", "")))


class StitchCreateSourceOperator(_SourceWithConnectionCheck):
    """Create a Stitch source, or reuse the live one with the same display name; returns its id.

    :param source_type: source type, e.g. ``platform.postgres`` (``postgres``-style short names work too).
    :param display_name: the source's label; Stitch derives its destination schema name from it.
    :param properties: form properties, schedule included (``frequency_in_minutes`` or ``cron_expression``).
    :param destination_id: destination to load into (accounts with several destinations).
    :param if_exists: when a live source already has this display name: ``update`` its properties,
        ``skip`` (reuse it unchanged) or ``fail``.
    :param wait_for_connection_check: see :class:`_SourceWithConnectionCheck`.
    """

    template_fields: Sequence[str] = ("source_type", "display_name", "properties", "destination_id")
    template_fields_renderers = {"properties": "json"}

    def __init__(
        self,
        *,
        source_type: str,
        display_name: str,
        properties: dict[str, Any],
        destination_id: int | str | None = None,
        if_exists: str = "update",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_type = source_type
        self.display_name = display_name
        self.properties = properties
        self.destination_id = destination_id
        with naming_the_task(self.task_id):
            self.if_exists = require_choice("if_exists", if_exists, IF_EXISTS_CHOICES)
            self._check_arguments()
            self.check_properties_at_parse(source_type, partial=False)

    def known_type(self) -> str | None:
        return None if contains_template(self.source_type) else self.source_type

    def _check_arguments(self) -> None:
        """Reject arguments that can never work (skipping parts that are still templates)."""
        if not contains_template(self.display_name):
            require_text("display_name", self.display_name)
        if not contains_template(self.source_type):
            require_text("source_type", self.source_type)
        if self.destination_id is not None:
            require_id("destination_id", self.destination_id)
        require_mapping("properties", self.properties)

    def execute(self, context: Context) -> int:
        secrets = self.mask_credentials()
        with stitch_errors(f"create source {self.display_name!r}", CREATE_SOURCE_HINTS, secrets=secrets):
            self._check_arguments()
            source_type, properties = self.properties_for(self.source_type, partial=False)
            destination_id = int(self.destination_id) if self.destination_id is not None else None
            existing = self.client.find_source(self.display_name)
            if existing is None:
                source = self._create(source_type, properties, destination_id)
            else:
                source = self._reuse(existing, source_type, properties, destination_id)
        return self._finish(context, source)

    def _create(self, source_type: str, properties: dict[str, Any], destination_id: int | None) -> Source:
        """Create the source; when a racing task created it first, use that one."""
        from airflow_provider_stitch.api.errors import StitchAPIError

        try:
            source = self.client.create_source(
                source_type, self.display_name, properties, destination_id=destination_id
            )
        except StitchAPIError as error:
            winner = self.client.find_source(self.display_name) if error.code == "InvalidName" else None
            if winner is None:
                raise
            self.log.info(
                "Source %s was created by another task at the same time (id %s); using it",
                self.display_name,
                winner.id,
            )
            return self._reuse(winner, source_type, properties, destination_id, raced=True)
        self.log.info("Created source %s (%s) with id %s", self.display_name, source_type, source.id)
        return source

    def _reuse(
        self,
        existing: Source,
        source_type: str,
        properties: dict[str, Any],
        destination_id: int | None,
        *,
        raced: bool = False,
    ) -> Source:
        """Apply ``if_exists`` to the live source that already has this display name.

        :param raced: the source appeared between this task's look-up and its create (a racing run of the
            same create): ``if_exists='fail'`` adopts it instead of failing.
        """
        if existing.type and existing.type != source_type:
            raise AirflowException(
                f"A source named {self.display_name!r} already exists (id {existing.id}) with type "
                f"{existing.type}, not {source_type}; choose another display_name or delete that source."
            )
        if self.if_exists == "fail" and not raced:
            raise AirflowException(
                f"A source named {self.display_name!r} already exists (id {existing.id}) and if_exists='fail'."
            )
        if self.if_exists != "update" or (not properties and destination_id is None):
            self.log.info("Source %s exists (id %s); left unchanged", self.display_name, existing.id)
            return existing
        self.log.info("Source %s exists (id %s); updating its properties", self.display_name, existing.id)
        return self.client.update_source(
            existing.id, properties=properties or None, destination_id=destination_id
        )


class StitchUpdateSourceOperator(_SourceWithConnectionCheck):
    """Change some properties or the display name of a source; returns its id.

    :param source_id: the source to change.
    :param properties: the properties to change (others stay as they are); checked against the source's type.
    :param display_name: a new display name (the schema name Stitch derived at creation stays).
    :param wait_for_connection_check: see :class:`_SourceWithConnectionCheck`.
    """

    template_fields: Sequence[str] = ("source_id", "properties", "display_name")
    template_fields_renderers = {"properties": "json"}

    def __init__(
        self,
        *,
        source_id: int | str,
        properties: dict[str, Any] | None = None,
        display_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_id = source_id
        self.properties = properties
        self.display_name = display_name
        with naming_the_task(self.task_id):
            self._check_arguments()

    def _check_arguments(self) -> None:
        require_id("source_id", self.source_id)
        if self.properties is None and self.display_name is None:
            raise ValueError("give properties, display_name or both: there is nothing to update")
        if self.properties is not None:
            require_mapping("properties", self.properties, allow_empty=False)
        if self.display_name is not None and not contains_template(self.display_name):
            require_text("display_name", self.display_name)

    def execute(self, context: Context) -> int:
        secrets = self.mask_credentials()
        with stitch_errors(f"update source {self.source_id}", CREATE_SOURCE_HINTS, secrets=secrets):
            self._check_arguments()
            source_id = int(self.source_id)
            properties = None
            if self.properties:
                current = self.client.get_source(source_id)
                if current.type:
                    self.mask_credentials(current.type)
                    _, properties = self.properties_for(current.type, partial=True)
                else:
                    properties = dict(self.properties)
            source = self.client.update_source(
                source_id, display_name=self.display_name, properties=properties
            )
        self.log.info("Updated source %s", source.id)
        return self._finish(context, source)


class _SourceStateOperator(StitchBaseOperator):
    """Base of the operators that pause, unpause or delete one source.

    :param source_id: the source.
    """

    template_fields: Sequence[str] = ("source_id",)
    operator_extra_links = (StitchSourceLink(),)

    def __init__(self, *, source_id: int | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_id = source_id
        with naming_the_task(self.task_id):
            require_id("source_id", source_id)


class StitchPauseSourceOperator(_SourceStateOperator):
    """Pause a source so Stitch stops its scheduled jobs (manual syncs still run); returns its id."""

    def execute(self, context: Context) -> int:
        source_id = require_id("source_id", self.source_id) or int(self.source_id)
        with stitch_errors(f"pause source {source_id}"):
            source = self.client.get_source(source_id)
            if source.is_deleted:
                raise AirflowException(f"Source {source_id} is deleted; there is nothing to pause.")
            if source.paused_at is not None:
                self.log.info("Source %s is already paused (since %s)", source_id, source.paused_at)
            else:
                source = self.client.pause_source(source_id)
                self.log.info("Paused source %s", source_id)
        push_stitch_source(context, source.stitch_client_id, source.id, api_url=self.client.base_url)
        return source.id


class StitchUnpauseSourceOperator(_SourceStateOperator):
    """Unpause a source so Stitch runs it on its schedule again; returns its id."""

    def execute(self, context: Context) -> int:
        source_id = require_id("source_id", self.source_id) or int(self.source_id)
        with stitch_errors(f"unpause source {source_id}"):
            source = self.client.get_source(source_id)
            if source.is_deleted:
                raise AirflowException(f"Source {source_id} is deleted; it cannot be unpaused.")
            if source.paused_at is None:
                self.log.info("Source %s is not paused", source_id)
            else:
                source = self.client.unpause_source(source_id)
                self.log.info("Unpaused source %s", source_id)
            if source.system_paused_at is not None:
                self.log.warning(
                    "Stitch itself paused source %s at %s; that pause is lifted only in Stitch",
                    source_id,
                    source.system_paused_at,
                )
        push_stitch_source(context, source.stitch_client_id, source.id, api_url=self.client.base_url)
        return source.id


class StitchDeleteSourceOperator(_SourceStateOperator):
    """Delete a source (Stitch keeps it listed with ``deleted_at``); already deleted is success."""

    def execute(self, context: Context) -> int:
        from airflow_provider_stitch.api.errors import StitchBadRequestError, StitchNotFoundError

        source_id = require_id("source_id", self.source_id) or int(self.source_id)
        with stitch_errors(f"delete source {source_id}"):
            try:
                source = self.client.get_source(source_id)
            except (StitchNotFoundError, StitchBadRequestError) as error:
                if error.status == 404 or error.code == "InvalidId":
                    self.log.info(
                        "Source %s does not exist: nothing to delete (%s)", source_id, error.message
                    )
                    return source_id
                raise
            if source.is_deleted:
                self.log.info("Source %s was already deleted at %s", source_id, source.deleted_at)
            else:
                self.client.delete_source(source_id)
                self.log.info("Deleted source %s", source_id)
        return source_id
