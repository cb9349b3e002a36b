"""Transport safety: no plain HTTP to a remote host, a silent server fails within the timeout, and TLS
certificate verification cannot be switched off without an error."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from airflow_provider_stitch.api.aclient import AsyncStitchClient
from airflow_provider_stitch.api.client import StitchClient
from airflow_provider_stitch.api.errors import StitchTransportError
from airflow_provider_stitch.api.urls import UnsafeURLError, check_base_url, resolve_on_api_host
from tests.reliability.loopback_servers import SilentServer, UntrustedTlsServer

TOKEN = "ac_transport-canary-token-0123456789"
#: Timeout of each request against the silent server, and the attempts allowed.
SHORT_TIMEOUT = 0.3
ATTEMPTS = 3

REMOTE_PLAIN_HTTP = [
    "http://api.stitchdata.com",
    "HTTP://API.STITCHDATA.COM/",
    "http://10.1.2.3:8080",
    "http://192.168.10.20",
    "http://[2001:db8::1]:8443",
    "http://127.0.0.1.example.com",
    "http://localhost.example.com",
    "http://0.0.0.0:8765",
]
LOOPBACK_PLAIN_HTTP = [
    "http://127.0.0.1:8765",
    "http://localhost:8765",
    "http://[::1]:8765",
    "http://127.9.9.9",
]


def _no_wait(_state: Any) -> float:
    return 0.0


@pytest.mark.parametrize("base_url", REMOTE_PLAIN_HTTP)
def test_plain_http_to_a_remote_host_is_refused_by_both_clients(base_url: str) -> None:
    with pytest.raises(ValueError, match="https://") as sync_refusal:
        StitchClient(TOKEN, base_url=base_url)
    with pytest.raises(ValueError, match="https://") as async_refusal:
        AsyncStitchClient(TOKEN, base_url=base_url)
    for refusal in (sync_refusal, async_refusal):
        assert TOKEN not in str(refusal.value)


@pytest.mark.parametrize("base_url", ["ftp://api.stitchdata.com", "ws://127.0.0.1:1", "api.stitchdata.com"])
def test_other_schemes_and_relative_urls_are_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="Stitch base URL"):
        StitchClient(TOKEN, base_url=base_url)


@pytest.mark.parametrize("base_url", LOOPBACK_PLAIN_HTTP)
def test_plain_http_is_allowed_only_to_loopback(base_url: str) -> None:
    with StitchClient(TOKEN, base_url=base_url) as client:
        assert client.base_url == base_url.rstrip("/")


@pytest.mark.parametrize("host", ["http://api.example.com", "http://10.0.0.7:8080"])
def test_a_connection_pointing_at_a_remote_plain_http_host_is_refused_by_the_hook(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_stitch.hooks.stitch import StitchHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_STITCH_PLAIN_HTTP",
        f'{{"conn_type": "stitch", "host": "{host}", "password": "{TOKEN}"}}',
    )
    with pytest.raises(ValueError, match="plain http://") as refusal:
        StitchHook("stitch_plain_http").get_client()
    assert TOKEN not in str(refusal.value)


def test_pagination_links_to_another_host_are_not_followed() -> None:
    root = check_base_url("https://api.stitchdata.com")
    what = "pagination link"
    with pytest.raises(UnsafeURLError, match="another host"):
        resolve_on_api_host(root, "https://collector.example.com/v4/1/extractions?page=2", what=what)
    with pytest.raises(UnsafeURLError, match="another host"):
        resolve_on_api_host(root, "http://api.stitchdata.com/v4/1/extractions?page=2", what=what)
    assert resolve_on_api_host(root, "/v4/1/extractions?page=2", what=what) == "/v4/1/extractions?page=2"


# ---------------------------------------------------------------------------------------- silent server


def test_a_server_that_never_answers_fails_the_sync_request_within_its_timeout() -> None:
    with SilentServer() as server:
        client = StitchClient(
            TOKEN, base_url=server.base_url, timeout=SHORT_TIMEOUT, max_attempts=ATTEMPTS, retry_wait=_no_wait
        )
        started = time.monotonic()
        with pytest.raises(StitchTransportError) as failure:
            client.list_sources()
        elapsed = time.monotonic() - started
        client.close()
        assert len(server.accepted) == ATTEMPTS
        base_url = server.base_url

    assert SHORT_TIMEOUT * ATTEMPTS * 0.9 <= elapsed < SHORT_TIMEOUT * ATTEMPTS + 2.0
    assert str(failure.value) == f"GET /v4/sources: no complete answer from {base_url} within 0.3 s"
    assert failure.value.request_sent is True


def test_a_create_against_a_silent_server_fails_in_bounded_time_without_blind_resends() -> None:
    """A create that timed out may have reached Stitch: it is resent only after a lookup, and the lookup
    itself (a list) meets the same timeout, so the task still fails within attempts x timeout each."""
    with SilentServer() as server:
        client = StitchClient(
            TOKEN, base_url=server.base_url, timeout=SHORT_TIMEOUT, max_attempts=ATTEMPTS, retry_wait=_no_wait
        )
        started = time.monotonic()
        with pytest.raises(StitchTransportError) as failure:
            client.create_destination("postgres", _postgres_destination(), "Warehouse")
        elapsed = time.monotonic() - started
        client.close()

    assert elapsed < SHORT_TIMEOUT * (1 + ATTEMPTS) + 2.0
    assert str(failure.value).endswith("within 0.3 s")
    assert TOKEN not in str(failure.value)


def test_a_server_that_never_answers_fails_the_async_request_within_its_timeout() -> None:
    async def call() -> tuple[float, StitchTransportError]:
        async with AsyncStitchClient(
            TOKEN, base_url=server.base_url, timeout=SHORT_TIMEOUT, max_attempts=ATTEMPTS, retry_wait=_no_wait
        ) as client:
            started = time.monotonic()
            try:
                await client.list_sources()
            except StitchTransportError as error:
                return time.monotonic() - started, error
        raise AssertionError("the silent server answered")

    with SilentServer() as server:
        elapsed, error = asyncio.run(call())
        assert len(server.accepted) >= 1

    assert elapsed < SHORT_TIMEOUT * ATTEMPTS + 2.0
    assert str(error) == f"GET /v4/sources: no complete answer from {server.base_url} within 0.3 s"


def test_an_emulated_hung_response_fails_within_the_timeout(stitch_emulator: Any) -> None:
    stitch_emulator.control.set_faults(pattern="^/v4/sources$", action="hang")
    with StitchClient(
        stitch_emulator.token,
        base_url=stitch_emulator.base_url,
        timeout=SHORT_TIMEOUT,
        max_attempts=ATTEMPTS,
        retry_wait=_no_wait,
    ) as client:
        started = time.monotonic()
        with pytest.raises(
            StitchTransportError, match="^GET /v4/sources: no complete answer from .* within 0.3 s$"
        ):
            client.list_sources()
        elapsed = time.monotonic() - started

    assert elapsed < SHORT_TIMEOUT * ATTEMPTS + 2.0
    statuses = [entry["status"] for entry in stitch_emulator.control.stats()["log"]]
    assert statuses == ["hung"] * ATTEMPTS


def _postgres_destination() -> dict[str, Any]:
    return {
        "host": "warehouse.example.com",
        "port": 5432,
        "username": "loader",
        "password": "transport-test-password",
        "database": "analytics",
        "encryption_type": "none",
        "ssl": "false",
    }


# ------------------------------------------------------------------------------------------------- TLS


@pytest.fixture
def untrusted_tls(tmp_path: Path) -> Any:
    with UntrustedTlsServer(tmp_path) as server:
        yield server


def test_the_sync_client_refuses_an_untrusted_certificate(untrusted_tls: UntrustedTlsServer) -> None:
    with (
        StitchClient(TOKEN, base_url=untrusted_tls.base_url, max_attempts=1) as client,
        pytest.raises(
            StitchTransportError, match="at https://127.0.0.1:[0-9]+: TLS certificate not trusted$"
        ),
    ):
        client.list_sources()
    assert untrusted_tls.requests_read == 0


def test_a_session_with_verification_off_does_not_turn_it_off(untrusted_tls: UntrustedTlsServer) -> None:
    session = requests.Session()
    session.verify = False
    with (
        StitchClient(TOKEN, base_url=untrusted_tls.base_url, max_attempts=1, session=session) as client,
        pytest.raises(StitchTransportError, match="TLS certificate not trusted"),
    ):
        client.list_sources()
    session.close()
    assert untrusted_tls.requests_read == 0


@pytest.mark.parametrize("variable", ["CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
def test_empty_ca_bundle_variables_do_not_turn_verification_off(
    untrusted_tls: UntrustedTlsServer, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "")
    with (
        StitchClient(TOKEN, base_url=untrusted_tls.base_url, max_attempts=1) as client,
        pytest.raises(StitchTransportError, match="TLS certificate not trusted"),
    ):
        client.list_sources()
    assert untrusted_tls.requests_read == 0


def test_a_trusted_certificate_is_accepted(
    untrusted_tls: UntrustedTlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same server passes once its certificate is trusted: the refusals above are about trust only."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(untrusted_tls.certificate))
    with StitchClient(TOKEN, base_url=untrusted_tls.base_url, max_attempts=1) as client:
        assert client.list_sources() == []
    assert untrusted_tls.requests_read == 1


def test_the_async_client_refuses_an_untrusted_certificate(untrusted_tls: UntrustedTlsServer) -> None:
    async def call() -> None:
        async with AsyncStitchClient(TOKEN, base_url=untrusted_tls.base_url, max_attempts=1) as client:
            await client.list_sources()

    with pytest.raises(
        StitchTransportError, match="at https://127.0.0.1:[0-9]+: TLS certificate not trusted$"
    ):
        asyncio.run(call())
    assert untrusted_tls.requests_read == 0


def test_an_http_client_without_verification_is_refused_loudly(untrusted_tls: UntrustedTlsServer) -> None:
    async def build() -> None:
        insecure = httpx.AsyncClient(verify=False)
        try:
            AsyncStitchClient(TOKEN, base_url=untrusted_tls.base_url, http_client=insecure)
        finally:
            await insecure.aclose()

    with pytest.raises(ValueError, match="does not verify TLS certificates"):
        asyncio.run(build())
    assert untrusted_tls.requests_read == 0


def test_connection_extras_cannot_switch_verification_off(
    untrusted_tls: UntrustedTlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_stitch.hooks.stitch import StitchHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_STITCH_INSECURE",
        f'{{"conn_type": "stitch", "host": "{untrusted_tls.base_url}", "password": "{TOKEN}", '
        '"extra": {"verify": false, "verify_ssl": false, "insecure": true, "stitch_client_id": 1}}',
    )
    client = StitchHook("stitch_insecure", max_attempts=1).get_client()
    with pytest.raises(StitchTransportError, match="TLS certificate not trusted"):
        client.list_sources()
    assert untrusted_tls.requests_read == 0


def test_an_http_client_that_verifies_against_its_own_ca_is_accepted(
    untrusted_tls: UntrustedTlsServer,
) -> None:
    async def call() -> list[Any]:
        context = ssl.create_default_context(cafile=str(untrusted_tls.certificate))
        async with httpx.AsyncClient(verify=context) as trusting:
            client = AsyncStitchClient(TOKEN, base_url=untrusted_tls.base_url, http_client=trusting)
            return await client.list_sources()

    assert asyncio.run(call()) == []
    assert untrusted_tls.requests_read == 1
