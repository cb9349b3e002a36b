"""A private redis-server for the tests and benchmarks: on a free loopback port, stopped by its own PID.

One way to run Redis everywhere (the budget-store tests, the outage tests, the clock benchmarks); a server
can be stopped and started again on the same port, as an outage is.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from types import TracebackType

#: The redis-server binary (None when it is not installed).
REDIS_SERVER = shutil.which("redis-server")
#: Seconds redis-server may take to accept connections.
STARTUP_SECONDS = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """redis-server on one loopback port, without persistence; a context manager that starts and stops it.

    :param password: the server's ``requirepass`` (none when None); the URL carries it.
    :param port: the port to listen on (a free one when None).
    """

    def __init__(self, password: str | None = None, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of database 0 (with the password when there is one)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server and wait until it accepts connections."""
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no"] + (["--requirepass", self.password] if self.password else [])
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server by its PID (killed when it has not exited within 10 s); harmless when stopped."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
