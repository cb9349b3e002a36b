"""Serving the emulator with uvicorn: a stoppable server, and the ``airflow-stitch emulator`` command."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Generator
from types import FrameType

import uvicorn

from airflow_provider_stitch.emulator.app import create_app
from airflow_provider_stitch.emulator.clock import CLOCK_MODES
from airflow_provider_stitch.emulator.runtime import EmulatorRuntime
from airflow_provider_stitch.emulator.state import EmulatorSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Seconds uvicorn waits for open requests when stopping.
GRACEFUL_SHUTDOWN_SECONDS = 2


class EmulatorServer(uvicorn.Server):
    """A uvicorn server that releases hanging requests when asked to stop and exits without re-raising signals."""

    def __init__(self, config: uvicorn.Config, runtime: EmulatorRuntime) -> None:
        super().__init__(config)
        self.runtime = runtime

    def request_stop(self) -> None:
        """Stop serving: hanging requests are released, then uvicorn shuts down."""
        self.runtime.stopping.set()
        self.should_exit = True

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.runtime.stopping.set()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """SIGINT and SIGTERM stop the server (main thread only); nothing is re-raised afterwards."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def build_server(
    runtime: EmulatorRuntime, host: str, port: int, log_level: str = "warning"
) -> EmulatorServer:
    """A server for the runtime's app (not started)."""
    config = uvicorn.Config(
        create_app(runtime=runtime),
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return EmulatorServer(config, runtime)


def base_url_of(host: str, port: int) -> str:
    """``http://host:port`` (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``airflow-stitch emulator``."""
    parser = argparse.ArgumentParser(
        prog="airflow-stitch emulator",
        description="Run the offline Stitch Connect API emulator (for local tests and demos only).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port; 0 picks a free one")
    parser.add_argument("--token", help="access token of the primary account (generated when absent)")
    parser.add_argument("--client-id", type=int, help="client id of the primary account")
    parser.add_argument("--speed", type=float, default=1.0, help="emulator seconds per real second")
    parser.add_argument("--clock", choices=CLOCK_MODES, default="real", help="real (scaled) or manual clock")
    parser.add_argument("--partner-id", help="partner id accepted by POST /v3/accounts")
    parser.add_argument("--partner-secret", help="partner secret accepted by POST /v3/accounts")
    parser.add_argument("--destination-limit", type=int, default=1, help="destinations per account")
    parser.add_argument("--no-schedules", action="store_true", help="never start scheduled runs")
    parser.add_argument("--ready-file", help="write base URL, token and client id as JSON here once serving")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser


def settings_from_args(args: argparse.Namespace) -> EmulatorSettings:
    """Emulator settings from parsed command-line arguments."""
    extra = {}
    if args.partner_id:
        extra["partner_id"] = args.partner_id
    return EmulatorSettings(
        token=args.token,
        client_id=args.client_id,
        partner_secret=args.partner_secret,
        clock_mode=args.clock,
        speed=args.speed,
        destination_limit=args.destination_limit,
        run_schedules=not args.no_schedules,
        **extra,
    )


def _write_ready_file(path: str, payload: dict[str, object]) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT or SIGTERM; return the exit code.

    :param argv: command-line arguments without the program name.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 2
    try:
        settings = settings_from_args(args)
        runtime = EmulatorRuntime.create(settings)
        sock = bind_socket(args.host, args.port)
    except (OSError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    base_url = base_url_of(args.host, port)
    server = build_server(runtime, args.host, port, args.log_level)
    print(f"Stitch emulator serving {base_url}", flush=True)
    print(f"  access token (fake, for local tests only): {settings.token}", flush=True)
    print(f"  client id: {settings.client_id}   clock: {settings.clock_mode} x{settings.speed}", flush=True)
    print(f"  partner id: {settings.partner_id}", flush=True)
    print("  stop with Ctrl+C or SIGTERM", flush=True)
    if args.ready_file:
        _write_ready_file(
            args.ready_file,
            {
                "base_url": base_url,
                "token": settings.token,
                "client_id": settings.client_id,
                "partner_id": settings.partner_id,
                "partner_secret": settings.partner_secret,
                "pid": os.getpid(),
            },
        )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    print("Stitch emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
