"""A destination task on an emulator connection links to the emulator's own destination page, which opens."""

from __future__ import annotations

import requests

from airflow_provider_stitch.links import STITCH_DESTINATION_XCOM_KEY, StitchDestinationLink
from airflow_provider_stitch.operators import StitchCreateDestinationOperator, StitchUpdateDestinationOperator
from tests.operators.test_links import xcom_reader
from tests.testkit.operators import POSTGRES_DESTINATION_PROPERTIES

PASSWORD = POSTGRES_DESTINATION_PROPERTIES["password"]


def test_the_destination_link_opens_the_emulators_page_without_the_password(emulator, context, monkeypatch):
    destination_id = StitchCreateDestinationOperator(
        task_id="create_destination",
        destination_type="postgres",
        name="Warehouse <main>",
        properties=dict(POSTGRES_DESTINATION_PROPERTIES),
    ).execute(context)
    xcom_reader(monkeypatch, context["ti"].xcom)
    link = StitchDestinationLink().get_link(object(), ti_key=object())
    assert link == f"{emulator.base_url}/_emulator/destinations/{destination_id}"
    page = requests.get(link, timeout=10)
    assert page.status_code == 200
    assert "<h1>Warehouse &lt;main&gt;</h1>" in page.text
    assert "<td>username</td><td>loader</td>" in page.text
    assert "<td>password</td>" in page.text and PASSWORD not in page.text


def test_an_update_task_links_to_the_same_page(emulator, context, monkeypatch):
    destination_id = StitchCreateDestinationOperator(
        task_id="create_destination",
        destination_type="postgres",
        name="Warehouse",
        properties=dict(POSTGRES_DESTINATION_PROPERTIES),
    ).execute(context)
    StitchUpdateDestinationOperator(
        task_id="update_destination", destination_id=destination_id, properties={"host": "dw2.example.com"}
    ).execute(context)
    assert context["ti"].xcom[STITCH_DESTINATION_XCOM_KEY]["destination_id"] == destination_id
    xcom_reader(monkeypatch, context["ti"].xcom)
    page = requests.get(StitchDestinationLink().get_link(object(), ti_key=object()), timeout=10)
    assert page.status_code == 200 and "<td>host</td><td>dw2.example.com</td>" in page.text
