"""The endpoint table: every documented endpoint, path formatting, request classification."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.api import models
from airflow_provider_stitch.api.endpoints import ENDPOINTS, JOBS, endpoint_for, rate_limit_group_for

SAMPLE_PARAMS = {
    "destination_id": 155582,
    "destination_type": "postgres",
    "source_id": 108726,
    "source_type": "platform.hubspot",
    "token_id": 815713587,
    "stream_id": 2375830,
    "stitch_client_id": 116078,
    "job_name": "116078.233312.sync.e4d8eae5-b23e-11ea-94a1-02cbbd504f7d",
    "custom_email_id": 22,
    "hook_id": 7,
}


def test_table_has_all_documented_endpoints():
    # 38 rows of API.md section 2, row 8 (v3 destinations) counted as three.
    assert len(ENDPOINTS) == 40
    pairs = {(e.method, e.template) for e in ENDPOINTS.values()}
    assert len(pairs) == 40
    assert ("GET", "/v4/destinations/{destination_id}/last-connection-check") in pairs
    assert ENDPOINTS["get_destination_last_connection_check"].confirmed is False
    assert {
        ("GET", "/v3/destinations"),
        ("POST", "/v3/destinations"),
        ("PUT", "/v3/destinations/{destination_id}"),
    } <= pairs


def test_only_the_three_jobs_endpoints_are_rate_limited():
    jobs = sorted(e.name for e in ENDPOINTS.values() if e.rate_limit_group == JOBS)
    assert jobs == ["get_extraction_logs", "list_extractions", "list_loads"]
    assert sorted(e.name for e in ENDPOINTS.values() if e.paginated) == ["list_extractions", "list_loads"]


def test_only_partner_endpoints_skip_the_bearer_token():
    assert sorted(e.name for e in ENDPOINTS.values() if not e.auth_required) == [
        "create_account",
        "exchange_oauth_code",
    ]
    assert ENDPOINTS["exchange_oauth_code"].form_encoded is True


def test_response_models():
    assert ENDPOINTS["list_sources"].response_model is models.Source
    assert ENDPOINTS["list_sources"].shape == "list"
    assert ENDPOINTS["list_extractions"].response_model is models.Extraction
    assert ENDPOINTS["get_stream_schema"].response_model is models.StreamSchema
    assert ENDPOINTS["list_post_load_hooks"].shape == "wrapped_list"
    assert ENDPOINTS["get_extraction_logs"].shape == "redirect"


@pytest.mark.parametrize("endpoint", list(ENDPOINTS.values()), ids=lambda e: e.name)
def test_every_formatted_path_is_classified_back_to_its_endpoint(endpoint):
    params = {name: SAMPLE_PARAMS[name] for name in endpoint.placeholders}
    path = endpoint.path(**params)
    assert "{" not in path
    assert endpoint_for(endpoint.method, path) is endpoint
    assert endpoint_for(endpoint.method.lower(), path + "?page=2") is endpoint
    assert endpoint.match(path) == {k: str(v) for k, v in params.items()}


def test_path_formatting():
    assert ENDPOINTS["get_source"].path(source_id=108726) == "/v4/sources/108726"
    assert (
        ENDPOINTS["get_source_type"].path(source_type="platform.hubspot")
        == "/v4/source-types/platform.hubspot"
    )
    assert ENDPOINTS["get_source"].path(source_id="a/b") == "/v4/sources/a%2Fb"
    assert (
        ENDPOINTS["update_custom_email"].path(custom_email_id=22)
        == "/notifications/public/v1/api/custom-emails/22"
    )
    with pytest.raises(ValueError, match="get_source needs a value for: source_id"):
        ENDPOINTS["get_source"].path()
    with pytest.raises(ValueError, match="has no path parameter"):
        ENDPOINTS["list_sources"].path(source_id=1)


def test_classification_prefers_fixed_segments_and_knows_jobs():
    assert endpoint_for("PUT", "/v4/sources/5/streams/metadata").name == "update_stream_metadata"
    assert endpoint_for("GET", "/v4/sources/5/streams/9").name == "get_stream_schema"
    assert endpoint_for("GET", "/v4/116078/loads?page=3").name == "list_loads"
    assert (
        endpoint_for("GET", "https://api.stitchdata.com/v4/116078/extractions/j1").name
        == "get_extraction_logs"
    )
    assert endpoint_for("PATCH", "/v4/sources/5") is None
    assert endpoint_for("GET", "/v5/unknown") is None
    assert rate_limit_group_for("GET", "/v4/116078/extractions?page=2") == "jobs"
    assert rate_limit_group_for("GET", "/v4/sources") == "other"
    assert rate_limit_group_for("GET", "/nowhere") == "other"
