"""Print the transport figures: tokens leaked to parser-differential URLs, peak memory on an endless body,
the worst deadline overrun, how long a refused connection takes, and malformed answers with foreign errors.

Everything runs against small misbehaving servers on 127.0.0.1; nothing touches the internet. Run it on an
idle machine: ``.venv/bin/python benchmarks/transport_bounds.py`` (about a minute). It also runs against an
older checkout (``PYTHONPATH=<checkout>``): figures the old code cannot produce print as ``n/a``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

TOKEN = "ac_bench-canary-0b7e"
H = "127.0.0.1"
DIFFERENTIALS = [
    "http://{H}:{T}\\@{H}:{A}",
    "http://{H}:{T}\\\\@{H}:{A}/",
    "http://{H}:{T}\\@[::1]:{A}",
    "HTTP://{H}:{T}\\@{H}:{A}",
    "http://{H}:{T}\t@{H}:{A}",
    "http://{H}:{T}\n@{H}:{A}",
    "http://{H}:{T} @{H}:{A}",
    "http://{H}:{A}@{H}:{T}",
    "http://stitch:secret@{H}:{T}",
    "http://{H}:{T}#@{H}:{A}",
    "http://{H}:{T}?@{H}:{A}",
    "http://%31%32%37.0.0.1:{T}",
    "http://localhost.:{T}",
    "http://127.1:{T}",
    "http://0x7f000001:{T}",
    "http://{H}:{T}\uff20{H}:{A}",
]
MALFORMED = [
    b"<html>maintenance</html>",
    b"",
    b"null",
    b'"ok"',
    b"42",
    b"[" * 100_000 + b"]" * 100_000,
    b'[{"id": "twelve", "source_id": "twelve", "stream_id": "x"}]',
    b'[{"id": "\xc2\xb2", "source_id": "\xc2\xb2", "stream_id": "\xc2\xb2"}]',
    b"[null]",
    b'{"data": "rows"}',
]


# ------------------------------------------------------------------------------------------ servers


class Server:
    """A threaded loopback TCP server; ``reply(connection, request)`` answers each request."""

    def __init__(self, reply: Callable[[socket.socket, bytes], None]) -> None:
        self.received: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(5)
                try:
                    data = self.request.recv(65536)
                    outer.received.append(data)
                    reply(self.request, data)
                except OSError:
                    pass

        self._server = socketserver.ThreadingTCPServer((H, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://{H}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serving(reply: Callable[[socket.socket, bytes], None]) -> Iterator[Server]:
    server = Server(reply)
    try:
        yield server
    finally:
        server.close()


def answer(body: bytes, status: int = 200) -> Callable[[socket.socket, bytes], None]:
    def reply(connection: socket.socket, _request: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        connection.sendall(head.encode() + body)

    return reply


def silent(connection: socket.socket, _request: bytes) -> None:
    time.sleep(120)


def trickle(connection: socket.socket, _request: bytes) -> None:
    body = b"[" + b" " * 10_000 + b"]"
    connection.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    for byte in body:
        connection.sendall(bytes([byte]))
        time.sleep(1.0)


def endless(connection: socket.socket, _request: bytes) -> None:
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b'{"id": 1, "display_name": "' + b"x" * 65000 + b'"},'
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    connection.sendall(b"1\r\n[\r\n")
    while True:
        connection.sendall(frame)


# ------------------------------------------------------------------------------------------ helpers


def _deadline() -> Callable[[float], Any] | None:
    try:
        from airflow_provider_stitch.api.deadlines import stitch_deadline
    except ImportError:
        return None
    return stitch_deadline


def _timed(call: Callable[[], Any], cap: float) -> tuple[float, str]:
    """Run ``call`` in a thread for at most ``cap`` seconds; its duration and how it ended."""
    outcome: list[str] = []

    def run() -> None:
        try:
            call()
            outcome.append("returned")
        except BaseException as error:  # noqa: BLE001 - any ending is a figure
            outcome.append(f"{type(error).__name__}: {error}")

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(cap)
    return time.monotonic() - started, outcome[0] if outcome else f"still running after {cap:.0f} s"


def _sync(base_url: str, **settings: Any) -> Any:
    from airflow_provider_stitch.api.client import StitchClient

    return StitchClient(TOKEN, base_url=base_url, client_id=1, **settings)


def _async_call(base_url: str, method: str, **settings: Any) -> Callable[[], Any]:
    from airflow_provider_stitch.api.aclient import AsyncStitchClient

    async def run() -> None:
        async with AsyncStitchClient(TOKEN, base_url=base_url, client_id=1, **settings) as client:
            await getattr(client, method)()

    return lambda: asyncio.run(run())


# ------------------------------------------------------------------------------------------ figures


def url_differentials() -> None:
    tried = leaked = accepted = 0
    for template in DIFFERENTIALS:
        with serving(answer(b"[]")) as trap, serving(answer(b"[]")) as api:
            url = template.format(H=H, T=trap.port, A=api.port)
            for use in ("sync", "async"):
                tried += 1
                try:
                    if use == "sync":
                        _sync(url, max_attempts=1, timeout=2).list_sources()
                    else:
                        _async_call(url, "list_sources", max_attempts=1, timeout=2)()
                    accepted += 1
                except Exception:  # noqa: BLE001 - a refusal is the expected outcome
                    pass
            time.sleep(0.05)
            leaked += sum(TOKEN.encode() in request for request in trap.received)
    print(
        f"url differentials: {len(DIFFERENTIALS)} URLs x 2 clients = {tried} tried, {accepted} accepted, "
        f"{leaked} tokens leaked to the trap"
    )


def _child_peak_memory(client: str, cap: float) -> None:
    """In a child process: read an endless body with one client; print seconds and outcome."""
    with serving(endless) as server:
        if client == "sync":
            elapsed, outcome = _timed(lambda: _sync(server.url, max_attempts=1).list_sources(), cap)
        else:
            elapsed, outcome = _timed(_async_call(server.url, "list_sources", max_attempts=1), cap)
    print(json.dumps({"seconds": elapsed, "outcome": outcome[:90]}))
    sys.stdout.flush()


def endless_body_memory(cap: float, memory_limit: int) -> None:
    for client in ("sync", "async"):
        child = subprocess.run(
            [sys.executable, __file__, "--child-endless", client, "--cap", str(cap)],
            capture_output=True,
            text=True,
            timeout=cap + 60,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit)),
        )
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
        result = json.loads(lines[-1]) if lines else {"seconds": float("nan"), "outcome": "child died"}
        print(
            f"endless body ({client}): peak RSS of the child so far {peak_mib:.0f} MiB "
            f"(limit {memory_limit >> 20} MiB), {result['seconds']:.1f} s, {result['outcome']}"
        )


def deadline_overruns(deadline: float, cap: float) -> None:
    stitch_deadline = _deadline()
    worst = 0.0
    for name, reply in (("silent", silent), ("trickle 1 B/s", trickle)):
        with serving(reply) as server:
            for use in ("sync", "async"):
                bound = stitch_deadline(deadline) if stitch_deadline else nullcontext()

                def call(url: str = server.url, bound: Any = bound, use: str = use) -> None:
                    with bound:
                        if use == "sync":
                            _sync(url).list_sources()
                        else:
                            _async_call(url, "list_sources")()

                elapsed, outcome = _timed(call, cap)
                worst = max(worst, elapsed - deadline)
                label = "deadline" if stitch_deadline else "no deadline API; defaults 30 s x 5"
                print(
                    f"{name} server, {use}, {label} {deadline:g} s: ended after {elapsed:.1f} s ({outcome[:70]})"
                )
    print(f"worst deadline overrun: {worst:.2f} s (cap {cap:g} s)")


def trickle_timeout(timeout: float, cap: float) -> None:
    with serving(trickle) as server:
        elapsed, outcome = _timed(
            lambda: _sync(server.url, timeout=timeout, max_attempts=1).list_sources(), cap
        )
    print(f"trickle 1 B/s, timeout {timeout:g} s, 1 attempt: ended after {elapsed:.1f} s ({outcome[:70]})")


def refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind((H, 0))
        port = probe.getsockname()[1]
    elapsed, outcome = _timed(lambda: _sync(f"http://{H}:{port}").list_sources(), 60)
    print(f"refused connection, default attempts: {elapsed:.2f} s, {outcome}")


def malformed_answers() -> None:
    from airflow_provider_stitch.api.budget import InMemoryBudgetBackend
    from airflow_provider_stitch.api.errors import StitchError

    calls = ["list_sources", "list_destinations", "list_extractions", "list_loads"]
    cases = read_as_results = foreign = 0
    for body in MALFORMED:
        with serving(answer(body)) as server:
            for method in calls:
                cases += 1
                client = _sync(server.url, max_attempts=1, budget_backend=InMemoryBudgetBackend())
                try:
                    getattr(client, method)()
                    read_as_results += 1
                except Exception as error:  # noqa: BLE001 - the kind of error is the figure
                    if not isinstance(error, StitchError) or not str(error).startswith("GET /"):
                        foreign += 1
    print(
        f"malformed answers: {cases} cases, {foreign} foreign errors (not the package's own naming the "
        f"request), {read_as_results} read as results (rows whose fields the model does not type count here)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cap", type=float, default=30.0, help="longest any one call may run (s)")
    parser.add_argument("--deadline", type=float, default=5.0, help="task deadline used (s)")
    parser.add_argument("--memory-limit-mib", type=int, default=1024, help="address-space limit of the child")
    parser.add_argument("--child-endless", choices=["sync", "async"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_endless:
        _child_peak_memory(args.child_endless, args.cap)
        return
    url_differentials()
    malformed_answers()
    refused_connection()
    trickle_timeout(5.0, args.cap)
    deadline_overruns(args.deadline, args.cap)
    endless_body_memory(args.cap, args.memory_limit_mib << 20)


if __name__ == "__main__":
    main()
