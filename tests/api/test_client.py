"""StitchClient against `responses` stubs: requests sent, parsing, retries, pagination, budget, secrecy."""

from __future__ import annotations

import json
import logging

import pytest
import requests
import responses
from responses import matchers
from tenacity import wait_none

from airflow_provider_stitch import __version__
from airflow_provider_stitch.api import models
from airflow_provider_stitch.api.budget import InMemoryBudgetBackend, JobsBudget
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.errors import (
    StitchAlreadyRunningError,
    StitchAPIError,
    StitchBadRequestError,
    StitchInvalidPropertiesError,
    StitchNotFoundError,
    StitchRateBudgetExhausted,
    StitchServerError,
    StitchTransportError,
    StitchUnauthorizedError,
)
from tests.api.stitch_api_testkit import BASE, CLIENT_ID, TOKEN

NOTIF = f"{BASE}/notifications/public/v1/api"
SOURCE = {"id": 108726, "stitch_client_id": CLIENT_ID, "type": "platform.github", "display_name": "GitHub"}
DEST = {"id": 155582, "stitch_client_id": CLIENT_ID, "type": "postgres", "name": "Staging"}
CARD = {"type": "postgres", "current_step": 1, "current_step_type": "form", "steps": []}
CHECK = {"name": "116078.1.check.x", "mode": "check", "status": "succeeded", "error": False}
STREAM = {
    "stream_id": 2375830,
    "tap_stream_id": "db-public-customers",
    "stream_name": "customers",
    "selected": True,
}
EMAIL = {"id": 22, "client_id": CLIENT_ID, "email_address": "a@example.com", "disabled_at": None}
HOOK = {"id": 7, "client_id": CLIENT_ID, "type": "post_load", "config": {"url": "https://h.example"}}


def body_of(call) -> dict:
    return json.loads(call.request.body) if call.request.body else None


# method name, args, kwargs, HTTP method, URL, expected JSON body (None = no body), response JSON, check
CASES = [
    (
        "create_ephemeral_session",
        (),
        {},
        "POST",
        f"{BASE}/v3/sessions/ephemeral",
        None,
        {"ephemeral_token": "e"},
        lambda r: isinstance(r, models.Session),
    ),
    (
        "list_destinations",
        (),
        {},
        "GET",
        f"{BASE}/v4/destinations",
        None,
        [DEST],
        lambda r: r[0].id == 155582,
    ),
    (
        "create_destination",
        ("postgres", {"host": "h"}),
        {"display_name": "Staging"},
        "POST",
        f"{BASE}/v4/destinations",
        {"type": "postgres", "name": "Staging", "properties": {"host": "h"}},
        DEST,
        lambda r: r.name == "Staging",
    ),
    (
        "update_destination",
        (155582,),
        {"properties": {"username": "x"}},
        "PUT",
        f"{BASE}/v4/destinations/155582",
        {"properties": {"username": "x"}},
        DEST,
        lambda r: r.id == 155582,
    ),
    (
        "delete_destination",
        (155582,),
        {},
        "DELETE",
        f"{BASE}/v4/destinations/155582",
        None,
        {},
        lambda r: r is None,
    ),
    (
        "list_destination_types",
        (),
        {},
        "GET",
        f"{BASE}/v4/destination-types",
        None,
        [CARD],
        lambda r: r[0].type == "postgres",
    ),
    (
        "get_destination_type",
        ("snowflake",),
        {},
        "GET",
        f"{BASE}/v4/destination-types/snowflake",
        None,
        CARD,
        lambda r: isinstance(r, models.ReportCard),
    ),
    (
        "get_destination_last_connection_check",
        (155582,),
        {},
        "GET",
        f"{BASE}/v4/destinations/155582/last-connection-check",
        None,
        CHECK,
        lambda r: r.status == "succeeded",
    ),
    ("list_sources", (), {}, "GET", f"{BASE}/v4/sources", None, [SOURCE], lambda r: r[0].id == 108726),
    (
        "get_source",
        (108726,),
        {},
        "GET",
        f"{BASE}/v4/sources/108726",
        None,
        SOURCE,
        lambda r: r.type == "platform.github",
    ),
    (
        "create_source",
        ("platform.github", "GitHub", {"frequency_in_minutes": "60"}),
        {"destination_id": 155582},
        "POST",
        f"{BASE}/v4/sources",
        {
            "type": "platform.github",
            "display_name": "GitHub",
            "properties": {"frequency_in_minutes": "60"},
            "destination_id": 155582,
        },
        SOURCE,
        lambda r: r.id == 108726,
    ),
    (
        "update_source",
        (108726,),
        {"display_name": "GH"},
        "PUT",
        f"{BASE}/v4/sources/108726",
        {"display_name": "GH"},
        SOURCE,
        lambda r: r.id == 108726,
    ),
    (
        "unpause_source",
        (108726,),
        {},
        "PUT",
        f"{BASE}/v4/sources/108726",
        {"paused_at": None},
        SOURCE,
        lambda r: r.paused_at is None,
    ),
    (
        "delete_source",
        (108726,),
        {},
        "DELETE",
        f"{BASE}/v4/sources/108726",
        None,
        {**SOURCE, "deleted_at": "2020-01-01T00:00:00Z"},
        lambda r: r.is_deleted,
    ),
    ("list_source_types", (), {}, "GET", f"{BASE}/v4/source-types", None, [CARD], lambda r: len(r) == 1),
    (
        "get_source_type",
        ("platform.hubspot",),
        {},
        "GET",
        f"{BASE}/v4/source-types/platform.hubspot",
        None,
        CARD,
        lambda r: r.current_step_type == "form",
    ),
    (
        "get_last_connection_check",
        (108726,),
        {},
        "GET",
        f"{BASE}/v4/sources/108726/last-connection-check",
        None,
        CHECK,
        lambda r: isinstance(r, models.ConnectionCheck),
    ),
    (
        "create_import_token",
        (126890,),
        {},
        "POST",
        f"{BASE}/v4/sources/126890/tokens",
        None,
        {"id": 828792559, "access_token": "imp"},
        lambda r: r.id == 828792559,
    ),
    (
        "list_import_tokens",
        (126890,),
        {},
        "GET",
        f"{BASE}/v4/sources/126890/tokens",
        None,
        [{"token_id": 1, "created_at": "2021-08-19T00:00:00Z"}, 2],
        lambda r: [t.id for t in r] == [1, 2],
    ),
    (
        "revoke_import_token",
        (126890, 1),
        {},
        "DELETE",
        f"{BASE}/v4/sources/126890/tokens/1",
        None,
        {**SOURCE, "id": 126890},
        lambda r: r.id == 126890,
    ),
    (
        "list_streams",
        (108726,),
        {},
        "GET",
        f"{BASE}/v4/sources/108726/streams",
        None,
        [STREAM],
        lambda r: r[0].stream_id == 2375830,
    ),
    (
        "get_stream_schema",
        (108726, 2375830),
        {},
        "GET",
        f"{BASE}/v4/sources/108726/streams/2375830",
        None,
        {"schema": '{"type": "object"}', "metadata": []},
        lambda r: r.json_schema == {"type": "object"},
    ),
    (
        "update_stream_metadata",
        (108726, [{"tap_stream_id": "t", "metadata": []}]),
        {},
        "PUT",
        f"{BASE}/v4/sources/108726/streams/metadata",
        {"streams": [{"tap_stream_id": "t", "metadata": []}]},
        {"status": 200},
        lambda r: r == {"status": 200},
    ),
    (
        "start_sync",
        (108726,),
        {},
        "POST",
        f"{BASE}/v4/sources/108726/sync",
        None,
        {"job_name": "116078.108726.sync.a"},
        lambda r: r.job_name == "116078.108726.sync.a" and not r.already_running,
    ),
    (
        "stop_sync",
        (108726,),
        {},
        "DELETE",
        f"{BASE}/v4/sources/108726/sync",
        None,
        {"status": 200},
        lambda r: r.status == 200,
    ),
    ("list_custom_emails", (), {}, "GET", f"{NOTIF}/custom-emails", None, [EMAIL], lambda r: r[0].id == 22),
    (
        "create_custom_email",
        ("a@example.com",),
        {},
        "POST",
        f"{NOTIF}/custom-emails",
        {"email_address": "a@example.com"},
        EMAIL,
        lambda r: r.email_address == "a@example.com",
    ),
    (
        "enable_custom_email",
        (22,),
        {},
        "PUT",
        f"{NOTIF}/custom-emails/22",
        {"disabled_at": None},
        {"disabled_at": None},
        lambda r: r.disabled_at is None,
    ),
    ("delete_custom_email", (22,), {}, "DELETE", f"{NOTIF}/custom-emails/22", None, [1], lambda r: r == [1]),
    (
        "list_post_load_hooks",
        (),
        {},
        "GET",
        f"{NOTIF}/hooks",
        None,
        {"post_load": [HOOK]},
        lambda r: r[0].url == "https://h.example",
    ),
    (
        "create_post_load_hook",
        ("https://h.example",),
        {"destination_id": 155582},
        "POST",
        f"{NOTIF}/hooks",
        {"type": "post_load", "destination_id": 155582, "config": {"url": "https://h.example"}},
        HOOK,
        lambda r: r.id == 7,
    ),
    (
        "disable_post_load_hook",
        (7,),
        {},
        "PUT",
        f"{NOTIF}/hooks/7",
        {"enable": False},
        {**HOOK, "disabled_at": "2020-01-01T00:00:00Z"},
        lambda r: r.disabled_at is not None,
    ),
    (
        "enable_post_load_hook",
        (7,),
        {},
        "PUT",
        f"{NOTIF}/hooks/7",
        {"enable": True},
        HOOK,
        lambda r: r.disabled_at is None,
    ),
    ("delete_post_load_hook", (7,), {}, "DELETE", f"{NOTIF}/hooks/7", None, None, lambda r: r is None),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "method", "url", "sent", "answer", "check"), CASES, ids=[c[0] for c in CASES]
)
@responses.activate
def test_each_method_sends_the_documented_request(
    client, name, args, kwargs, method, url, sent, answer, check
):
    responses.add(method, url, json=answer)
    result = getattr(client, name)(*args, **kwargs)
    assert check(result)
    assert len(responses.calls) == 1
    call = responses.calls[0]
    assert body_of(call) == sent
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["User-Agent"] == f"airflow-provider-stitch/{__version__}"


@responses.activate
def test_pause_sends_a_timestamp(client):
    responses.put(f"{BASE}/v4/sources/1", json={**SOURCE, "id": 1, "paused_at": "2020-01-01T00:00:00Z"})
    source = client.pause_source(1)
    sent = body_of(responses.calls[0])
    assert list(sent) == ["paused_at"] and sent["paused_at"].endswith("Z")
    assert source.is_paused


@responses.activate
def test_disable_custom_email_sends_a_timestamp(client):
    responses.put(f"{NOTIF}/custom-emails/22", json={"disabled_at": "2020-01-01T00:00:00Z"})
    assert client.disable_custom_email(22).disabled_at.year == 2020
    assert body_of(responses.calls[0])["disabled_at"].endswith("Z")


@responses.activate
def test_partner_endpoints_send_no_bearer_token(client):
    responses.post(f"{BASE}/v3/accounts", json={"access_token": "at_new", "stitch_account_id": 136715})
    responses.post(
        f"{BASE}/oauth/token",
        json={"token_type": "bearer", "access_token": "at_x", "stitch_account_id": 5},
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "client_secret": "oc_secret",
                    "code": "c0de",
                    "grant_type": "authorization_code",
                    "client_id": "oc_id",
                }
            )
        ],
    )
    account = client.create_account("oc_id", "oc_secret", "Ada", "L", "Co", "a@example.com")
    token = client.exchange_oauth_code("c0de", "oc_secret", client_id="oc_id")
    assert account.stitch_account_id == 136715 and token.stitch_account_id == 5
    assert body_of(responses.calls[0])["region"] == "us-east-1"
    for call in responses.calls:
        assert "Authorization" not in call.request.headers


@responses.activate
def test_partner_secret_never_in_errors(client):
    responses.post(f"{BASE}/v3/accounts", status=400, body='{"code":"BadRequest","message":"bad oc_secret"}')
    with pytest.raises(StitchBadRequestError) as caught:
        client.create_account("oc_id", "oc_secret", "A", "B", "C", "d@e.f")
    assert "oc_secret" not in str(caught.value) and str(caught.value).endswith("bad ***")


# ---------------------------------------------------------------- errors and retries


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            400,
            '{"error":"InvalidProperties","data":{"message":"properties do not match schema","bad_properties":["x"]}}',
            StitchInvalidPropertiesError,
        ),
        (401, "", StitchUnauthorizedError),
        (404, '{"status": "NOT FOUND"}', StitchNotFoundError),
    ],
)
@responses.activate
def test_client_errors_are_not_retried(client, sleeps, status, body, cls):
    responses.get(f"{BASE}/v4/sources", status=status, body=body)
    with pytest.raises(cls):
        client.list_sources()
    assert len(responses.calls) == 1 and sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@responses.activate
def test_server_errors_are_retried_then_succeed(client, status):
    responses.get(f"{BASE}/v4/sources", status=status, body="oops")
    responses.get(f"{BASE}/v4/sources", json=[SOURCE])
    assert client.list_sources()[0].id == 108726
    assert len(responses.calls) == 2


@responses.activate
def test_retries_stop_at_the_bound(client, sleeps):
    responses.get(f"{BASE}/v4/sources", status=500, body="down")
    with pytest.raises(StitchServerError, match=r"GET /v4/sources -> 500: down"):
        client.list_sources()
    assert len(responses.calls) == 5 and len(sleeps) == 4


@responses.activate
def test_timeouts_are_retried_and_end_as_transport_errors(client):
    responses.get(f"{BASE}/v4/sources", body=requests.ReadTimeout("slow"))
    with pytest.raises(StitchTransportError, match="at https://api.stitchdata.com: timed out") as caught:
        client.list_sources()
    assert caught.value.request_sent is True
    assert len(responses.calls) == 5


@responses.activate
def test_malformed_json_is_retried(client):
    responses.get(f"{BASE}/v4/sources", body="{not json")
    responses.get(f"{BASE}/v4/sources", json=[])
    assert client.list_sources() == []
    assert len(responses.calls) == 2


@responses.activate
def test_429_honours_retry_after():
    sleeps: list[float] = []
    client = StitchClient(TOKEN, client_id=CLIENT_ID, validate=False, retry_sleep=sleeps.append)
    responses.get(f"{BASE}/v4/sources", status=429, headers={"Retry-After": "7"}, body="slow down")
    responses.get(f"{BASE}/v4/sources", json=[])
    assert client.list_sources() == []
    assert sleeps == [7.0]


@responses.activate
def test_non_idempotent_create_is_not_resent_after_an_ambiguous_failure(client):
    responses.post(f"{NOTIF}/custom-emails", status=502, body="gateway")
    with pytest.raises(StitchServerError):
        client.create_custom_email("a@example.com")
    assert len(responses.calls) == 1


@responses.activate
def test_create_source_looks_up_before_resending(client):
    responses.post(f"{BASE}/v4/sources", body=requests.ReadTimeout("dropped"))
    responses.get(f"{BASE}/v4/sources", json=[{**SOURCE, "display_name": "Other", "id": 1}, SOURCE])
    source = client.create_source("platform.github", "GitHub", {})
    assert source.id == 108726
    assert [c.request.method for c in responses.calls] == ["POST", "GET"]


@responses.activate
def test_create_source_resends_when_lookup_finds_nothing(client):
    responses.post(f"{BASE}/v4/sources", status=503, body="busy")
    responses.post(f"{BASE}/v4/sources", json=SOURCE)
    responses.get(f"{BASE}/v4/sources", json=[{**SOURCE, "deleted_at": "2020-01-01T00:00:00Z"}])
    assert client.create_source("platform.github", "GitHub").id == 108726
    assert [c.request.method for c in responses.calls] == ["POST", "GET", "POST"]


@responses.activate
def test_create_destination_with_name_looks_up_before_resending(client):
    responses.post(f"{BASE}/v4/destinations", status=500, body="x")
    responses.get(f"{BASE}/v4/destinations", json=[DEST])
    assert client.create_destination("postgres", {}, display_name="Staging").id == 155582
    assert [c.request.method for c in responses.calls] == ["POST", "GET"]


@responses.activate
def test_start_sync_already_running_is_not_an_exception(client):
    responses.post(f"{BASE}/v4/sources/1/sync", status=502, body="x")
    responses.post(
        f"{BASE}/v4/sources/1/sync",
        json={"error": {"type": "already_running", "message": "Did not create job for client-id: 1"}},
    )
    job = client.start_sync(1)
    assert job.already_running is True and job.job_name is None
    assert job.message == "Did not create job for client-id: 1"
    with pytest.raises(StitchAlreadyRunningError):
        client.start_sync(1, raise_if_running=True)


@responses.activate
def test_start_sync_other_embedded_error_raises(client):
    responses.post(
        f"{BASE}/v4/sources/1/sync", json={"error": {"type": "generic", "message": "Could not create"}}
    )
    with pytest.raises(StitchAPIError, match="200 generic: Could not create"):
        client.start_sync(1)


# ---------------------------------------------------------------- pagination and budget


def _page(rows, page, nxt=None):
    return {"data": rows, "page": page, "total": 3, "links": {"next": nxt} if nxt else {}}


@responses.activate
def test_pagination_drops_rows_that_shift_into_the_next_page(client, budget):
    path = f"/v4/{CLIENT_ID}/extractions"
    responses.get(
        BASE + path,
        json=_page([{"source_id": 1}, {"source_id": 2}], 1, f"{path}?page=2"),
        match=[matchers.query_string_matcher("")],
    )
    responses.get(
        BASE + path,
        json=_page([{"source_id": 2}, {"source_id": 3, "tap_name": "tap-x"}], 2),
        match=[matchers.query_string_matcher("page=2")],
    )
    rows = client.list_extractions()
    assert [(r.source_id, r.source_type) for r in rows] == [(1, None), (2, None), (3, "tap-x")]
    assert budget.used() == 2


@responses.activate
def test_extractions_stop_after_the_wanted_source(client, budget):
    path = f"/v4/{CLIENT_ID}/extractions"
    responses.get(BASE + path, json=_page([{"source_id": 1}, {"source_id": 5}], 1, f"{path}?page=2"))
    rows = client.list_extractions(stop_after_source_id=4)
    assert [r.source_id for r in rows] == [1, 5]
    assert len(responses.calls) == 1 and budget.used() == 1


@responses.activate
def test_loads_dedupe_by_source_and_stream_and_stop_when(client):
    path = f"/v4/{CLIENT_ID}/loads"
    first = [{"source_name": "a", "stream_name": "s1"}, {"source_name": "b", "stream_name": "s1"}]
    second = [{"source_name": "b", "stream_name": "s1"}, {"source_name": "a", "stream_name": "s2"}]
    responses.get(
        BASE + path, json=_page(first, 1, f"{path}?page=2"), match=[matchers.query_string_matcher("")]
    )
    responses.get(
        BASE + path, json=_page(second, 2, f"{path}?page=3"), match=[matchers.query_string_matcher("page=2")]
    )
    loads = client.list_loads(stop_when=lambda rows: rows[-1].stream_name >= "s2")
    assert [(r.source_name, r.stream_name) for r in loads] == [("a", "s1"), ("b", "s1"), ("a", "s2")]
    assert len(responses.calls) == 2


@responses.activate
def test_pagination_refuses_a_link_to_another_host(client):
    responses.get(f"{BASE}/v4/{CLIENT_ID}/loads", json=_page([], 1, "https://evil.example/v4/1/loads?page=2"))
    with pytest.raises(StitchTransportError, match="another host"):
        client.list_loads()


@responses.activate
def test_retries_of_jobs_requests_pay_from_the_budget(client, budget):
    responses.get(f"{BASE}/v4/{CLIENT_ID}/loads", status=500, body="x")
    responses.get(f"{BASE}/v4/{CLIENT_ID}/loads", json=_page([], 1))
    client.list_loads()
    assert budget.used() == 2


@responses.activate
def test_no_jobs_request_is_sent_without_a_token(clock):
    budget = JobsBudget(CLIENT_ID, limit=1, backend=InMemoryBudgetBackend(), clock=clock, sleep=clock.sleep)
    client = StitchClient(
        TOKEN, client_id=CLIENT_ID, budget=budget, retry_wait=wait_none(), retry_sleep=lambda s: None
    )
    responses.get(f"{BASE}/v4/{CLIENT_ID}/loads", json=_page([], 1))
    client.list_loads()
    with pytest.raises(StitchRateBudgetExhausted) as caught:
        client.list_loads()
    assert caught.value.client_id == CLIENT_ID
    assert len(responses.calls) == 1


@responses.activate
def test_client_id_is_read_once_from_the_account():
    client = StitchClient(
        TOKEN, validate=False, budget=JobsBudget(CLIENT_ID, backend=InMemoryBudgetBackend())
    )
    responses.get(f"{BASE}/v4/sources", json=[])
    responses.get(f"{BASE}/v4/destinations", json=[DEST])
    responses.get(f"{BASE}/v4/{CLIENT_ID}/loads", json=_page([], 1))
    client.list_loads()
    client.list_loads()
    assert client.client_id == CLIENT_ID
    assert [c.request.url.split("?")[0] for c in responses.calls].count(f"{BASE}/v4/destinations") == 1


@responses.activate
def test_extraction_logs_url_is_not_followed_and_fetch_drops_authorization(client):
    location = "https://logs.example.com/116078.1.sync.x?x-amz-security-token=abc"
    responses.get(
        f"{BASE}/v4/{CLIENT_ID}/extractions/116078.1.sync.x", status=302, headers={"Location": location}
    )
    responses.get(location, body="2020-01-01 00:00:00,000Z tap INFO done")
    assert client.get_extraction_logs_url("116078.1.sync.x") == location
    assert len(responses.calls) == 1
    assert client.fetch_extraction_logs("116078.1.sync.x").endswith("tap INFO done")
    log_call = responses.calls[-1]
    assert log_call.request.url == location
    assert "Authorization" not in log_call.request.headers


# ---------------------------------------------------------------- transport rules and secrecy


@pytest.mark.parametrize(
    "url", ["http://api.stitchdata.com", "http://10.0.0.5:8080", "ftp://x", "api.stitchdata.com"]
)
def test_unsafe_base_urls_are_refused(url):
    with pytest.raises(ValueError):
        StitchClient(TOKEN, base_url=url)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.5.0.1", "http://127.5.0.1"),
        ("http://localhost:9", "http://localhost:9"),
        ("http://[::1]:80/", "http://[::1]"),
        ("HTTP://LocalHost:9/", "http://localhost:9"),
    ],
)
def test_plain_http_to_loopback_is_allowed(url, canonical):
    assert StitchClient(TOKEN, base_url=url).base_url == canonical


@responses.activate
def test_token_never_in_exceptions_or_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    responses.get(f"{BASE}/v4/sources", status=401, body=f'{{"error":{{"message":"token {TOKEN} revoked"}}}}')
    with pytest.raises(StitchUnauthorizedError) as caught:
        client.list_sources()
    responses.get(f"{BASE}/v4/sources/1", body=requests.ConnectionError(f"boom {TOKEN}"))
    with pytest.raises(StitchTransportError) as dropped:
        client.get_source(1)
    texts = [str(caught.value), repr(caught.value.body), str(dropped.value), repr(client)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("GET /v4/sources -> 401" in t for t in texts)
    assert caplog.records, "the client logs method, path and status"
    for text in texts:
        assert TOKEN not in text
    # the original requests error (which could quote anything) is not chained into tracebacks
    assert dropped.value.__cause__ is None and dropped.value.__suppress_context__ is True


@responses.activate
def test_tls_verification_stays_on_even_with_a_lax_session(budget):
    session = requests.Session()
    session.verify = False
    client = StitchClient(TOKEN, client_id=CLIENT_ID, session=session, validate=False, budget=budget)
    seen = {}

    def capture(request):
        return (200, {}, "[]")

    responses.add_callback(responses.GET, f"{BASE}/v4/sources", callback=capture)
    original = session.send

    def send(request, **kwargs):
        seen["verify"] = kwargs.get("verify")
        return original(request, **kwargs)

    session.send = send
    client.list_sources()
    assert seen["verify"] not in (False, None)


# ---------------------------------------------------------------- validation before the network


@responses.activate
def test_invalid_properties_are_refused_before_any_request(budget):
    from airflow_provider_stitch.connectors import PropertiesValidationError

    client = StitchClient(TOKEN, client_id=CLIENT_ID, budget=budget)
    with pytest.raises(PropertiesValidationError, match="bogus_prop"):
        client.create_source("platform.github", "GitHub", {"bogus_prop": "x"})
    assert len(responses.calls) == 0


@responses.activate
def test_update_sends_normalised_properties(budget):
    client = StitchClient(TOKEN, client_id=CLIENT_ID, budget=budget)
    responses.get(f"{BASE}/v4/sources/108726", json=SOURCE)
    responses.put(f"{BASE}/v4/sources/108726", json=SOURCE)
    client.update_source(108726, properties={"frequency_in_minutes": 60})
    assert body_of(responses.calls[-1]) == {"properties": {"frequency_in_minutes": "60"}}


@responses.activate
def test_unknown_types_are_left_to_stitch(budget):
    client = StitchClient(TOKEN, client_id=CLIENT_ID, budget=budget)
    responses.post(f"{BASE}/v4/sources", json=SOURCE)
    client.create_source("platform.not_in_catalog", "X", {"anything": "goes"})
    assert body_of(responses.calls[0])["properties"] == {"anything": "goes"}


@responses.activate
def test_one_jobs_page_by_number_pays_one_token(client, budget):
    path = f"/v4/{CLIENT_ID}/loads"
    responses.get(
        BASE + path,
        json=_page([{"source_name": "a", "stream_name": "s9"}], 3),
        match=[matchers.query_string_matcher("page=3")],
    )
    payload = client.get_jobs_page("list_loads", 3)
    assert payload["page"] == 3 and payload["data"][0]["stream_name"] == "s9"
    assert budget.used() == 1
    with pytest.raises(ValueError, match="list_sources is not paginated"):
        client.get_jobs_page("list_sources", 1)
    with pytest.raises(ValueError, match="page numbers start at 1, not 0"):
        client.get_jobs_page("list_extractions", 0)
    assert budget.used() == 1


@responses.activate
def test_a_destination_rename_sends_the_properties_the_docs_require(client):
    """PUT /v4/destinations/{id} lists ``properties`` as required: a rename sends an empty map with it."""
    responses.put(f"{BASE}/v4/destinations/155582", json=DEST)
    client.update_destination(155582, display_name="Renamed")
    assert len(responses.calls) == 1
    assert json.loads(responses.calls[0].request.body) == {"properties": {}, "name": "Renamed"}


@responses.activate
def test_an_update_given_its_type_makes_no_lookup_request(budget, sleeps):
    responses.put(f"{BASE}/v4/destinations/155582", json=DEST)
    responses.put(f"{BASE}/v4/sources/126890", json=SOURCE)
    with StitchClient(TOKEN, client_id=CLIENT_ID, budget=budget, retry_sleep=sleeps.append) as checking:
        checking.update_destination(155582, properties={"username": "x"}, connection_type="postgres")
        checking.update_source(
            126890, properties={"frequency_in_minutes": "60"}, connection_type="platform.hubspot"
        )
    assert [call.request.method for call in responses.calls] == ["PUT", "PUT"]
