"""An unreadable list of existing objects never reads as "none exist": the create fails and creates nothing."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_stitch.operators import StitchCreateDestinationOperator, StitchCustomEmailOperator
from tests.testkit.operators import POSTGRES_DESTINATION_PROPERTIES, request_count

#: 200 answers to a list request that carry no list: broken JSON, an empty string, an empty object.
UNREADABLE_ANSWERS = {
    "broken JSON": {"action": "malformed"},
    "empty string": {"action": "status", "status": 200, "body": ""},
    "empty object": {"action": "status", "status": 200, "body": {}},
}


def creates_sent(emulator: Any, path: str) -> int:
    log = emulator.control.stats(include_log=True)["log"]
    return sum(1 for entry in log if entry.get("method") == "POST" and entry.get("path") == path)


@pytest.mark.parametrize("answer", list(UNREADABLE_ANSWERS), ids=list(UNREADABLE_ANSWERS))
def test_an_unreadable_destination_list_fails_the_create_without_creating(emulator, context, answer):
    emulator.control.set_faults(pattern=r"^/v4/destinations$", method="GET", **UNREADABLE_ANSWERS[answer])
    operator = StitchCreateDestinationOperator(
        task_id="create_destination",
        destination_type="postgres",
        name="Warehouse",
        properties=dict(POSTGRES_DESTINATION_PROPERTIES),
    )
    with pytest.raises(AirflowException, match=r"^Could not create destination 'Warehouse': "):
        operator.execute(context)
    assert creates_sent(emulator, "/v4/destinations") == 0
    assert request_count(emulator) >= 1


@pytest.mark.parametrize("answer", list(UNREADABLE_ANSWERS), ids=list(UNREADABLE_ANSWERS))
def test_an_unreadable_recipient_list_fails_the_create_without_creating(emulator, context, answer):
    emulator.control.set_faults(pattern=r"/custom-emails$", method="GET", **UNREADABLE_ANSWERS[answer])
    with pytest.raises(AirflowException, match=r"^Could not create custom email recipient ops@example.com: "):
        StitchCustomEmailOperator(task_id="add_recipient", email_address="ops@example.com").execute(context)
    assert creates_sent(emulator, "/notifications/public/v1/api/custom-emails") == 0
