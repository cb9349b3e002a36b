"""Who waits on which Jobs rows: counted per process, announced to other processes through the store.

Each process counts its own waiters per row and announces a row once, as one member of a set in the
budget's store (O(1) to add or remove, whatever the number of waiters). Announcements expire on the
store's clock; live waiters renew theirs, a finished wait or poke withdraws its own, so nothing stale
lingers for long after the waits end.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from airflow_provider_stitch.api.jobs.snapshots import KINDS

if TYPE_CHECKING:
    from airflow_provider_stitch.api.budget import JobsBudget

logger = logging.getLogger("airflow_provider_stitch.monitor")

#: A deferred wait's announcement lasts this long on the store's clock unless renewed (seconds).
WATCHER_TTL = 900.0
#: A pending sensor poke's announcement lasts this long, so the next poke finds its row fresh (seconds).
POKE_TTL = 300.0
#: Live announcements are renewed once they are this old (seconds, this process's monotonic clock).
RENEW_AFTER = WATCHER_TTL / 3
#: Problems with the store are logged at most once per this many seconds.
STORE_PROBLEM_LOG_INTERVAL = 60.0


class WaiterRegistry:
    """The waiters of one account's Jobs lists.

    :param budget_of: returns the account's current budget (its store and key hold the announcements).
    :param lock: lock guarding :attr:`counts` (shared with the monitor that reads them).
    """

    def __init__(self, budget_of: Callable[[], JobsBudget], lock: threading.RLock | None = None) -> None:
        self._budget_of = budget_of
        self._lock = lock or threading.RLock()
        self.owner = uuid.uuid4().hex
        #: waiters of this process per kind and row.
        self.counts: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        self._announced_at: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
        self._problem_logged_at = -STORE_PROBLEM_LOG_INTERVAL

    def _key(self, kind: str) -> str:
        return f"{self._budget_of().key}:watchers:{kind}"

    def _member(self, identity: str) -> str:
        return f"{self.owner}:{identity}"

    def _store_call(self, action: str, call: Callable[[], object]) -> bool:
        """Run one best-effort store call; log a failure at a bounded rate. True when it worked."""
        try:
            call()
            return True
        except Exception as problem:  # the store is best-effort here: a lost announcement only costs speed
            now = time.monotonic()
            if now - self._problem_logged_at >= STORE_PROBLEM_LOG_INTERVAL:
                self._problem_logged_at = now
                logger.warning("could not %s the watched Jobs rows in the budget store: %s", action, problem)
            return False

    def _announce(self, kind: str, identities: Iterable[str], ttl: float) -> None:
        budget = self._budget_of()
        key, at = self._key(kind), budget.injected_now()
        for identity in identities:
            if self._store_call(
                "share", partial(budget.backend.announce, key, self._member(identity), ttl, at)
            ):
                with self._lock:
                    self._announced_at[kind][identity] = time.monotonic()

    def _withdraw(self, kind: str, identities: Iterable[str]) -> None:
        budget = self._budget_of()
        key = self._key(kind)
        for identity in identities:
            with self._lock:
                self._announced_at[kind].pop(identity, None)
            self._store_call("withdraw", partial(budget.backend.withdraw, key, self._member(identity)))

    def watch(self, kind: str, identities: Iterable[str]) -> None:
        """Count a waiter on these rows; announce the rows this process was not watching yet.

        :param kind: ``extractions`` or ``loads``.
        :param identities: the rows' identities.
        """
        new: list[str] = []
        with self._lock:
            table = self.counts[kind]
            for identity in identities:
                table[identity] = table.get(identity, 0) + 1
                if table[identity] == 1 and identity not in self._announced_at[kind]:
                    new.append(identity)
        self._announce(kind, new, WATCHER_TTL)

    def unwatch(self, kind: str, identities: Iterable[str]) -> None:
        """Forget a waiter registered with :meth:`watch`; withdraw rows no waiter of this process needs.

        :param kind: ``extractions`` or ``loads``.
        :param identities: the rows' identities.
        """
        self._withdraw(kind, self._release(kind, identities))

    def poked(self, kind: str, identities: Iterable[str], *, finished: bool) -> None:
        """End one sensor poke: withdraw its rows when the wait is over, else keep them announced briefly.

        :param kind: ``extractions`` or ``loads``.
        :param identities: the rows' identities.
        :param finished: True when the poke found its outcome.
        """
        idle = self._release(kind, identities)
        if finished:
            self._withdraw(kind, idle)
        else:
            self._announce(kind, idle, POKE_TTL)
            with self._lock:
                for identity in idle:
                    self._announced_at[kind].pop(identity, None)

    def _release(self, kind: str, identities: Iterable[str]) -> list[str]:
        idle: list[str] = []
        with self._lock:
            table = self.counts[kind]
            for identity in identities:
                count = table.get(identity, 0) - 1
                if count > 0:
                    table[identity] = count
                else:
                    table.pop(identity, None)
                    idle.append(identity)
        return idle

    def mine(self, kind: str) -> set[str]:
        """Rows this process's waiters watch."""
        with self._lock:
            return set(self.counts[kind])

    def watched(self, kind: str) -> set[str]:
        """Rows watched by this process and (while their announcement lasts) by others.

        Renews this process's announcements that are getting old, so a long wait stays visible.

        :param kind: ``extractions`` or ``loads``.
        """
        now = time.monotonic()
        with self._lock:
            mine = set(self.counts[kind])
            due = [i for i in mine if now - self._announced_at[kind].get(i, -RENEW_AFTER) >= RENEW_AFTER]
        if due:
            self._announce(kind, due, WATCHER_TTL)
        budget = self._budget_of()
        found: set[str] = set()
        key = self._key(kind)
        self._store_call("read", lambda: found.update(budget.backend.announced(key, budget.injected_now())))
        return mine | {member.partition(":")[2] for member in found}

    def active_waiters(self) -> int:
        """Waiters of this process (each counted once per watched row)."""
        with self._lock:
            return sum(sum(table.values()) for table in self.counts.values())
