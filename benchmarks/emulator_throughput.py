"""Print the emulator's requests per second as the account grows: 20, 1,000 and 5,000 sources.

For each size a fresh emulator runs as a child process (manual clock, no schedules). The account is
filled through the public API: every source is a PostgreSQL source whose discovery finished, with one
stream selected and one finished sync, so the account holds one extraction row and one load row per
source. Then one keep-alive client sends the same request back to back for a few seconds and the rate is
printed (the best of three bursts) for:

* ``GET /v4/sources`` (its body grows with the account; the line also shows the rate of a bare server
  answering the same bytes, so the emulator's own share can be read off),
* ``GET /v4/sources/{id}``,
* the first page of ``GET /v4/{client_id}/extractions`` and of ``GET /v4/{client_id}/loads``,
* ``POST /v4/sources`` (creating more sources in the filled account).

The last line compares the largest size with the smallest for the endpoints whose answers do not grow.

    python benchmarks/emulator_throughput.py                 # 20, 1000, 5000 sources, 2 s per endpoint
    python benchmarks/emulator_throughput.py --sizes 20 1000 --seconds 1
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from airflow_provider_stitch.emulator.harness import EmulatorProcess, stop_process

SIZES = (20, 1000, 5000)
POSTGRES = {
    "host": "db.internal",
    "port": "5432",
    "user": "stitch",
    "password": "bench-only-password",
    "dbname": "shop",
    "include_schemas_in_destination_stream_name": "true",
}
SELECT_CUSTOMERS = {
    "streams": [
        {
            "tap_stream_id": "shop-public-customers",
            "metadata": [
                {"breadcrumb": [], "metadata": {"selected": True, "replication-method": "FULL_TABLE"}}
            ],
        }
    ]
}
#: A server that answers one fixed body and does nothing else (the floor for the same bytes).
BARE_SERVER = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
body = open(sys.argv[1], "rb").read()
async def answer(request):
    return Response(body, media_type="application/json")
app = Starlette(routes=[Route("/v4/sources", answer)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def fill_account(http: httpx.Client, control: httpx.Client, sources: int) -> list[int]:
    """Create ``sources`` configured sources with one finished sync each; return their ids."""
    ids = []
    for index in range(sources):
        body = {"type": "platform.hp-postgres", "display_name": f"Bench {index:05d}", "properties": POSTGRES}
        response = http.post("/v4/sources", json=body)
        response.raise_for_status()
        ids.append(int(response.json()["id"]))
    control.post("/clock/advance", json={"seconds": 5}).raise_for_status()
    for source_id in ids:
        http.put(f"/v4/sources/{source_id}/streams/metadata", json=SELECT_CUSTOMERS).raise_for_status()
        answer = http.post(f"/v4/sources/{source_id}/sync").json()
        if "job_name" not in answer:
            raise RuntimeError(f"source {source_id} did not start a sync: {answer}")
    control.post("/clock/advance", json={"seconds": 60}).raise_for_status()
    return ids


def rate(send: Callable[[], httpx.Response], seconds: float, bursts: int = 3) -> float:
    """Requests per second of ``send`` repeated for ``seconds``: the best of ``bursts`` equal bursts
    (the machine is shared; the best burst is the one least disturbed by other work)."""
    for _ in range(3):
        send().raise_for_status()
    best = 0.0
    for _ in range(bursts):
        count = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / bursts:
            send().raise_for_status()
            count += 1
        best = max(best, count / elapsed)
    return best


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bare_server_rate(body: bytes, seconds: float, workdir: Path) -> float:
    """Requests per second of a bare server answering ``body`` to ``GET /v4/sources``."""
    body_file = workdir / "sources.json"
    body_file.write_bytes(body)
    port = free_port()
    child = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(body_file), str(port)])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = time.monotonic() + 20
            while True:
                try:
                    http.get("/v4/sources")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or child.poll() is not None:
                        raise RuntimeError("the bare server did not start") from None
                    time.sleep(0.05)
            return rate(lambda: http.get("/v4/sources"), seconds)
    finally:
        stop_process(child)


def measure(sources: int, seconds: float) -> dict[str, float]:
    """Fill a fresh emulator with ``sources`` sources and measure each endpoint."""
    with tempfile.TemporaryDirectory(prefix="stitch-emulator-bench-") as folder:
        workdir = Path(folder)
        with EmulatorProcess(workdir, extra_args=("--clock", "manual", "--no-schedules")) as emulator:
            headers = {"Authorization": f"Bearer {emulator.token}"}
            with (
                httpx.Client(base_url=emulator.base_url, headers=headers, timeout=120) as http,
                httpx.Client(base_url=f"{emulator.base_url}/__emulator__", timeout=120) as control,
            ):
                started = time.perf_counter()
                ids = fill_account(http, control, sources)
                filled = time.perf_counter() - started
                client = emulator.client_id
                middle = ids[len(ids) // 2]
                listing = http.get("/v4/sources")
                rates = {
                    "fill_seconds": filled,
                    "sources_bytes": float(len(listing.content)),
                    "GET /v4/sources": rate(lambda: http.get("/v4/sources"), seconds),
                    "GET /v4/sources/{id}": rate(lambda: http.get(f"/v4/sources/{middle}"), seconds),
                    "extractions page 1": rate(lambda: http.get(f"/v4/{client}/extractions"), seconds),
                    "loads page 1": rate(lambda: http.get(f"/v4/{client}/loads"), seconds),
                }
                created = iter(range(10**6))

                def create() -> httpx.Response:
                    body = {"type": "platform.hp-postgres", "display_name": f"More {next(created)}"}
                    return http.post("/v4/sources", json={**body, "properties": POSTGRES})

                rates["POST /v4/sources"] = rate(create, seconds)
                extractions = http.get(f"/v4/{client}/extractions").json()
                loads = http.get(f"/v4/{client}/loads").json()
                if extractions["total"] != sources or loads["total"] != sources:
                    raise RuntimeError(
                        f"expected {sources} extraction and load rows, got {extractions['total']} and "
                        f"{loads['total']}"
                    )
        rates["bare server, same bytes"] = bare_server_rate(listing.content, seconds, workdir)
    return rates


FLAT_ENDPOINTS = ("GET /v4/sources/{id}", "extractions page 1", "loads page 1", "POST /v4/sources")


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print one block per size, then the flatness ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="account sizes (sources)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of requests per endpoint")
    args = parser.parse_args(argv)
    results: dict[int, dict[str, float]] = {}
    for sources in args.sizes:
        figures = measure(sources, args.seconds)
        results[sources] = figures
        print(
            f"{sources:>5} sources (filled through the API in {figures['fill_seconds']:.1f} s; "
            f"GET /v4/sources is {figures['sources_bytes'] / 1024:,.0f} KiB)"
        )
        for name in ("GET /v4/sources", "bare server, same bytes", *FLAT_ENDPOINTS):
            print(f"    {name:<26} {figures[name]:>8,.0f} req/s")
        share = figures["GET /v4/sources"] / figures["bare server, same bytes"]
        print(f"    GET /v4/sources at {share:.0%} of the bare server's rate for the same bytes")
    smallest, largest = min(results), max(results)
    if smallest != largest:
        ratios = ", ".join(
            f"{name} {results[smallest][name] / results[largest][name]:.2f}x" for name in FLAT_ENDPOINTS
        )
        print(f"slowdown {smallest} -> {largest} sources: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
