"""StitchCreateAccountOperator against the emulator's partner endpoint."""

from __future__ import annotations

import json

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowSkipException

from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.operators import StitchCreateAccountOperator
from airflow_provider_stitch.operators.accounts import ACCESS_TOKEN_XCOM_KEY
from tests.testkit.operators import connection_json, request_count


@pytest.fixture
def partner(emulator, monkeypatch):
    extras = {"partner_id": emulator.partner_id, "partner_secret": emulator.partner_secret}
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_DEFAULT", connection_json(emulator, **extras))
    return emulator


def account_op(**overrides) -> StitchCreateAccountOperator:
    arguments = {
        "task_id": "create_account",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "email": "ada@example.com",
    }
    arguments.update(overrides)
    return StitchCreateAccountOperator(**arguments)


def test_creates_an_account_and_keeps_the_token_out_of_xcom(partner, context, capfd):
    account_id = account_op().execute(context)
    assert isinstance(account_id, int)
    accounts = partner.control.state()["accounts"]
    assert account_id in [a["client_id"] for a in accounts]
    assert ACCESS_TOKEN_XCOM_KEY not in context["ti"].xcom
    logged = "".join(capfd.readouterr())
    assert f"Created Stitch account {account_id}" in logged
    assert partner.partner_secret not in logged


def test_token_is_pushed_only_on_request_and_never_logged(partner, context, capfd):
    account_id = account_op(push_access_token=True).execute(context)
    token = context["ti"].xcom[ACCESS_TOKEN_XCOM_KEY]
    with StitchClient(token, base_url=partner.base_url, client_id=account_id) as client:
        assert client.list_sources() == []
    assert account_id != partner.client_id
    assert token not in "".join(capfd.readouterr())


def test_rerun_for_the_same_email_skips_or_fails(partner, context):
    account_op().execute(context)
    with pytest.raises(AirflowSkipException, match="ada@example.com already belongs to a Stitch user"):
        account_op().execute(context)
    with pytest.raises(AirflowException, match="already associated with an active user"):
        account_op(if_exists="fail").execute(context)
    assert len([a for a in partner.control.state()["accounts"] if a.get("email") == "ada@example.com"]) <= 1


def test_missing_partner_credentials_fail_clearly(emulator, context):
    with pytest.raises(AirflowException, match="needs the extras partner_id and partner_secret"):
        account_op().execute(context)
    assert request_count(emulator) == 0


def test_wrong_partner_secret_fails_without_showing_it(emulator, context, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_STITCH_DEFAULT",
        connection_json(emulator, partner_id=emulator.partner_id, partner_secret="not-the-secret-123"),
    )
    with pytest.raises(AirflowException) as error:
        account_op().execute(context)
    assert "400 BadRequest" in str(error.value)
    assert "not-the-secret-123" not in str(error.value)


def test_partner_connection_without_token_still_creates(emulator, context, monkeypatch):
    conn = json.loads(
        connection_json(emulator, partner_id=emulator.partner_id, partner_secret=emulator.partner_secret)
    )
    del conn["password"]
    monkeypatch.setenv("AIRFLOW_CONN_STITCH_DEFAULT", json.dumps(conn))
    assert isinstance(account_op(email="grace@example.com").execute(context), int)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "nope"}, "email must be an email address"),
        ({"region": "mars-1"}, "region must be one of"),
        ({"company": ""}, "company must be a non-empty string"),
        ({"if_exists": "update"}, "if_exists must be one of"),
    ],
)
def test_bad_arguments_fail_at_construction(emulator, overrides, message):
    with pytest.raises(ValueError, match=message):
        account_op(**overrides)
    assert request_count(emulator) == 0


def test_account_email_never_becomes_the_failure_alert_address():
    op = account_op(email_on_failure=True)
    assert op.user_email == "ada@example.com"
    assert not op.email
