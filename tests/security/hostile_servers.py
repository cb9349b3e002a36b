"""Loopback HTTP servers that misbehave on purpose: a token trap, a scripted API, a trickler, an endless
body. Each runs on 127.0.0.1 on a free port in a background thread while used as a context manager."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

LOOPBACK = "127.0.0.1"

#: A scripted answer: status, extra headers, body.
Reply = tuple[int, dict[str, str], bytes]


def read_request(connection: socket.socket, limit: int = 1 << 20) -> bytes:
    """Read one request head (and a body announced by Content-Length) from a connection."""
    data = b""
    connection.settimeout(5)
    try:
        while b"\r\n\r\n" not in data and len(data) < limit:
            chunk = connection.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    except OSError:
        return data


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer."""
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode()


class HostileServer:
    """A threaded TCP server on a free loopback port; ``handle(connection, request)`` answers each one.

    Every request it reads is kept in :attr:`requests` (raw bytes, headers included).
    """

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                request = read_request(self.request)
                if request:
                    with outer._lock:
                        outer.requests.append(request)
                    with contextlib.suppress(OSError):
                        outer.handle(self.request, request)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{LOOPBACK}:{self.port}"

    def received(self) -> bytes:
        """Everything received so far, all requests joined."""
        with self._lock:
            return b"\n".join(self.requests)

    def handle(self, connection: socket.socket, request: bytes) -> None:
        """Answer one request (subclasses)."""
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
        )

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class TokenTrap(HostileServer):
    """Stands in for a foreign host: answers every request 200 ``[]`` (so a leak would look like success)."""


class ScriptedServer(HostileServer):
    """Answers by request path (query included) from a table; anything else is 404.

    :param routes: path -> reply, or path -> function of the raw request returning a reply.
    """

    def __init__(self, routes: dict[str, Reply | Callable[[bytes], Reply]]) -> None:
        self.routes = routes
        super().__init__()

    def handle(self, connection: socket.socket, request: bytes) -> None:
        target = request.split(b" ", 2)[1].decode("latin-1") if request.count(b" ") >= 2 else ""
        route = self.routes.get(target)
        if route is None:
            reply: Reply = json_reply({"message": f"no route {target}"}, 404)
        else:
            reply = route(request) if callable(route) else route
        status, headers, body = reply
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


class TricklingServer(HostileServer):
    """Sends a valid answer one byte every ``interval`` seconds (headers first, then a long body).

    :param interval: seconds between bytes.
    :param in_headers: trickle the status line and headers too, not only the body.
    """

    def __init__(self, interval: float = 1.0, *, in_headers: bool = False) -> None:
        self.interval = interval
        self.in_headers = in_headers
        self.closed = threading.Event()
        super().__init__()

    def handle(self, connection: socket.socket, request: bytes) -> None:
        body = b"[" + b" " * 100_000 + b"]"
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        payload = head.encode() + body
        if not self.in_headers:
            connection.sendall(head.encode())
            payload = body
        for index in range(len(payload)):
            try:
                connection.sendall(payload[index : index + 1])
            except OSError:
                self.closed.set()
                return
            time.sleep(self.interval)


class EndlessServer(HostileServer):
    """Answers 200 with a chunked JSON body that never ends (until the client hangs up)."""

    def __init__(self) -> None:
        self.sent_bytes = 0
        super().__init__()

    def handle(self, connection: socket.socket, request: bytes) -> None:
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b'{"id": 1, "display_name": "' + b"x" * 65000 + b'"},'
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        connection.sendall(b"1\r\n[\r\n")
        while True:
            try:
                connection.sendall(frame)
            except OSError:
                return
            self.sent_bytes += len(chunk)


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])
