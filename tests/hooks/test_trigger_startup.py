"""Many triggers starting at once: building their async clients must not stall the event loop."""

from __future__ import annotations

import asyncio
import gc
import json

from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.hooks.stitch import StitchHook

STARTS = 1000
#: Generous for a loaded two-core machine (about 0.03 s measured); building the clients on the loop itself
#: stalled it 0.4 s for 1,000 and 2.2 s for 5,000.
WORST_STALL = 0.2


async def worst_stall_while(work) -> tuple[float, list]:  # noqa: ANN001
    """Run ``work`` while a 10 ms ticker measures how late the loop lets it run; return the worst delay."""
    loop = asyncio.get_running_loop()
    delays: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            started = loop.time()
            await asyncio.sleep(0.01)
            delays.append(loop.time() - started - 0.01)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    try:
        result = await work
    finally:
        done.set()
        await task
    return max(delays), result


def test_a_thousand_triggers_start_without_stalling_the_event_loop(monkeypatch, tmp_path):
    with StitchEmulator(client_id=7) as emulator:
        monkeypatch.setenv(
            "AIRFLOW_CONN_STITCH_DEFAULT",
            json.dumps(
                {
                    "conn_type": "stitch",
                    "password": emulator.token,
                    "host": emulator.base_url,
                    "extra": {"stitch_client_id": 7, "budget_location": str(tmp_path / "b.sqlite")},
                }
            ),
        )

        async def scenario() -> tuple[float, list]:
            worst, clients = await worst_stall_while(
                asyncio.gather(*(StitchHook().aget_client() for _ in range(STARTS)))
            )
            stores = [(await client.ajobs_budget()).backend for client in clients]
            for client in clients:
                await client.aclose()
            return worst, stores

        # The interpreter's full collections of Airflow's whole heap pause every thread whatever the
        # provider does; freeze what exists now so the ticker measures what starting triggers costs.
        gc.collect()
        gc.freeze()
        try:
            worst, stores = asyncio.run(scenario())
        finally:
            gc.unfreeze()
    assert len(stores) == STARTS
    assert worst < WORST_STALL, f"the event loop stalled {worst:.3f} s while {STARTS} triggers started"
    assert len({id(store) for store in stores}) == 1, "every trigger pays from the one store of its location"
