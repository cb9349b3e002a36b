"""One bounded HTTP exchange with requests: a total time limit per request and a cap on the body size.

requests (like every socket API) applies its timeout to each read, so a server sending one byte per
second keeps a request alive forever. Here a watchdog timer shuts the request's socket down when its
total time limit passes, whatever phase it is in (connecting, TLS, headers, body), and the body is read
in chunks that stop at ``max_bytes``.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

from airflow_provider_stitch.api.responses import RawResponse
from airflow_provider_stitch.api.transport import BodyLimit, network_error, out_of_time_error

CHUNK_BYTES = 64 * 1024
#: How often a fired watchdog shuts sockets down again (one may have connected after it fired).
REFIRE_SECONDS = 0.2

_local = threading.local()


class _Watchdog:
    """Shuts down the sockets of one request once its time limit passes (fired by :class:`_Keeper`)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self.done = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def __enter__(self) -> _Watchdog:
        _local.watchdog = self
        _KEEPER.schedule(self, time.monotonic() + self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
        _local.watchdog = None

    def finish(self) -> None:
        """The request has ended: its connections may go back to the pool and must not be touched."""
        with self._lock:
            self.done = True

    def watch(self, connection: Any) -> None:
        with self._lock:
            self._connections.append(connection)

    def fire(self) -> None:
        """Shut the request's sockets down; again a little later while the request has not ended."""
        with self._lock:
            if self.done:
                return
            self.fired = True
            for connection in self._connections:
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
        _KEEPER.schedule(self, time.monotonic() + REFIRE_SECONDS)


class _Keeper:
    """One background thread per process that fires watchdogs when their time comes (a thread per
    request would cost more than the request itself)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._due: list[tuple[float, int, _Watchdog]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def schedule(self, watchdog: _Watchdog, at: float) -> None:
        with self._wake:
            heapq.heappush(self._due, (at, next(self._order), watchdog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="stitch-request-deadlines", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                left = self._due[0][0] - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                _, _, watchdog = heapq.heappop(self._due)
            watchdog.fire()


_KEEPER = _Keeper()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_KEEPER._reset)


class _WatchedPoolMixin:
    """Registers each connection a request uses with that request's watchdog."""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        watchdog = getattr(_local, "watchdog", None)
        if watchdog is not None:
            watchdog.watch(conn)
        return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPPool(_WatchedPoolMixin, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPoolMixin, HTTPSConnectionPool):
    pass


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connection pools let a request's watchdog reach its sockets."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager


def watched_session(session: requests.Session | None, origin: str | None = None) -> requests.Session:
    """A session whose requests to ``origin`` (all, when None) can be bounded in total time.

    :param session: a session to equip, or None for a new one.
    :param origin: ``scheme://host[:port]`` to mount the adapter for.
    """
    target = session if session is not None else requests.Session()
    prefixes = [origin + "/"] if origin else ["http://", "https://"]
    for prefix in prefixes:
        target.mount(prefix, WatchedAdapter())
    return target


def _read_body(response: requests.Response, max_bytes: int, method: str, path: str) -> bytes:
    limit = BodyLimit(max_bytes, method=method, path=path)
    limit.check_declared(response.headers.get("Content-Length"))
    for chunk in response.raw.stream(CHUNK_BYTES, decode_content=True):
        limit.add(chunk)
    return limit.body()


def exchange(
    session: requests.Session,
    method: str,
    url: str,
    *,
    path: str,
    origin: str,
    headers: dict[str, str],
    json_body: Any,
    form: dict[str, Any] | None,
    seconds: float,
    max_bytes: int,
) -> RawResponse:
    """Send one request and read its whole answer within ``seconds`` and ``max_bytes``.

    :param session: a session from :func:`watched_session`.
    :param method: HTTP method.
    :param url: the full URL (built from a checked root).
    :param path: the request path, for errors.
    :param origin: ``scheme://host:port``, for errors.
    :param headers: request headers.
    :param json_body: JSON body, or None.
    :param form: form fields, or None.
    :param seconds: total time allowed.
    :param max_bytes: largest body accepted.
    :raises StitchTransportError: on a network failure or when the time runs out.
    :raises StitchResponseTooLarge: when the body is longer than ``max_bytes``.
    """
    response: requests.Response | None = None
    complete = False
    with _Watchdog(seconds) as watchdog:
        try:
            response = session.request(
                method,
                url,
                json=json_body if form is None else None,
                data=form,
                headers=headers,
                timeout=(seconds, seconds),
                allow_redirects=False,
                verify=True,
                stream=True,
            )
            body = _read_body(response, max_bytes, method, path)
            complete = True
        except (requests.RequestException, Urllib3Error, OSError) as error:
            if watchdog.fired:
                raise out_of_time_error(method=method, path=path, origin=origin, seconds=seconds) from None
            raise network_error(
                error, method=method, path=path, origin=origin, request_sent=_request_sent(error)
            ) from None
        finally:
            watchdog.finish()
            if response is not None and complete:
                response.raw.release_conn()
            elif response is not None:
                response.close()
    return RawResponse(response.status_code, response.headers, body, response.encoding)


def _request_sent(error: BaseException) -> bool | None:
    """Whether a failed request can have reached the server: False when it surely did not."""
    if isinstance(error, requests.ConnectTimeout):
        return False
    if isinstance(error, requests.Timeout):
        return True
    if isinstance(error, requests.ConnectionError) and "NewConnectionError" in repr(error.args):
        return False
    return None


__all__ = ["WatchedAdapter", "exchange", "watched_session"]
