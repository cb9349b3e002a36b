"""pytest fixtures that serve the Stitch emulator (registered through the ``pytest11`` entry point).

One server per test session per clock mode, reset before every test that asks for it:

* ``stitch_emulator``: real clock (speed 1.0); jobs and checks finish on their own.
* ``stitch_emulator_manual``: frozen clock; move it with ``stitch_emulator_manual.control.advance(s)``.

Each yields a running :class:`~airflow_provider_stitch.emulator.StitchEmulator` with ``base_url``,
``token``, ``client_id`` and ``control``. The reset keeps the clock's time (it never runs backwards).
Importing this module is cheap: the server loads only when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_stitch.emulator.harness import StitchEmulator


def _serve(clock: str) -> Iterator[StitchEmulator]:
    from airflow_provider_stitch.emulator.harness import StitchEmulator

    with StitchEmulator(clock=clock) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def stitch_emulator_server() -> Iterator[StitchEmulator]:
    """The session's real-clock emulator, not reset (prefer ``stitch_emulator``)."""
    yield from _serve("real")


@pytest.fixture(scope="session")
def stitch_emulator_manual_server() -> Iterator[StitchEmulator]:
    """The session's manual-clock emulator, not reset (prefer ``stitch_emulator_manual``)."""
    yield from _serve("manual")


@pytest.fixture
def stitch_emulator(stitch_emulator_server: StitchEmulator) -> StitchEmulator:
    """A freshly reset real-clock emulator."""
    stitch_emulator_server.control.reset()
    return stitch_emulator_server


@pytest.fixture
def stitch_emulator_manual(stitch_emulator_manual_server: StitchEmulator) -> StitchEmulator:
    """A freshly reset manual-clock emulator."""
    stitch_emulator_manual_server.control.reset()
    return stitch_emulator_manual_server
