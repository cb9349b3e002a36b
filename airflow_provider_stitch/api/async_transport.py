"""One bounded HTTP exchange with httpx: a total time limit per request and a cap on the body size.

httpx, like requests, times each read separately; here the whole exchange (connecting, TLS, headers and
body) runs under one ``asyncio.wait_for``, and the body is read in chunks that stop at ``max_bytes``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from airflow_provider_stitch.api.responses import RawResponse
from airflow_provider_stitch.api.transport import BodyLimit, network_error, out_of_time_error


async def _read_body(response: httpx.Response, max_bytes: int, method: str, path: str) -> bytes:
    limit = BodyLimit(max_bytes, method=method, path=path)
    limit.check_declared(response.headers.get("Content-Length"))
    async for chunk in response.aiter_bytes():
        limit.add(chunk)
    return limit.body()


async def exchange(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    path: str,
    origin: str,
    headers: dict[str, str],
    json_body: Any,
    seconds: float,
    max_bytes: int,
) -> RawResponse:
    """Send one request and read its whole answer within ``seconds`` and ``max_bytes``.

    :param http: the httpx client.
    :param method: HTTP method.
    :param url: the full URL (built from a checked root).
    :param path: the request path, for errors.
    :param origin: ``scheme://host:port``, for errors.
    :param headers: request headers.
    :param json_body: JSON body, or None.
    :param seconds: total time allowed.
    :param max_bytes: largest body accepted.
    :raises StitchTransportError: on a network failure or when the time runs out.
    :raises StitchResponseTooLarge: when the body is longer than ``max_bytes``.
    """

    async def send_and_read() -> RawResponse:
        async with http.stream(
            method, url, json=json_body, headers=headers, timeout=seconds, follow_redirects=False
        ) as response:
            body = await _read_body(response, max_bytes, method, path)
            return RawResponse(response.status_code, response.headers, body, response.charset_encoding)

    try:
        return await asyncio.wait_for(send_and_read(), seconds)
    except asyncio.TimeoutError:
        raise out_of_time_error(method=method, path=path, origin=origin, seconds=seconds) from None
    except httpx.HTTPError as error:
        raise network_error(
            error, method=method, path=path, origin=origin, request_sent=_request_sent(error)
        ) from None


def _request_sent(error: httpx.HTTPError) -> bool | None:
    """Whether a failed request can have reached the server: False when it surely did not."""
    if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
        return False
    if isinstance(error, httpx.TimeoutException):
        return True
    return None


__all__ = ["exchange"]
