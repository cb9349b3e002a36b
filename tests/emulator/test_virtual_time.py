"""VirtualTime: asyncio tasks against a manual-clock emulator sleep in its time, which moves only when all sleep."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_stitch.emulator import StitchEmulator
from airflow_provider_stitch.emulator.harness import VirtualTime


def run(virtual: VirtualTime, *coroutines, real_timeout: float = 30.0) -> list:
    async def main() -> list:
        tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
        await virtual.drive(tasks, real_timeout=real_timeout)
        return [task.result() for task in tasks]

    return asyncio.run(main())


def test_an_hours_sleep_moves_the_emulator_clock_by_an_hour_in_real_milliseconds(emu: StitchEmulator) -> None:
    virtual = VirtualTime(emu.control.now, emu.control.advance)
    started = emu.control.now()

    async def sleep_an_hour() -> float:
        await virtual.sleep(3600.0)
        return virtual.now()

    real = time.monotonic()
    (woke,) = run(virtual, sleep_an_hour())
    assert woke == pytest.approx(started + 3600.0)
    assert emu.control.now() == pytest.approx(started + 3600.0)  # the server's own clock moved
    assert time.monotonic() - real < 10.0


def test_sleepers_wake_in_the_order_of_their_times_and_the_clock_only_moves_forward(
    emu: StitchEmulator,
) -> None:
    virtual = VirtualTime(emu.control.now, emu.control.advance)
    started = emu.control.now()
    woken: list[tuple[str, float]] = []

    async def sleeper(name: str, *naps: float) -> None:
        for nap in naps:
            await virtual.sleep(nap)
            woken.append((name, round(virtual.now() - started, 3)))

    run(virtual, sleeper("a", 300.0, 300.0), sleeper("b", 450.0), sleeper("c", 0.0))
    assert woken == [("c", 0.0), ("a", 300.0), ("b", 450.0), ("a", 600.0)]


def test_time_does_not_move_while_a_task_is_awake(emu: StitchEmulator) -> None:
    """A task busy in real time (here: waiting on an event another task sets) holds the clock still."""
    virtual = VirtualTime(emu.control.now, emu.control.advance)
    started = emu.control.now()
    ready = asyncio.Event()
    seen: list[float] = []

    async def long_sleeper() -> None:
        await virtual.sleep(10_000.0)

    async def awake_then_done() -> None:
        await asyncio.sleep(0.2)  # real time, not a virtual sleep
        seen.append(virtual.now() - started)
        ready.set()

    run(virtual, long_sleeper(), awake_then_done())
    assert seen == [0.0]
    assert ready.is_set()


def test_tasks_that_never_sleep_in_virtual_time_end_in_a_timeout(emu: StitchEmulator) -> None:
    virtual = VirtualTime(emu.control.now, emu.control.advance)

    async def stuck() -> None:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError, match="did not finish in real time"):
        run(virtual, stuck(), real_timeout=0.3)
