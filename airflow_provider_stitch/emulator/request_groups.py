"""Which rate-limit group a request belongs to, decided by the emulator's own Jobs routes.

The client has its own endpoint table; the emulator never reads it, so what the emulator counts and
refuses is an independent check of what the client thinks it spends.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Match

from airflow_provider_stitch.emulator.routes_jobs import jobs_router
from airflow_provider_stitch.emulator.stats import JOBS, OTHER


def _matching_route(routes: list[BaseRoute], method: str, path: str) -> dict[str, str] | None:
    """The path parameters of the first route serving ``method path`` exactly, or None."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in routes:
        match, child_scope = route.matches(scope)
        if match is Match.FULL:
            return dict(child_scope.get("path_params", {}))
    return None


def classify(method: str, path: str) -> tuple[str, int | None]:
    """The group of a request (``jobs`` or ``other``) and, for a Jobs request, the client id in its path.

    :param method: HTTP method.
    :param path: request path without the query string.
    """
    params = _matching_route(jobs_router.routes, method.upper(), path)
    client = str((params or {}).get("client_id", ""))
    if params is None or not client.isdigit():
        return OTHER, None
    return JOBS, int(client)
