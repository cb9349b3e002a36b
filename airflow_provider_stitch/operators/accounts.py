"""Operator for Stitch partners: create a client account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowSkipException, mask_secret

from airflow_provider_stitch.operators.base import (
    StitchBaseOperator,
    contains_template,
    naming_the_task,
    require_choice,
    require_text,
    stitch_errors,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_stitch.api.client import StitchClient

REGIONS = ("us-east-1", "eu-central-1")
IF_EXISTS_CHOICES = ("skip", "fail")
#: XCom key of the new account's access token, pushed only with ``push_access_token=True``.
ACCESS_TOKEN_XCOM_KEY = "stitch_access_token"
#: Stitch's error code for an email address that already belongs to a user.
EXISTING_USER_CODE = "ExistingUser"


class StitchCreateAccountOperator(StitchBaseOperator):
    """Create a Stitch client account as a partner; returns the new account's id (its Stitch client id).

    The partner id and secret come from the connection extras ``partner_id`` and ``partner_secret``.
    The new account's access token is registered with Airflow's secret masker and is NOT returned.

    Security risk: with ``push_access_token=True`` the token is also pushed to XCom under the key
    ``stitch_access_token``. XCom is stored unencrypted in the metadata database and is readable by
    anyone who can see the task in the UI or API, so opt in only when a downstream task must store the
    token somewhere safer (e.g. a secrets backend) and delete the XCom afterwards.

    Stitch cannot look accounts up by email, so a re-run for an address that already has a user cannot
    return its id: ``if_exists="skip"`` (default) marks the task skipped, ``"fail"`` fails it.

    :param first_name: first name of the account's user.
    :param last_name: last name of the account's user.
    :param company: company of the account.
    :param email: email address of the account's user (becomes its login); kept as ``user_email`` so it
        never replaces the operator's own ``email`` (Airflow's failure-alert recipients).
    :param region: data pipeline region, ``us-east-1`` or ``eu-central-1``; fixed after creation.
    :param push_access_token: also push the access token to XCom (see the risk above).
    :param if_exists: what to do when the email already belongs to a user: ``skip`` or ``fail``.
    """

    template_fields: Sequence[str] = ("first_name", "last_name", "company", "user_email", "region")

    def __init__(
        self,
        *,
        first_name: str,
        last_name: str,
        company: str,
        email: str,
        region: str = "us-east-1",
        push_access_token: bool = False,
        if_exists: str = "skip",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.first_name = first_name
        self.last_name = last_name
        self.company = company
        self.user_email = email
        self.region = region
        self.push_access_token = push_access_token
        with naming_the_task(self.task_id):
            self.if_exists = require_choice("if_exists", if_exists, IF_EXISTS_CHOICES)
            self._check_arguments()

    def _check_arguments(self) -> None:
        for name in ("first_name", "last_name", "company", "user_email", "region"):
            value = getattr(self, name)
            if not contains_template(value):
                require_text(name, value)
        if not contains_template(self.user_email) and "@" not in self.user_email:
            raise ValueError(f"email must be an email address, not {self.user_email!r}")
        if not contains_template(self.region):
            require_choice("region", self.region, REGIONS)

    def _partner_client(self) -> tuple[StitchClient, str, str]:
        """A client for the connection's API root and the partner id and secret from its extras."""
        try:
            return self.hook.get_partner_client()
        except ValueError as error:
            raise AirflowException(f"{error}.") from None

    def execute(self, context: Context) -> int:
        from airflow_provider_stitch.api.errors import StitchBadRequestError

        self._check_arguments()
        client, partner_id, partner_secret = self._partner_client()
        with stitch_errors(f"create a Stitch account for {self.user_email}"):
            try:
                account = client.create_account(
                    partner_id,
                    partner_secret,
                    self.first_name,
                    self.last_name,
                    self.company,
                    self.user_email,
                    region=self.region,
                )
            except StitchBadRequestError as error:
                if error.code != EXISTING_USER_CODE:
                    raise
                message = (
                    f"{self.user_email} already belongs to a Stitch user ({error.message}); Stitch offers no way "
                    "to look that account up, so its id is not known here"
                )
                if self.if_exists == "fail":
                    raise AirflowException(message) from None
                raise AirflowSkipException(message) from None
        if account.access_token:
            mask_secret(account.access_token)
        if account.stitch_account_id is None:
            raise AirflowException("Stitch created the account but did not return its id")
        if self.push_access_token and account.access_token:
            context["ti"].xcom_push(key=ACCESS_TOKEN_XCOM_KEY, value=account.access_token)
            self.log.warning(
                "The new account's access token is in XCom %r as asked; delete it once stored safely",
                ACCESS_TOKEN_XCOM_KEY,
            )
        self.log.info("Created Stitch account %s for %s", account.stitch_account_id, self.user_email)
        return int(account.stitch_account_id)
