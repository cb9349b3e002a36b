"""Operators that create, update and delete Stitch destinations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.links import StitchDestinationLink, push_stitch_destination
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
from airflow_provider_stitch.operators.convergence import converge

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_stitch.api.models import Destination

DESTINATION_HINTS = {
    "destination limit": "The account already has as many destinations as its Stitch plan allows: delete "
    "an unused one (StitchDeleteDestinationOperator), reuse an existing one by giving its name, or move "
    "to a plan with more destinations.",
    "destination type": "A destination's type cannot change; create a new destination of the other type.",
    "invalid connection id": "No destination has this id; check destination_id.",
}


class StitchCreateDestinationOperator(StitchPropertiesOperator):
    """Create a destination, or reuse the live one with the same name (or type); returns its id.

    Two runs creating the same destination at once end with one destination, whose id both return.

    :param destination_type: destination type, e.g. ``postgres``, ``snowflake``, ``redshift``.
    :param properties: the type's form properties.
    :param name: the destination's name; the lookup key that makes re-runs reuse it. Without a name the
        only live destination of this type is reused, if there is exactly one.
    :param if_exists: when it already exists: ``update`` its properties, ``skip`` (reuse unchanged), ``fail``.
    """

    template_fields: Sequence[str] = ("destination_type", "properties", "name")
    template_fields_renderers = {"properties": "json"}
    credential_kind = "destination"
    operator_extra_links = (StitchDestinationLink(),)

    def __init__(
        self,
        *,
        destination_type: str,
        properties: dict[str, Any],
        name: str | None = None,
        if_exists: str = "update",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination_type = destination_type
        self.properties = properties
        self.name = name
        with naming_the_task(self.task_id):
            self.if_exists = require_choice("if_exists", if_exists, IF_EXISTS_CHOICES)
            self._check_arguments()
            self.check_properties_at_parse(destination_type, partial=False)

    def known_type(self) -> str | None:
        return None if contains_template(self.destination_type) else self.destination_type

    def _check_arguments(self) -> None:
        if not contains_template(self.destination_type):
            require_text("destination_type", self.destination_type)
        if self.name is not None and not contains_template(self.name):
            require_text("name", self.name)
        require_mapping("properties", self.properties)

    @property
    def _label(self) -> str:
        return f"destination {self.name!r}" if self.name else f"{self.destination_type} destination"

    def execute(self, context: Context) -> int:
        secrets = self.mask_credentials()
        with stitch_errors(f"create {self._label}", DESTINATION_HINTS, secrets=secrets):
            self._check_arguments()
            destination_type, properties = self.properties_for(self.destination_type, partial=False)
            existing = self._find_existing(destination_type)
            if existing is None:
                destination = self._create(destination_type, properties)
            else:
                destination = self._reuse(existing, destination_type, properties)
        push_stitch_destination(
            context, destination.stitch_client_id, destination.id, api_url=self.client.base_url
        )
        return destination.id

    def _create(self, destination_type: str, properties: dict[str, Any]) -> Destination:
        """Create the destination, then converge with any racing task that created it too."""
        from airflow_provider_stitch.api.errors import StitchAPIError

        try:
            created = self.client.create_destination(destination_type, properties, display_name=self.name)
        except StitchAPIError:
            # A racing task's destination may be what now stands in the way (e.g. the plan's limit).
            rivals = self._rivals(destination_type)
            if not rivals:
                raise
            winner = min(rivals, key=lambda d: d.id)
            self.log.info("%s was created by another task at the same time (id %s)", self._label, winner.id)
            return self._reuse(winner, destination_type, properties, raced=True)
        seen: list[Destination] = []

        def look_again() -> list[int]:
            seen[:] = self._rivals(destination_type)
            return [d.id for d in seen]

        winner_id = converge(created.id, look_again, self.client.delete_destination)
        if winner_id != created.id:
            self.log.info(
                "%s was also created by another task (id %s, first); deleted this task's copy %s",
                self._label,
                winner_id,
                created.id,
            )
            winner = next(d for d in seen if d.id == winner_id)
            return self._reuse(winner, destination_type, properties, raced=True)
        self.log.info("Created %s with id %s", self._label, created.id)
        return created

    def _reuse(
        self, existing: Destination, destination_type: str, properties: dict[str, Any], *, raced: bool = False
    ) -> Destination:
        """Apply ``if_exists`` to the live destination this task manages.

        :param raced: it appeared while this task was creating it (a racing run of the same create):
            ``if_exists='fail'`` adopts it instead of failing.
        """
        if existing.type and existing.type != destination_type:
            raise AirflowException(
                f"Destination {existing.id} named {self.name!r} has type {existing.type}, not "
                f"{destination_type}; a destination's type cannot change."
            )
        if self.if_exists == "fail" and not raced:
            raise AirflowException(f"{self._label} already exists (id {existing.id}) and if_exists='fail'.")
        if self.if_exists != "update" or not properties:
            self.log.info("%s exists (id %s); left unchanged", self._label, existing.id)
            return existing
        updated = self.client.update_destination(existing.id, properties=properties)
        self.log.info("%s exists (id %s); properties updated", self._label, existing.id)
        return updated if updated.id == existing.id else existing

    def _rivals(self, destination_type: str) -> list[Destination]:
        """Every live destination this task's look-up answers to: by name, or of the type when unnamed."""
        live = [d for d in self.client.list_destinations() if d.deleted_at is None]
        if self.name:
            return [d for d in live if self.name in (d.name, d.display_name)]
        return [d for d in live if d.type == destination_type]

    def _find_existing(self, destination_type: str) -> Destination | None:
        """The live destination this task manages: by name, or the only one of the type when unnamed."""
        if self.name:
            return self.client.find_destination(self.name)
        same_type = self._rivals(destination_type)
        if len(same_type) > 1:
            ids = ", ".join(str(d.id) for d in same_type)
            raise AirflowException(
                f"Several {destination_type} destinations exist ({ids}); give name to say which one to manage."
            )
        return same_type[0] if same_type else None


class StitchUpdateDestinationOperator(StitchPropertiesOperator):
    """Change some properties of a destination (others stay); returns its id.

    :param destination_id: the destination.
    :param properties: the properties to change, checked against the destination's type.
    """

    template_fields: Sequence[str] = ("destination_id", "properties")
    template_fields_renderers = {"properties": "json"}
    credential_kind = "destination"
    operator_extra_links = (StitchDestinationLink(),)

    def __init__(self, *, destination_id: int | str, properties: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.destination_id = destination_id
        self.properties = properties
        with naming_the_task(self.task_id):
            require_id("destination_id", destination_id)
            require_mapping("properties", properties, allow_empty=False)

    def execute(self, context: Context) -> int:
        destination_id = require_id("destination_id", self.destination_id) or int(self.destination_id)
        require_mapping("properties", self.properties, allow_empty=False)
        secrets = self.mask_credentials()
        with stitch_errors(f"update destination {destination_id}", DESTINATION_HINTS, secrets=secrets):
            current = next((d for d in self.client.list_destinations() if d.id == destination_id), None)
            if current is None or current.deleted_at is not None:
                raise AirflowException(f"No live destination has id {destination_id}.")
            properties = dict(self.properties)
            if current.type:
                self.mask_credentials(current.type)
                _, properties = self.properties_for(current.type, partial=True)
            self.client.update_destination(destination_id, properties=properties)
        self.log.info("Updated destination %s", destination_id)
        push_stitch_destination(
            context, current.stitch_client_id, destination_id, api_url=self.client.base_url
        )
        return destination_id


class StitchDeleteDestinationOperator(StitchBaseOperator):
    """Delete a destination (replication stops until another passes a check); already gone is success.

    :param destination_id: the destination.
    """

    template_fields: Sequence[str] = ("destination_id",)

    def __init__(self, *, destination_id: int | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.destination_id = destination_id
        with naming_the_task(self.task_id):
            require_id("destination_id", destination_id)

    def execute(self, context: Context) -> int:
        from airflow_provider_stitch.api.errors import StitchBadRequestError

        destination_id = require_id("destination_id", self.destination_id) or int(self.destination_id)
        with stitch_errors(f"delete destination {destination_id}", DESTINATION_HINTS):
            live = {d.id for d in self.client.list_destinations() if d.deleted_at is None}
            if destination_id not in live:
                self.log.info("Destination %s does not exist (any more): nothing to delete", destination_id)
                return destination_id
            try:
                self.client.delete_destination(destination_id)
            except StitchBadRequestError as error:
                if "unable to locate" not in (error.message or "").lower():
                    raise
                self.log.info("Destination %s was already deleted: %s", destination_id, error.message)
                return destination_id
        self.log.info("Deleted destination %s", destination_id)
        return destination_id
