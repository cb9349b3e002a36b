"""Operators that create, update and delete Stitch destinations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.operators.base import (
    IF_EXISTS_CHOICES,
    StitchBaseOperator,
    connector_of_kind,
    contains_template,
    mask_credentials,
    require_choice,
    require_id,
    require_mapping,
    require_text,
    stitch_errors,
    validate_properties_now,
)

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


class StitchCreateDestinationOperator(StitchBaseOperator):
    """Create a destination, or reuse the live one with the same name (or type); returns its id.

    :param destination_type: destination type, e.g. ``postgres``, ``snowflake``, ``redshift``.
    :param properties: the type's form properties.
    :param name: the destination's name; the lookup key that makes re-runs reuse it. Without a name the
        only live destination of this type is reused, if there is exactly one.
    :param if_exists: when it already exists: ``update`` its properties, ``skip`` (reuse unchanged), ``fail``.
    """

    template_fields: Sequence[str] = ("destination_type", "properties", "name")
    template_fields_renderers = {"properties": "json"}

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
        self.if_exists = require_choice("if_exists", if_exists, IF_EXISTS_CHOICES)
        self._check_arguments()

    def _check_arguments(self) -> None:
        if not contains_template(self.destination_type):
            require_text("destination_type", self.destination_type)
        if self.name is not None and not contains_template(self.name):
            require_text("name", self.name)
        require_mapping("properties", self.properties)
        validate_properties_now(self.destination_type, "destination", self.properties, partial=False)

    def execute(self, context: Context) -> int:
        label = f"destination {self.name!r}" if self.name else f"{self.destination_type} destination"
        with stitch_errors(f"create {label}", DESTINATION_HINTS):
            self._check_arguments()
            connector = connector_of_kind(self.destination_type, "destination")
            mask_credentials(connector.type, self.properties)
            existing = self._find_existing(connector.type)
            if existing is None:
                destination = self.client.create_destination(
                    connector.type, dict(self.properties), display_name=self.name
                )
                self.log.info("Created %s with id %s", label, destination.id)
                return destination.id
            if existing.type and existing.type != connector.type:
                raise AirflowException(
                    f"Destination {existing.id} named {self.name!r} has type {existing.type}, not "
                    f"{connector.type}; a destination's type cannot change."
                )
            if self.if_exists == "fail":
                raise AirflowException(f"{label} already exists (id {existing.id}) and if_exists='fail'.")
            if self.if_exists == "skip" or not self.properties:
                self.log.info("%s exists (id %s); left unchanged", label, existing.id)
                return existing.id
            self.client.update_destination(existing.id, properties=dict(self.properties))
            self.log.info("%s exists (id %s); properties updated", label, existing.id)
            return existing.id

    def _find_existing(self, destination_type: str) -> Destination | None:
        """The live destination this task manages: by name, or the only one of the type when unnamed."""
        if self.name:
            return self.client.find_destination(self.name)
        same_type = [
            d for d in self.client.list_destinations() if d.deleted_at is None and d.type == destination_type
        ]
        if len(same_type) > 1:
            ids = ", ".join(str(d.id) for d in same_type)
            raise AirflowException(
                f"Several {destination_type} destinations exist ({ids}); give name to say which one to manage."
            )
        return same_type[0] if same_type else None


class StitchUpdateDestinationOperator(StitchBaseOperator):
    """Change some properties of a destination (others stay); returns its id.

    :param destination_id: the destination.
    :param properties: the properties to change, checked against the destination's type.
    """

    template_fields: Sequence[str] = ("destination_id", "properties")
    template_fields_renderers = {"properties": "json"}

    def __init__(self, *, destination_id: int | str, properties: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.destination_id = destination_id
        self.properties = properties
        require_id("destination_id", destination_id)
        require_mapping("properties", properties, allow_empty=False)

    def execute(self, context: Context) -> int:
        destination_id = require_id("destination_id", self.destination_id) or int(self.destination_id)
        require_mapping("properties", self.properties, allow_empty=False)
        with stitch_errors(f"update destination {destination_id}", DESTINATION_HINTS):
            current = next((d for d in self.client.list_destinations() if d.id == destination_id), None)
            if current is None or current.deleted_at is not None:
                raise AirflowException(f"No live destination has id {destination_id}.")
            mask_credentials(current.type, self.properties)
            self.client.update_destination(destination_id, properties=dict(self.properties))
        self.log.info("Updated destination %s", destination_id)
        return destination_id


class StitchDeleteDestinationOperator(StitchBaseOperator):
    """Delete a destination (replication stops until another passes a check); already gone is success.

    :param destination_id: the destination.
    """

    template_fields: Sequence[str] = ("destination_id",)

    def __init__(self, *, destination_id: int | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.destination_id = destination_id
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
