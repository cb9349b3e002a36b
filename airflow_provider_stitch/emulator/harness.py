"""Running the emulator: in this process (:class:`StitchEmulator`), as a child process
(:class:`EmulatorProcess`), the client of its control API (:class:`EmulatorControl`), and virtual time for
asyncio code against its manual clock (:class:`VirtualTime`)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from airflow_provider_stitch.emulator.control import CONTROL_PREFIX
from airflow_provider_stitch.emulator.runtime import EmulatorRuntime
from airflow_provider_stitch.emulator.server import DEFAULT_HOST, base_url_of, bind_socket, build_server
from airflow_provider_stitch.emulator.state import EmulatorSettings

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0
#: Seconds a child emulator may take to write its ready file.
CHILD_STARTUP_TIMEOUT = 30.0


class EmulatorControl:
    """Client of the ``/__emulator__/`` control endpoints.

    :param base_url: the emulator's base URL.
    :param timeout: seconds per control request.
    """

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/") + CONTROL_PREFIX, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            raise ValueError(f"emulator control {method} {path} refused: {response.text}")
        return response.json()

    def reset(self) -> None:
        """Forget all accounts' data, faults, counters and the limit mode (the clock keeps its time)."""
        self._call("POST", "/reset")

    def state(self) -> dict[str, Any]:
        """Accounts, sources, destinations and jobs (credentials masked)."""
        return self._call("GET", "/state")  # type: ignore[no-any-return]

    def stats(self, *, include_log: bool = True) -> dict[str, Any]:
        """Request counters, the busiest Jobs window per client id and the request log."""
        return self._call("GET", "/stats", params=None if include_log else {"log": "false"})  # type: ignore[no-any-return]

    def now(self) -> float:
        """Current emulator time (epoch seconds)."""
        return float(self._call("GET", "/clock")["now"])

    def speed(self) -> float:
        """The emulator's clock speed (emulator seconds per real second), as the server reports it."""
        return float(self._call("GET", "/speed")["speed"])

    def advance(self, seconds: float) -> float:
        """Move the emulator clock forward; returns the new time."""
        return float(self._call("POST", "/clock/advance", {"seconds": seconds})["now"])

    def set_faults(self, *rules: dict[str, Any], **rule: Any) -> list[dict[str, Any]]:
        """Arrange faults: rule mappings, or one rule as keyword arguments (see ``FaultRule``)."""
        specs = list(rules) + ([rule] if rule else [])
        return self._call("POST", "/faults", {"faults": specs})["faults"]  # type: ignore[no-any-return]

    def faults(self) -> list[dict[str, Any]]:
        """The arranged faults with their hit counts."""
        return self._call("GET", "/faults")["faults"]  # type: ignore[no-any-return]

    def clear_faults(self) -> None:
        """Remove every arranged fault."""
        self._call("DELETE", "/faults")

    def arrange(self, source_id: int, **scenario: Any) -> dict[str, Any]:
        """Arrange a source's future: ``fail={"phase", "message", "exit_status"}``, ``load_error={"message",
        "streams"}``, ``durations={"discovery"|"tap"|"target": s}``, ``check_error="..."``, ``extra_tables=N``,
        ``clear=True``."""
        return self._call("POST", "/scenario", {"source_id": source_id, **scenario})  # type: ignore[no-any-return]

    def set_jobs_limit_mode(
        self, mode: str, *, limit: int = 30, window_seconds: float = 600.0, status: int = 429
    ) -> dict[str, Any]:
        """``off``, ``count`` (default) or ``block`` (refuse beyond ``limit`` per window with ``status``)."""
        body = {"mode": mode, "limit": limit, "window_seconds": window_seconds, "status": status}
        return self._call("POST", "/jobs-limit", body)  # type: ignore[no-any-return]

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings: destination_limit, run_schedules, cron_scheduling, custom_emails_enabled,
        hooks_enabled, check_seconds, phase_seconds."""
        return self._call("POST", "/settings", settings)  # type: ignore[no-any-return]

    def authorize_source(self, source_id: int) -> dict[str, Any]:
        """Complete a source's OAuth step as if its user approved it."""
        return self._call("POST", f"/sources/{source_id}/authorize")  # type: ignore[no-any-return]


class StitchEmulator:
    """The emulator on a loopback port in a background thread; use as a context manager.

    :param port: port to bind (0 picks a free one).
    :param token: access token of the primary account (generated when None).
    :param client_id: client id of the primary account.
    :param speed: emulator seconds per real second (``real`` clock).
    :param clock: ``"real"`` or ``"manual"`` (frozen until :meth:`EmulatorControl.advance`).
    :param host: loopback address to bind.
    :param partner_id: partner id accepted by ``POST /v3/accounts`` and OAuth.
    :param partner_secret: partner secret accepted by ``POST /v3/accounts`` and OAuth.
    :param settings: more :class:`EmulatorSettings` fields (destination_limit, run_schedules, phase_seconds, ...).
    """

    def __init__(
        self,
        port: int = 0,
        token: str | None = None,
        client_id: int | None = None,
        speed: float = 1.0,
        clock: str = "real",
        *,
        host: str = DEFAULT_HOST,
        partner_id: str | None = None,
        partner_secret: str | None = None,
        **settings: Any,
    ) -> None:
        if partner_id is not None:
            settings["partner_id"] = partner_id
        self.settings = EmulatorSettings(
            token=token,
            client_id=client_id,
            partner_secret=partner_secret,
            clock_mode=clock,
            speed=speed,
            **settings,
        )
        self.host = host
        self.requested_port = port
        self.runtime = EmulatorRuntime.create(self.settings)
        self.port = 0
        self.base_url = ""
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._control: EmulatorControl | None = None

    @property
    def token(self) -> str:
        """Access token of the primary account."""
        return str(self.settings.token)

    @property
    def client_id(self) -> int:
        """Client id of the primary account."""
        return int(self.settings.client_id or 0)

    @property
    def speed(self) -> float:
        """Emulator seconds per real second; give it to the connection's ``emulator_speed`` extra."""
        return float(self.settings.speed)

    @property
    def partner_id(self) -> str:
        """Partner id accepted by ``POST /v3/accounts``."""
        return self.settings.partner_id

    @property
    def partner_secret(self) -> str:
        """Partner secret accepted by ``POST /v3/accounts`` and the OAuth code exchange."""
        return str(self.settings.partner_secret)

    @property
    def control(self) -> EmulatorControl:
        """The control client (available while running)."""
        if self._control is None:
            raise RuntimeError("the emulator is not running")
        return self._control

    def start(self) -> StitchEmulator:
        """Start serving; returns once the port accepts requests."""
        if self._thread is not None:
            return self
        sock = bind_socket(self.host, self.requested_port)
        self.port = sock.getsockname()[1]
        self.base_url = base_url_of(self.host, self.port)
        server = build_server(self.runtime, self.host, self.port)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"stitch-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Stitch emulator did not start")
            time.sleep(0.005)
        self._control = EmulatorControl(self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread (hanging requests are released)."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            self._server.request_stop()
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT)
        self._thread = None
        self._server = None

    def __enter__(self) -> StitchEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"StitchEmulator(base_url={self.base_url!r}, client_id={self.client_id}, token=***)"


class EmulatorStartError(RuntimeError):
    """The emulator child process did not start serving; the message names its log file."""


def stop_process(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Terminate one child by its PID, then kill it when it has not exited within ``grace`` seconds.

    :param process: the child.
    :param grace: seconds to wait after each signal.
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace)


@dataclass
class EmulatorProcess:
    """The emulator (``airflow-stitch emulator``) as a child process on a free loopback port.

    :param workdir: folder for the ready file and the emulator's output (``emulator.log``).
    :param speed: emulator seconds per real second.
    :param extra_args: more ``airflow-stitch emulator`` options (``--clock manual``, ``--no-schedules``).
    """

    workdir: Path
    speed: float = 1.0
    extra_args: Sequence[str] = ()
    base_url: str = ""
    token: str = field(default="", repr=False)
    client_id: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        """Where the child's output goes."""
        return Path(self.workdir) / "emulator.log"

    def start(self) -> EmulatorProcess:
        """Start the child and wait until it serves; :class:`EmulatorStartError` when it does not."""
        workdir = Path(self.workdir)
        ready_file = workdir / "emulator-ready.json"
        ready_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "airflow_provider_stitch.cli",
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--speed",
            str(self.speed),
            "--ready-file",
            str(ready_file),
            *self.extra_args,
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        deadline = time.monotonic() + CHILD_STARTUP_TIMEOUT
        while not ready_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmulatorStartError(f"the Stitch emulator did not start; see {self.log_path}")
            time.sleep(0.05)
        ready = json.loads(ready_file.read_text(encoding="utf-8"))
        self.base_url = str(ready["base_url"])
        self.token = str(ready["token"])
        self.client_id = int(ready["client_id"])
        return self

    def control(self) -> EmulatorControl:
        """A control client for the running child (close it when done)."""
        if not self.base_url:
            raise RuntimeError("the emulator child is not running")
        return EmulatorControl(self.base_url)

    def stop(self) -> None:
        """Stop the child by its PID (idempotent)."""
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class VirtualTime:
    """Discrete-event time for asyncio tasks against a manual-clock emulator: hours of waiting in seconds.

    Tasks sleep through :meth:`sleep` (give it to the code under test, e.g. a JobsMonitor's ``asleep``).
    When every watched task is asleep, the earliest sleeper's wake-up time becomes "now": the emulator's
    clock is moved there and that sleeper resumes. Requests in flight keep real time.

    :param now: reads the emulator clock (``StitchEmulator.runtime.clock.now`` or ``EmulatorControl.now``).
    :param advance: moves the emulator clock forward by some seconds (``EmulatorControl.advance``).
    """

    def __init__(self, now: Callable[[], float], advance: Callable[[float], Any]) -> None:
        self._now = now
        self._advance = advance
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._asleep = 0

    def now(self) -> float:
        """Emulator time."""
        return self._now()

    def _woke(self, _future: asyncio.Future[None]) -> None:
        self._asleep -= 1

    async def sleep(self, seconds: float) -> None:
        """Sleep in virtual time.

        :param seconds: emulator seconds to sleep.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._asleep += 1
        future.add_done_callback(self._woke)
        heapq.heappush(self._sleepers, (self._now() + max(seconds, 0.0), next(self._order), future))
        await future

    def _pop_live(self) -> tuple[float, asyncio.Future[None]] | None:
        """The earliest sleeper still asleep (cancelled sleeps are dropped on the way)."""
        while self._sleepers:
            wake, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                return wake, future
        return None

    async def drive(self, tasks: list[asyncio.Task[Any]], *, real_timeout: float = 150.0) -> None:
        """Advance time whenever all unfinished tasks sleep, until all are done.

        :param tasks: the tasks to run to completion.
        :param real_timeout: real seconds after which :class:`TimeoutError` is raised.
        """
        give_up = time.monotonic() + real_timeout
        running = {task for task in tasks if not task.done()}
        for task in running:
            task.add_done_callback(running.discard)
        while running:
            if time.monotonic() > give_up:
                raise TimeoutError("virtual-time tasks did not finish in real time")
            if self._asleep < len(running):
                await asyncio.sleep(0.002)
                continue
            earliest = self._pop_live()
            if earliest is None:
                await asyncio.sleep(0.002)
                continue
            wake, future = earliest
            delta = wake - self._now()
            if delta > 0:
                self._advance(delta)
            future.set_result(None)
            while self._sleepers and self._sleepers[0][0] <= self._now():
                _, _, due = heapq.heappop(self._sleepers)
                if not due.done():
                    due.set_result(None)
            await asyncio.sleep(0)
