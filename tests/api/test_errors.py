"""Every documented error body shape becomes the right exception with Stitch's code and message."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_stitch.api import errors
from airflow_provider_stitch.api.errors import (
    StitchAlreadyRunningError,
    StitchAPIError,
    StitchBadRequestError,
    StitchInvalidPropertiesError,
    StitchNotFoundError,
    StitchRateBudgetExhausted,
    StitchServerError,
    StitchUnauthorizedError,
    build_api_error,
    parse_error_body,
)
from tests.api.stitch_api_testkit import TOKEN, response_bodies

SHAPES = [
    # plain string (destinations)
    (
        400,
        "you are at your destination limit",
        None,
        "you are at your destination limit",
        StitchBadRequestError,
    ),
    # {"error": CODE, "data": {...}} (sources)
    (
        400,
        '{"error":"InvalidType","data":{"message":"invalid source type (platform.nope)"}}',
        "InvalidType",
        "invalid source type (platform.nope)",
        StitchBadRequestError,
    ),
    # {"error": {"type", "message"}} (replication jobs)
    (
        400,
        '{"error":{"type":"invalid_source","message":"Integration is deleted."}}',
        "invalid_source",
        "Integration is deleted.",
        StitchBadRequestError,
    ),
    # {"code", "message", "errors"} (accounts)
    (
        400,
        '{"code":"BadRequest","message":"Invalid form data.","errors":{"partner_id":"required"}}',
        "BadRequest",
        "Invalid form data. (partner_id: required)",
        StitchBadRequestError,
    ),
    # {"invalid_fields"} (streams)
    (
        400,
        '{"invalid_fields":"invalid tap-stream-ids:  [nil]"}',
        "InvalidFields",
        "invalid tap-stream-ids:  [nil]",
        StitchBadRequestError,
    ),
    # JSON string (streams)
    (400, '"invalid stream-id: 12"', None, "invalid stream-id: 12", StitchBadRequestError),
    # {"status"} (custom emails)
    (404, '{"status": "NOT FOUND"}', None, "NOT FOUND", StitchNotFoundError),
    # {"error": {"message": {...}}} (custom emails)
    (
        400,
        '{"error":{"message":{"email_address":"Required. Must be valid email address format."}}}',
        None,
        "email_address: Required. Must be valid email address format.",
        StitchBadRequestError,
    ),
    # {"error": "NotFound"} (hooks)
    (400, '{"error": "NotFound"}', "NotFound", "NotFound", StitchBadRequestError),
    # {"disabled_at": ...} (custom emails)
    (
        400,
        '{"disabled_at": "tomorrow"}',
        "InvalidDisabledAt",
        "invalid disabled_at value 'tomorrow'",
        StitchBadRequestError,
    ),
    # bodies without any text
    (401, "", None, "HTTP 401", StitchUnauthorizedError),
    (502, "<html>Bad Gateway</html>", None, "<html>Bad Gateway</html>", StitchServerError),
    (418, '{"weird": true}', None, '{"weird": true}', StitchAPIError),
]


@pytest.mark.parametrize(("status", "text", "code", "message", "cls"), SHAPES)
def test_each_shape(status, text, code, message, cls):
    assert parse_error_body(status, text)[:2] == (code, message)
    error = build_api_error(status, text, method="post", path="/v4/sources")
    assert type(error) is cls
    assert (error.status, error.code, error.message, error.method, error.path) == (
        status,
        code,
        message,
        "POST",
        "/v4/sources",
    )


def test_invalid_properties_carry_bad_properties_and_read_well():
    text = (
        '{"error":"InvalidProperties","data":{"message":"properties do not match schema",'
        '"bad_properties":["start_date","frequency_in_minutes"],"report_card":{}}}'
    )
    error = build_api_error(400, text, method="POST", path="/v4/sources")
    assert isinstance(error, StitchInvalidPropertiesError)
    assert error.bad_properties == ["start_date", "frequency_in_minutes"]
    assert str(error) == "POST /v4/sources -> 400 InvalidProperties: properties do not match schema"
    assert error.body["error"] == "InvalidProperties"


def test_already_running_class():
    text = '{"error":{"type":"already_running","message":"Did not create job"}}'
    error = build_api_error(200, text, method="POST", path="/v4/sources/1/sync")
    assert isinstance(error, StitchAlreadyRunningError)
    assert str(error) == "POST /v4/sources/1/sync -> 200 already_running: Did not create job"


def test_secrets_are_scrubbed_from_text_body_and_message():
    text = f'{{"code":"BadRequest","message":"bad token {TOKEN}","access_token":"{TOKEN}","partner_secret":"oc_x"}}'
    error = build_api_error(400, text, method="POST", path="/v3/accounts", secrets=[TOKEN])
    assert TOKEN not in str(error) and TOKEN not in repr(error.body) and TOKEN not in error.message
    assert error.body["access_token"] == "***" and error.body["partner_secret"] == "***"


def test_errors_survive_pickling():
    error = build_api_error(404, '{"status": "NOT FOUND"}', method="PUT", path="/x", retry_after=3.0)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is StitchNotFoundError and str(copy) == str(error) and copy.retry_after == 3.0
    budget = pickle.loads(pickle.dumps(StitchRateBudgetExhausted(116078, 12.5, limit=30, window=600)))
    assert budget.client_id == 116078 and budget.wait == 12.5
    assert "30 requests per 600 s" in str(budget) and "12.5 s" in str(budget)


@pytest.mark.parametrize(
    "resource",
    [
        "accounts",
        "custom-email-notifications",
        "destinations",
        "hook-notifications",
        "replication-jobs",
        "sources",
        "streams",
    ],
)
def test_every_documented_error_body_gives_a_message(resource):
    bodies = response_bodies(resource)
    assert bodies
    for status, _method, body in bodies:
        if not status.isdigit() or not body or body.startswith("Occurs when"):
            continue
        code, message, _details = parse_error_body(int(status), body)
        assert message, body
        assert not message.lstrip().startswith("{"), body
        if '"error"' in body and '"type"' in body:
            assert code in ("already_running", "invalid_source", "generic")


def test_documented_source_errors_keep_their_codes():
    codes = {
        parse_error_body(400, body)[0] for status, _m, body in response_bodies("sources") if status == "400"
    }
    assert {"InvalidType", "InvalidName", "InvalidBody", "AccessDenied", "InvalidProperties"} <= codes


def test_transport_error_text():
    error = errors.StitchTransportError("timed out", method="get", path="/v4/sources", request_sent=True)
    assert str(error) == "GET /v4/sources: timed out" and error.request_sent is True


def test_the_package_transport_errors_survive_pickling_with_their_attributes():
    from airflow_provider_stitch.api.errors import (
        StitchDeadlineExceeded,
        StitchMalformedResponseError,
        StitchResponseTooLarge,
        StitchTransportError,
    )

    refused = StitchTransportError(
        "refused", method="get", path="/v4/sources", request_sent=False, permanent=True
    )
    for error in (
        refused,
        StitchMalformedResponseError("the body is HTML (10 characters)", method="GET", path="/v4/sources"),
        StitchResponseTooLarge(1024, method="GET", path="/v4/sources"),
        StitchDeadlineExceeded("GET /v4/sources", 5.0, "timed out"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert vars(copy) == vars(error)
    assert pickle.loads(pickle.dumps(refused)).permanent is True
