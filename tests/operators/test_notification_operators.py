"""Custom email and post-load hook operators against the emulator."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.operators import StitchCustomEmailOperator, StitchPostLoadHookOperator
from tests.testkit.operators import request_count

ADDRESS = "data-team@example.com"
HOOK_URL = "https://hooks.example.com/catch/12345/secret-path"


def emails(emulator):
    with StitchClient(emulator.token, base_url=emulator.base_url) as client:
        return client.list_custom_emails()


def hooks(emulator):
    with StitchClient(emulator.token, base_url=emulator.base_url) as client:
        return client.list_post_load_hooks()


def email_op(action: str, address: str = ADDRESS) -> StitchCustomEmailOperator:
    return StitchCustomEmailOperator(task_id=f"email_{action}", email_address=address, action=action)


def hook_op(action: str) -> StitchPostLoadHookOperator:
    return StitchPostLoadHookOperator(task_id=f"hook_{action}", url=HOOK_URL, action=action)


def test_custom_email_lifecycle_is_idempotent(emulator, context):
    created = email_op("create").execute(context)
    assert email_op("create", ADDRESS.upper()).execute(context) == created
    assert [(e.id, e.email_address) for e in emails(emulator)] == [(created, ADDRESS)]
    for _ in range(2):
        assert email_op("disable").execute(context) == created
        assert emails(emulator)[0].disabled_at is not None
    for _ in range(2):
        assert email_op("enable").execute(context) == created
        assert emails(emulator)[0].disabled_at is None
    for _ in range(2):
        assert email_op("delete").execute(context) is None
    assert emails(emulator) == []


def test_enabling_an_unknown_recipient_fails(emulator, context):
    with pytest.raises(
        AirflowException, match="No custom email recipient nobody@example.com; create it first"
    ):
        email_op("enable", "nobody@example.com").execute(context)


def test_recipient_limit_error_carries_stitch_message(emulator, context):
    for index in range(10):
        email_op("create", f"person{index}@example.com").execute(context)
    with pytest.raises(AirflowException) as error:
        email_op("create", "eleventh@example.com").execute(context)
    assert "Account not authorized to create additional custom notification email addresses" in str(
        error.value
    )
    assert "at most 10 custom recipients" in str(error.value)


def test_email_arguments_are_checked_at_construction(emulator):
    with pytest.raises(ValueError, match="email_address must be an email address"):
        email_op("create", "not-an-address")
    with pytest.raises(ValueError, match="action must be one of"):
        email_op("remove")
    assert request_count(emulator) == 0


def test_post_load_hook_lifecycle_is_idempotent(emulator, context):
    created = hook_op("create").execute(context)
    assert hook_op("create").execute(context) == created
    assert [h.url for h in hooks(emulator)] == [HOOK_URL]
    for _ in range(2):
        assert hook_op("disable").execute(context) == created
        assert hooks(emulator)[0].disabled_at is not None
    for _ in range(2):
        assert hook_op("enable").execute(context) == created
        assert hooks(emulator)[0].disabled_at is None
    for _ in range(2):
        assert hook_op("delete").execute(context) is None
    assert hooks(emulator) == []


def test_post_load_hook_logs_show_only_the_host(emulator, context, capfd):
    hook_op("create").execute(context)
    logged = "".join(capfd.readouterr())
    assert "Added post-load hook https://hooks.example.com/..." in logged
    assert "secret-path" not in logged


def test_post_load_hook_arguments_are_checked_at_construction(emulator):
    with pytest.raises(ValueError, match="url must be an absolute http"):
        StitchPostLoadHookOperator(task_id="h", url="ftp://example.com/x")
    with pytest.raises(ValueError, match="destination_id must be a positive integer id"):
        StitchPostLoadHookOperator(task_id="h", url=HOOK_URL, destination_id="dest")
    assert request_count(emulator) == 0


def test_notifications_survive_transient_errors(emulator, context):
    emulator.control.set_faults(pattern="/custom-emails$", method="GET", status=500, times=2)
    created = email_op("create").execute(context)
    assert [e.id for e in emails(emulator)] == [created]
