"""How ``make test`` shares the suite among pytest-xdist workers (``-n N --dist loadfile --no-loadscope-reorder``).

A work unit is a test file, so a module-scoped fixture is built once per run; a session-scoped one (the
e2e folder's migrated Airflow home, about 5 CPU seconds) is built once per worker that needs it. The files
in :data:`SPREAD_FILES` are split test by test instead: each test waits on clocks for many seconds and none
shares a module fixture. Long-running files are collected first, so no worker starts a minute-long test at
the end of the run.
"""

from __future__ import annotations

from typing import Any

import pytest

#: Folders and files whose tests take seconds to minutes of wall-clock time, handed out first in this
#: order (the 100-second real-time test of test_own_outcome.py first of all).
LONG_RUNNING_FIRST = (
    "test_own_outcome.py",
    "e2e",
    "test_dag_runs_under_faults.py",
    "test_fault_matrix.py",
    "waits",
    "reliability",
    "budget",
    "monitor",
    "security",
    "operators",
)
#: Files (from the rootdir) whose tests are handed out one by one; none may use a module-, class- or
#: package-scoped fixture.
SPREAD_FILES = frozenset(
    {
        "tests/waits/test_own_outcome.py",
        "tests/waits/test_clock_skew_and_lost_starts.py",
        "tests/reliability/test_fault_matrix.py",
        "tests/reliability/test_lost_answers.py",
        "tests/reliability/test_rate_under_faults.py",
        "tests/budget/test_clock_steps.py",
        "tests/operators/test_racing_creates.py",
        "tests/monitor/test_load_page_ties.py",
        "tests/monitor/test_page_schedule.py",
    }
)
_SHARED_SCOPES = ("module", "class", "package")


def start_rank(item: pytest.Item) -> int:
    """Where a test's file stands in the hand-out order: long-running first, the rest as collected.

    :param item: the collected test.
    """
    for rank, part in enumerate(LONG_RUNNING_FIRST):
        if part in item.path.parts:
            return rank
    return len(LONG_RUNNING_FIRST)


def work_unit_of(nodeid: str) -> str:
    """The work unit of a test: its file, or the test itself in a spread file.

    :param nodeid: the test's pytest node id, relative to the rootdir.
    """
    path = nodeid.split("::", 1)[0]
    return nodeid if path in SPREAD_FILES else path


def spread_files_sharing_fixtures(items: list[pytest.Item]) -> list[str]:
    """Problems with :data:`SPREAD_FILES`: a spread test that uses a fixture shared by its module or class.

    :param items: the collected tests.
    """
    problems = []
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path not in SPREAD_FILES:
            continue
        fixture_info: Any = getattr(item, "_fixtureinfo", None)
        definitions = fixture_info.name2fixturedefs.items() if fixture_info is not None else []
        for name, defs in definitions:
            if defs and defs[-1].scope in _SHARED_SCOPES:
                problems.append(
                    f"{item.nodeid} uses the {defs[-1].scope}-scoped fixture {name!r}, but "
                    f"{path} is in SPREAD_FILES (tests/parallel_schedule.py), whose tests run "
                    "on different workers: take the file out of SPREAD_FILES or the fixture out of that scope"
                )
    return sorted(set(problems))


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """The xdist scheduler that hands out :func:`work_unit_of` units (used for ``--dist loadfile``).

    :param config: the pytest configuration.
    :param log: xdist's log producer.
    """
    from xdist.scheduler import LoadFileScheduling

    class SuiteScheduling(LoadFileScheduling):  # type: ignore[misc]
        """Load-file scheduling with the suite's own work units."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit_of(nodeid)

    return SuiteScheduling(config, log)
