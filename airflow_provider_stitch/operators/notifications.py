"""Operators that manage Stitch notifications: custom email recipients and post-load webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.operators.base import (
    StitchBaseOperator,
    contains_template,
    naming_the_task,
    require_choice,
    require_id,
    require_text,
    stitch_errors,
)
from airflow_provider_stitch.operators.convergence import converge

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_stitch.api.models import CustomEmail, PostLoadHook

ACTIONS = ("create", "enable", "disable", "delete")
NOTIFICATION_HINTS = {
    "additional custom notification": "Stitch allows at most 10 custom recipients; delete one first.",
    "not authorized to create custom": "The account's plan lacks custom notification recipients.",
    "limit of": "Stitch allows at most 10 post-load hooks; delete one first.",
    "does not have access to hooks": "The account's plan lacks post-load hooks.",
}


class StitchCustomEmailOperator(StitchBaseOperator):
    """Create, enable, disable or delete a custom notification recipient, found by its address.

    Every action is idempotent: ``create`` reuses an existing recipient (enabled or not), ``enable`` and
    ``disable`` do nothing when it already is, ``delete`` succeeds when there is none. Returns the
    recipient's id (None after ``delete``).

    :param email_address: the recipient's address (matched case-insensitively).
    :param action: ``create``, ``enable``, ``disable`` or ``delete``.
    """

    template_fields: Sequence[str] = ("email_address",)

    def __init__(self, *, email_address: str, action: str = "create", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.email_address = email_address
        with naming_the_task(self.task_id):
            self.action = require_choice("action", action, ACTIONS)
            if not contains_template(email_address):
                _check_email(email_address)

    def _matching(self) -> list[CustomEmail]:
        """Every recipient with this task's address, oldest first."""
        wanted = self.email_address.strip().casefold()
        found = [e for e in self.client.list_custom_emails() if (e.email_address or "").casefold() == wanted]
        return sorted(found, key=lambda e: e.id)

    def _find(self) -> CustomEmail | None:
        return next(iter(self._matching()), None)

    def _create(self) -> int:
        """Add the recipient; when a racing task added it too, keep the first one and delete ours."""
        created = self.client.create_custom_email(self.email_address.strip())
        winner = converge(
            created.id, lambda: [e.id for e in self._matching()], self.client.delete_custom_email
        )
        if winner != created.id:
            self.log.info(
                "Recipient %s was also added by another task (id %s); removed this task's copy %s",
                self.email_address,
                winner,
                created.id,
            )
        else:
            self.log.info("Added recipient %s (id %s)", self.email_address, created.id)
        return winner

    def execute(self, context: Context) -> int | None:
        _check_email(self.email_address)
        with stitch_errors(f"{self.action} custom email recipient {self.email_address}", NOTIFICATION_HINTS):
            existing = self._find()
            if self.action == "create":
                if existing is not None:
                    state = "disabled" if existing.disabled_at else "enabled"
                    self.log.info("Recipient %s exists (id %s, %s)", self.email_address, existing.id, state)
                    return existing.id
                return self._create()
            if self.action == "delete":
                if existing is None:
                    self.log.info("No recipient %s: nothing to delete", self.email_address)
                    return None
                self.client.delete_custom_email(existing.id)
                self.log.info("Deleted recipient %s (id %s)", self.email_address, existing.id)
                return None
            if existing is None:
                raise AirflowException(
                    f"No custom email recipient {self.email_address}; create it first (action='create')."
                )
            want_disabled = self.action == "disable"
            if (existing.disabled_at is not None) == want_disabled:
                self.log.info("Recipient %s is already %sd", self.email_address, self.action)
            elif want_disabled:
                self.client.disable_custom_email(existing.id)
                self.log.info("Disabled recipient %s", self.email_address)
            else:
                self.client.enable_custom_email(existing.id)
                self.log.info("Enabled recipient %s", self.email_address)
            return existing.id


def _check_email(value: Any) -> None:
    """Reject an address that cannot be one (Stitch checks the format itself too)."""
    require_text("email_address", value)
    local, _, domain = str(value).strip().partition("@")
    if not local or "." not in domain or " " in str(value).strip():
        raise ValueError(f"email_address must be an email address, not {value!r}")


def _describe_url(url: str) -> str:
    """The URL's scheme and host only: webhook paths often carry a secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/..." if parts.hostname else "<webhook URL>"


def _check_url(value: Any) -> None:
    require_text("url", value)
    parts = urlsplit(str(value).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an absolute http(s) URL")


class StitchPostLoadHookOperator(StitchBaseOperator):
    """Create, enable, disable or delete a post-load webhook, found by its URL.

    Every action is idempotent like :class:`StitchCustomEmailOperator`. Returns the hook's id (None after
    ``delete``). Logs show only the URL's host, since webhook paths often embed a secret.

    :param url: the URL Stitch posts to after each load.
    :param action: ``create``, ``enable``, ``disable`` or ``delete``.
    :param destination_id: destination whose loads trigger the hook (``create`` only; optional).
    """

    template_fields: Sequence[str] = ("url", "destination_id")

    def __init__(
        self,
        *,
        url: str,
        action: str = "create",
        destination_id: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.destination_id = destination_id
        with naming_the_task(self.task_id):
            self.action = require_choice("action", action, ACTIONS)
            if not contains_template(url):
                _check_url(url)
            if destination_id is not None:
                require_id("destination_id", destination_id)

    def _matching(self) -> list[PostLoadHook]:
        """Every post-load hook calling this task's URL, oldest first."""
        wanted = self.url.strip()
        return sorted((h for h in self.client.list_post_load_hooks() if h.url == wanted), key=lambda h: h.id)

    def _find(self) -> PostLoadHook | None:
        return next(iter(self._matching()), None)

    def _create(self, shown: str) -> int:
        """Add the hook; when a racing task added it too, keep the first one and delete ours."""
        destination_id = int(self.destination_id) if self.destination_id is not None else None
        created = self.client.create_post_load_hook(self.url.strip(), destination_id=destination_id)
        winner = converge(
            created.id, lambda: [h.id for h in self._matching()], self.client.delete_post_load_hook
        )
        if winner != created.id:
            self.log.info(
                "Post-load hook %s was also added by another task (id %s); removed this task's copy %s",
                shown,
                winner,
                created.id,
            )
        else:
            self.log.info("Added post-load hook %s (id %s)", shown, created.id)
        return winner

    def execute(self, context: Context) -> int | None:
        _check_url(self.url)
        shown = _describe_url(self.url)
        with stitch_errors(f"{self.action} post-load hook {shown}", NOTIFICATION_HINTS):
            existing = self._find()
            if self.action == "create":
                if existing is not None:
                    self.log.info("Post-load hook %s exists (id %s)", shown, existing.id)
                    return existing.id
                return self._create(shown)
            if self.action == "delete":
                if existing is None:
                    self.log.info("No post-load hook %s: nothing to delete", shown)
                    return None
                self.client.delete_post_load_hook(existing.id)
                self.log.info("Deleted post-load hook %s (id %s)", shown, existing.id)
                return None
            if existing is None:
                raise AirflowException(f"No post-load hook calls {shown}; create it first (action='create').")
            want_disabled = self.action == "disable"
            if (existing.disabled_at is not None) == want_disabled:
                self.log.info("Post-load hook %s is already %sd", shown, self.action)
            elif want_disabled:
                self.client.disable_post_load_hook(existing.id)
                self.log.info("Disabled post-load hook %s", shown)
            else:
                self.client.enable_post_load_hook(existing.id)
                self.log.info("Enabled post-load hook %s", shown)
            return existing.id
