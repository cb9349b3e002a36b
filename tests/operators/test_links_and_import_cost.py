"""The Stitch source link, provider registration, and what a DAG file pays to import the operators."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_provider_stitch import get_provider_info
from airflow_provider_stitch.links import (
    STITCH_SOURCE_XCOM_KEY,
    StitchSourceLink,
    push_stitch_source,
    source_summary_url,
    url_from_reference,
)
from airflow_provider_stitch.operators import (
    StitchCreateSourceOperator,
    StitchPauseSourceOperator,
    StitchSelectStreamsOperator,
)

MY_MODULES = (
    "airflow_provider_stitch.operators.sources",
    "airflow_provider_stitch.operators.destinations",
    "airflow_provider_stitch.operators.streams",
    "airflow_provider_stitch.operators.notifications",
    "airflow_provider_stitch.operators.accounts",
    "airflow_provider_stitch.links",
)
TRIGGER_MODULE = "airflow_provider_stitch.triggers.connection_check"
HEAVY = ("requests", "httpx", "pydantic", "tenacity", "fastapi", "uvicorn")
LAZY_OWN = (
    "airflow_provider_stitch.api.client",
    "airflow_provider_stitch.api.aclient",
    "airflow_provider_stitch.api.models",
    "airflow_provider_stitch.hooks.stitch",
    "airflow_provider_stitch.connectors.validate",
    "airflow_provider_stitch.connectors.catalog",
)
PROBE = """
import importlib, json, sys
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow.models import DAG
before = set(sys.modules)
from airflow_provider_stitch.operators import StitchCreateSourceOperator, StitchSelectStreamsOperator
for name in sys.argv[2:]:
    importlib.import_module(name)
operators_added = set(sys.modules) - before
importlib.import_module(sys.argv[1])
print(json.dumps({"added": sorted(operators_added), "with_trigger": sorted(set(sys.modules) - before)}))
"""


def test_summary_url_and_reference_parsing():
    assert source_summary_url(116078, 120643) == (
        "https://app.stitchdata.com/client/116078/pipeline/v2/sources/120643/summary"
    )
    assert url_from_reference({"client_id": 1, "source_id": 2}).endswith(
        "/client/1/pipeline/v2/sources/2/summary"
    )
    assert url_from_reference(None) == ""
    assert url_from_reference({"client_id": "1; drop", "source_id": 2}) == ""


def test_link_reads_the_pushed_reference_without_any_api_call(monkeypatch, context):
    push_stitch_source(context, 116078, 120643)
    pushed = context["ti"].xcom[STITCH_SOURCE_XCOM_KEY]
    assert pushed == {"client_id": 116078, "source_id": 120643}
    asked = {}

    def fake_get_value(*, ti_key, key):
        asked["key"] = key
        return pushed

    monkeypatch.setattr("airflow_provider_stitch.links.XCom.get_value", fake_get_value)
    link = StitchSourceLink()
    url = link.get_link(StitchPauseSourceOperator(task_id="p", source_id=1), ti_key=object())
    assert url == "https://app.stitchdata.com/client/116078/pipeline/v2/sources/120643/summary"
    assert asked["key"] == STITCH_SOURCE_XCOM_KEY
    assert link.name == "Stitch source"


def test_nothing_is_pushed_when_an_id_is_unknown(context):
    push_stitch_source(context, None, 5)
    assert context["ti"].xcom == {}


def test_source_operators_carry_the_link():
    for operator in (StitchCreateSourceOperator, StitchPauseSourceOperator, StitchSelectStreamsOperator):
        assert [type(link) for link in operator.operator_extra_links] == [StitchSourceLink]


def test_provider_info_lists_operators_trigger_and_link():
    info = get_provider_info()
    modules = [m for entry in info["operators"] for m in entry["python-modules"]]
    assert set(MY_MODULES[:5]) <= set(modules)
    triggers = [m for entry in info["triggers"] for m in entry["python-modules"]]
    assert TRIGGER_MODULE in triggers
    assert "airflow_provider_stitch.links.StitchSourceLink" in info["extra-links"]


def test_template_fields_cover_user_arguments():
    assert set(StitchCreateSourceOperator.template_fields) == {
        "source_type",
        "display_name",
        "properties",
        "destination_id",
    }
    assert set(StitchSelectStreamsOperator.template_fields) == {"source_id", "streams"}


@pytest.fixture(scope="module")
def fresh_import() -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, TRIGGER_MODULE, *MY_MODULES],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_operators_loads_no_http_client_or_models(fresh_import):
    roots = {name.partition(".")[0] for name in fresh_import["added"]}
    assert sorted(roots.intersection(HEAVY)) == []


def test_importing_the_operators_leaves_client_hook_and_catalog_unloaded(fresh_import):
    assert [name for name in LAZY_OWN if name in fresh_import["added"]] == []


def test_the_trigger_module_loads_no_http_client_of_its_own(fresh_import):
    """Airflow's trigger base class brings pydantic; our module adds no HTTP client, hook or model."""
    roots = {name.partition(".")[0] for name in fresh_import["with_trigger"]}
    assert sorted(roots.intersection({"requests", "httpx", "tenacity"})) == []
    assert [name for name in LAZY_OWN if name in fresh_import["with_trigger"]] == []
