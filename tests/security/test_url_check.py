"""The URL check itself: what it accepts is rebuilt canonically, and every refusal lists its reasons."""

from __future__ import annotations

import pytest

from airflow_provider_stitch.api.urls import (
    UnsafeURLError,
    check_base_url,
    check_url,
    resolve_elsewhere,
    resolve_on_api_host,
)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("https://api.stitchdata.com", "https://api.stitchdata.com"),
        ("https://API.StitchData.com/", "https://api.stitchdata.com"),
        ("HTTPS://api.stitchdata.com:443/", "https://api.stitchdata.com"),
        ("https://proxy.example.com:8443/stitch/", "https://proxy.example.com:8443/stitch"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://[::1]:8765/", "http://[::1]:8765"),
        ("http://localhost", "http://localhost"),
    ],
)
def test_an_accepted_base_url_is_rebuilt_from_its_checked_parts(given: str, canonical: str) -> None:
    assert str(check_base_url(given)) == canonical
    assert check_url(given) == canonical


def test_every_problem_of_a_url_is_listed_at_once() -> None:
    with pytest.raises(UnsafeURLError) as refusal:
        check_base_url("ftp://user:pw@host\\name/x#frag")
    assert refusal.value.problems == [
        "it contains a backslash",
        "it must start with https:// such as https://api.stitchdata.com (got ftp://)",
        "it carries user info (user:password@); put the API token in the password field",
        "it has a fragment (#...)",
    ]


def test_a_refusal_never_echoes_the_url() -> None:
    with pytest.raises(UnsafeURLError) as refusal:
        check_base_url("https://stitch:s3cr3t-value@api.stitchdata.com")
    assert "s3cr3t-value" not in str(refusal.value)


def test_a_base_url_takes_no_query_but_a_log_url_keeps_its_query_and_path_exactly() -> None:
    with pytest.raises(UnsafeURLError, match="query string"):
        check_base_url("https://api.stitchdata.com/?x=1")
    log = "https://logs.example.com/bucket/job%201/log.txt/?X-Amz-Signature=ab%2Fcd&X-Amz-Expires=60"
    assert check_url(log, what="log URL") == log


def test_next_links_resolve_under_a_base_path_and_may_not_leave_it() -> None:
    root = check_base_url("https://proxy.example.com/stitch/")
    assert (
        resolve_on_api_host(root, "/stitch/v4/1/loads?page=3", what="pagination link") == "/v4/1/loads?page=3"
    )
    assert resolve_on_api_host(root, "v4/1/loads?page=3", what="pagination link") == "/v4/1/loads?page=3"
    with pytest.raises(UnsafeURLError, match="it leaves the API root /stitch"):
        resolve_on_api_host(root, "/other/v4/1/loads?page=3", what="pagination link")


def test_a_relative_log_location_is_read_against_the_api_root() -> None:
    root = check_base_url("http://127.0.0.1:8765")
    assert (
        resolve_elsewhere(root, "/logs/job-1.txt", what="log URL") == "http://127.0.0.1:8765/logs/job-1.txt"
    )
    with pytest.raises(UnsafeURLError, match="plain http:// to logs.example.com"):
        resolve_elsewhere(root, "http://logs.example.com/job-1.txt", what="log URL")
