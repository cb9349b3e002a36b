"""The SQLite budget store: private files, its own timeline, damaged files failing closed, bounded locks."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time

import pytest

from airflow_provider_stitch.api import budget_sqlite
from airflow_provider_stitch.api.budget import JobsBudget
from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend
from airflow_provider_stitch.api.errors import StitchBudgetStoreError


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_store_file_is_created_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "new-dir" / "budget.sqlite"
    old_umask = os.umask(0o022)
    try:
        store = SQLiteBudgetBackend(path)
        store.take("k", 30, 600.0)
        store.put_snapshot("s", "a Stitch error text", 1.0)
        journals = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        assert all(journal.exists() for journal in journals)
        assert [mode_of(journal) for journal in journals] == [0o600, 0o600]
    finally:
        os.umask(old_umask)
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700


def test_a_store_left_world_readable_by_an_older_version_is_tightened(tmp_path):
    path = tmp_path / "budget.sqlite"
    sqlite3.connect(path).close()
    os.chmod(path, 0o644)
    SQLiteBudgetBackend(path)
    assert mode_of(path) == 0o600


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("garbage", "not a readable budget store"),
        ("truncated", "not a readable budget store"),
        ("directory", "it is a directory"),
    ],
)
def test_a_damaged_store_fails_closed_naming_the_file(tmp_path, damage, expected):
    path = tmp_path / "budget.sqlite"
    if damage == "garbage":
        path.write_bytes(b"\x00\xffnot sqlite at all" * 500)
    elif damage == "truncated":
        healthy = SQLiteBudgetBackend(path)
        for _ in range(30):
            healthy.take("stitch-jobs:1", 30, 600.0)
        healthy.put_snapshot("s", "x" * 20_000, 1.0)
        healthy.close()
        path.write_bytes(path.read_bytes()[: 4096 + 100])
    else:
        path.mkdir()
    with pytest.raises(StitchBudgetStoreError) as caught:
        store = SQLiteBudgetBackend(path)
        store.take("stitch-jobs:1", 30, 600.0)
        store.get_snapshot("s")
    assert str(path) in str(caught.value) and expected in str(caught.value)
    assert caught.value.location == str(path)


def test_a_stored_time_of_the_wrong_type_fails_closed_naming_the_file(tmp_path):
    path = tmp_path / "budget.sqlite"
    store = SQLiteBudgetBackend(path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO budget_requests (key, taken_at) VALUES ('stitch-jobs:1', 'soon')")
    with pytest.raises(StitchBudgetStoreError, match="a stored time is str, not a number") as caught:
        store.take("stitch-jobs:1", 30, 600.0)
    assert str(path) in str(caught.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the reader as another user")
def test_a_read_only_store_fails_closed_naming_the_file(tmp_path):
    path = tmp_path / "budget.sqlite"
    SQLiteBudgetBackend(path)
    os.chmod(path, 0o644)
    os.chmod(tmp_path, 0o755)
    script = (
        "import os, sys\n"
        "from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend\n"
        "from airflow_provider_stitch.api.errors import StitchBudgetStoreError\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "try:\n"
        "    SQLiteBudgetBackend(sys.argv[1]).take('stitch-jobs:1', 30, 600.0)\n"
        "except StitchBudgetStoreError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert str(path) in result.stdout and "cannot be opened for writing" in result.stdout


def test_a_held_lock_costs_a_bounded_wait_then_a_clear_error(tmp_path):
    path = tmp_path / "budget.sqlite"
    store = SQLiteBudgetBackend(path, lock_timeout=0.5)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StitchBudgetStoreError, match="held its lock for more than 0.5 s") as caught:
            store.take("stitch-jobs:1", 30, 600.0)
        assert time.monotonic() - started < 5.0
        assert str(path) in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.take("stitch-jobs:1", 30, 600.0) == 0.0


def test_the_default_lock_wait_is_seconds_not_thirty():
    assert budget_sqlite.DEFAULT_LOCK_TIMEOUT <= 5.0


def test_the_timeline_is_the_boot_clock_not_the_wall_clock(tmp_path, monkeypatch):
    store = SQLiteBudgetBackend(tmp_path / "budget.sqlite")
    before = store.now()
    monkeypatch.setattr(time, "time", lambda: 0.0)
    assert store.now() == pytest.approx(before, abs=1.0)
    other_process_view = SQLiteBudgetBackend(tmp_path / "budget.sqlite")
    assert other_process_view.now() == pytest.approx(before, abs=1.0)


def test_after_a_reboot_the_timeline_continues_where_the_store_left_off(tmp_path, monkeypatch):
    path = tmp_path / "budget.sqlite"
    store = SQLiteBudgetBackend(path)
    for _ in range(30):
        store.take("stitch-jobs:1", 30, 610.0)
    last = max(store.timestamps("stitch-jobs:1", 610.0))
    monkeypatch.setattr(budget_sqlite, "host_boot_id", lambda: "another-boot")
    monkeypatch.setattr(budget_sqlite, "host_boot_clock", lambda: 5.0)
    monkeypatch.setattr(time, "time", lambda: last - 3600.0)  # the clock came back an hour behind
    rebooted = SQLiteBudgetBackend(path)
    assert rebooted.now() >= last
    assert JobsBudget(1, window=610.0, backend=rebooted).seconds_until_available() <= 610.0


def test_entries_stamped_in_the_future_count_as_taken_now(tmp_path):
    path = tmp_path / "budget.sqlite"
    store = SQLiteBudgetBackend(path)
    now = store.now()
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO budget_requests (key, taken_at) VALUES ('stitch-jobs:1', ?)",
            [(now + 3600.0 + i,) for i in range(30)],
        )
    budget = JobsBudget(1, window=610.0, backend=store)
    assert budget.used() == 30
    assert 0 < budget.seconds_until_available() <= 610.0
    assert store.take(budget.key, 30, 610.0) <= 610.0


def test_announcements_are_one_row_each_and_expire_on_the_store_clock(tmp_path):
    path = tmp_path / "budget.sqlite"
    store = SQLiteBudgetBackend(path)
    for i in range(200):
        store.announce("w", f"owner:{i}", 900.0)
    store.withdraw("w", "owner:7")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM budget_announcements").fetchone()[0] == 199
    assert len(store.announced("w")) == 199
    assert store.announced("w", now=store.now() + 901.0) == set()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM budget_announcements").fetchone()[0] == 0


def test_an_announcement_stamped_an_hour_ahead_lapses_within_its_ttl(tmp_path):
    store = SQLiteBudgetBackend(tmp_path / "budget.sqlite")
    now = store.now()
    store.announce("w", "foreign:5", 900.0, now=now + 3600.0)
    assert store.announced("w") == {"foreign:5"}
    assert store.announced("w", now=now + 901.0) == set()


def test_concurrent_threads_never_take_more_than_the_limit(tmp_path):
    store = SQLiteBudgetBackend(tmp_path / "budget.sqlite")
    taken: list[float] = []

    def worker() -> None:
        for _ in range(20):
            if store.take("stitch-jobs:1", 30, 600.0) == 0.0:
                taken.append(1.0)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 30
