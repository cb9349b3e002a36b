"""Many triggers starting at once: nothing they build or import runs on the event loop's thread.

What is checked is where the work runs (observed directly), not how long the loop waited: a wall-clock bound
on a busy two-core machine is flaky, the thread a call ran on is not. How long the loop stalls is measured
by ``benchmarks/trigger_startup.py``.
"""

from __future__ import annotations

import asyncio
import threading

from airflow_provider_stitch.api import budget_sqlite
from airflow_provider_stitch.api.aclient import AsyncStitchClient
from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.hooks import stitch as hook_module
from airflow_provider_stitch.hooks.stitch import StitchHook
from tests.testkit.triggers import connect_default, run_probe

STARTS = 1000


def test_a_thousand_triggers_parse_settings_open_the_store_and_build_clients_off_the_event_loop(
    monkeypatch, tmp_path
):
    threads: dict[str, set[str]] = {"settings": set(), "store": set(), "client": set()}

    def spied(what: str, real):  # noqa: ANN001, ANN202
        def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            threads[what].add(threading.current_thread().name)
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(StitchHook, "_settings", spied("settings", StitchHook._settings))
    monkeypatch.setattr(
        budget_sqlite.SQLiteBudgetBackend,
        "__init__",
        spied("store", budget_sqlite.SQLiteBudgetBackend.__init__),
    )
    monkeypatch.setattr(AsyncStitchClient, "__init__", spied("client", AsyncStitchClient.__init__))
    with StitchEmulator(client_id=7) as emulator:
        connect_default(monkeypatch, emulator, tmp_path / "b.sqlite")

        async def scenario() -> tuple[str, list]:
            clients = await asyncio.gather(*(StitchHook().aget_client() for _ in range(STARTS)))
            stores = [(await client.ajobs_budget()).backend for client in clients]
            for client in clients:
                await client.aclose()
            return threading.current_thread().name, stores

        loop_thread, stores = asyncio.run(scenario())
    assert len(stores) == STARTS
    assert len({id(store) for store in stores}) == 1, "every trigger pays from the one store of its location"
    assert threads["settings"] and threads["store"] and threads["client"], threads
    for what, names in threads.items():
        assert loop_thread not in names, f"{what} ran on the event loop's thread ({sorted(names)})"


HOOK_IMPORT_PROBE = r"""
import sys

import airflow.providers.common.compat.sdk  # what the hook needs of Airflow, whatever that loads
before = {name for name in ("requests", "airflow_provider_stitch.api.client") if name in sys.modules}
import airflow_provider_stitch.hooks.stitch as hook
print(sorted({"requests", "airflow_provider_stitch.api.client"} & set(sys.modules) - before))
print(hook.StitchClient.__module__)
"""


def test_importing_the_hook_loads_no_sync_client_until_one_is_asked_for():
    """A triggerer's triggers use the async client only: the hook's import leaves requests alone."""
    loaded, client_module = run_probe(HOOK_IMPORT_PROBE)[-2:]
    assert loaded == "[]", f"importing the hook loaded {loaded}"
    assert client_module == "airflow_provider_stitch.api.client"


FIRST_REQUEST_PROBE = r"""
import asyncio, json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Answer(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
threading.Thread(target=server.serve_forever, daemon=True).start()
os.environ["AIRFLOW_CONN_STITCH_DEFAULT"] = json.dumps({
    "conn_type": "stitch", "password": "not-a-real-token",
    "host": f"http://127.0.0.1:{server.server_address[1]}",
    "extra": {"stitch_client_id": 7, "budget_location": sys.argv[1]},
})

import airflow.jobs.triggerer_job_runner  # what a triggerer has loaded before any trigger
import airflow_provider_stitch.triggers.replication as replication

on_loop = []

class Spy:
    def find_spec(self, name, path=None, target=None):
        if threading.current_thread() is threading.main_thread():
            on_loop.append(name)
        return None

async def main():
    await replication.load_wait_modules()
    from airflow_provider_stitch.hooks.stitch import StitchHook
    sys.meta_path.insert(0, Spy())
    client = await StitchHook().aget_client()
    sources = await client.list_sources()
    sys.meta_path.pop(0)
    return sources

print(asyncio.run(main()))
# A module that is not installed (sniffio, which old httpx tries) is searched for but loads nothing.
print(sorted({name for name in on_loop if name in sys.modules}))
server.shutdown()
"""


def test_the_first_request_of_a_trigger_imports_nothing_on_the_event_loop(tmp_path):
    """After the first trigger's worker-thread import, the connection lookup and the first request (anyio
    under httpx loads its parts at first use) import nothing on the loop's thread."""
    sources, on_loop = run_probe(FIRST_REQUEST_PROBE, str(tmp_path / "b.sqlite"))[-2:]
    assert sources == "[]"
    assert on_loop == "[]", f"imported on the event loop's thread: {on_loop}"


def test_every_name_the_first_trigger_loads_ahead_exists_in_this_environment():
    """A renamed module in anyio or Airflow would silently stop being loaded ahead: say so here."""
    import importlib.util

    from airflow_provider_stitch.triggers.replication import LAZY_DEPENDENCIES, WAIT_MODULES

    def missing(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is None
        except ModuleNotFoundError:  # a parent package is missing
            return True

    airflow_2 = missing("airflow.sdk")  # Airflow 2.11 has no Task SDK: its lookup imports other modules
    expected = [
        n for n in (*WAIT_MODULES, *LAZY_DEPENDENCIES) if not (airflow_2 and n.startswith("airflow.sdk"))
    ]
    assert [name for name in expected if missing(name)] == []
    assert hook_module.__name__ in WAIT_MODULES
