"""One budget store per kind and location in a process: the SQLite and Redis stores are opened once and shared.

Every client of the process that names the same store gets the same backend object, so its connection,
clock anchor and caches are made once.
"""

from __future__ import annotations

import threading

from airflow_provider_stitch.api.budget import BudgetBackend, process_backend

_STORES: dict[tuple[str, str], BudgetBackend] = {}
_STORES_LOCK = threading.Lock()


def shared_backend(kind: str, location: str | None = None) -> BudgetBackend:
    """The process-wide backend of one kind and location, opened once and reused by every client.

    :param kind: ``memory``, ``sqlite`` or ``redis``.
    :param location: SQLite file path or Redis URL (ignored for memory).
    """
    if kind == "memory":
        return process_backend()
    if not location:
        raise ValueError(f"the {kind} budget backend needs a location")
    with _STORES_LOCK:
        store = _STORES.get((kind, location))
        if store is None:
            store = _open_store(kind, location)
            _STORES[(kind, location)] = store
        return store


def _open_store(kind: str, location: str) -> BudgetBackend:
    if kind == "sqlite":
        from airflow_provider_stitch.api.budget_sqlite import SQLiteBudgetBackend

        return SQLiteBudgetBackend(location)
    if kind == "redis":
        from airflow_provider_stitch.api.budget_redis import RedisBudgetBackend

        return RedisBudgetBackend(location)
    raise ValueError(f"unknown budget backend {kind!r}")


def forget_shared_backends() -> None:
    """Drop the opened SQLite and Redis backends (tests; the memory backend stays)."""
    with _STORES_LOCK:
        _STORES.clear()
